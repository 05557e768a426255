"""The engines an analysis worker reads with, loaded once and kept.

Loading is the slow part (tesseract's models, the speech model), so each analysis
worker keeps its own :class:`Engines` for its lifetime. None of them is shared
between threads: tesseract's API object is not thread-safe, and one worker runs
one reading at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.datadir import MODELS_DIR
from capture.analysis.frames import DEFAULT_EVERY, DEFAULT_MAX_FRAMES, DEFAULT_SCENE
from capture.analysis.ocr import OcrEngine
from capture.analysis.speech import Transcriber
from capture.analysis.translate import Translator, load_translation_model
from capture.analysis.whisper_model import pinned_whisper

ENV_MODELS = "OSINT_CAPTURE_MODELS"
#: Wall time a transcript may take per minute of audio before it is cut (and says so).
SECONDS_PER_AUDIO_MINUTE = 60.0


@dataclass(frozen=True)
class AnalysisSettings:
    """Where models live and the limits of each reading; the server's and the CLI's."""

    models_dir: Path
    translation_model: Path | None = None
    frame_every: float = DEFAULT_EVERY
    frame_scene: float = DEFAULT_SCENE
    max_frames: int = DEFAULT_MAX_FRAMES
    seconds_per_audio_minute: float = SECONDS_PER_AUDIO_MINUTE

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, *, translation_model: Path | None = None
    ) -> AnalysisSettings:
        return cls(Path(data_dir) / MODELS_DIR, translation_model=translation_model)


class Engines:
    """One worker's engines, each loaded on first use."""

    def __init__(self, settings: AnalysisSettings) -> None:
        self.settings = settings
        self._ocr: dict[str, OcrEngine] = {}
        self._transcriber: Transcriber | None = None
        self._translator: Translator | None = None

    def ocr(self, languages: str) -> OcrEngine:
        if languages not in self._ocr:
            self._ocr[languages] = OcrEngine(languages)
        return self._ocr[languages]

    def transcriber(self) -> Transcriber:
        """The pinned speech model, its files checked against the hashes in the code."""
        if self._transcriber is None:
            self._transcriber = Transcriber(pinned_whisper(self.settings.models_dir))
        return self._transcriber

    def translator(self) -> Translator | None:
        """The operator's translation model, or ``None`` when none is configured."""
        if self.settings.translation_model is None:
            return None
        if self._translator is None:
            self._translator = load_translation_model(self.settings.translation_model)
        return self._translator

    def close(self) -> None:
        for engine in self._ocr.values():
            engine.close()
        self._ocr.clear()
        self._transcriber = None
        self._translator = None
