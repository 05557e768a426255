"""Machine drafts of what is said in captured audio and video, with the pinned Whisper model.

A transcript helps a person find the moment that matters and read along; it is never
evidence itself. The base model is weak on dialectal Arabic and on place names, so every
transcript says it is a machine draft, names the exact model (and its hash) and the
settings that made it, and carries the model's own confidence for each segment.

Choices, and why:

- The language is forced when the caller knows it: automatic detection guessed wrongly on
  short test audio, and one wrong guess turns a whole recording into a bad translation.
- ``condition_on_previous_text=False``: conditioning on earlier output lets one mistake
  repeat for the rest of a recording (the known Whisper loop).
- ``vad_filter=True``: silence and music are where Whisper invents text; voice activity
  detection (the Silero model shipped inside faster-whisper) leaves them out.
- Beam size 5 (Whisper's own default): greedy decoding made more word errors for little
  time saved (docs/analysis.md).
- Temperature 0 only, no sampling fallback: the same file and settings give the same
  draft, so someone checking a report can reproduce it.
- Compute is bounded: a long recording stops at a time budget proportional to its
  length, and the transcript says it is incomplete and how far it got.

A file without an audio stream is not an error (screen recordings and GIF-like videos have
none): it gives an empty, complete transcript whose note says so. A file that cannot be
read at all raises TranscriptionError naming it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

# Defensive: nothing here may reach a model hub. The model is always a local directory,
# but huggingface_hub reads this when faster_whisper imports it.
os.environ["HF_HUB_OFFLINE"] = "1"

import av
import ctranslate2
import faster_whisper
import numpy as np
from faster_whisper.audio import decode_audio

from archive.errors import Failed
from capture.analysis.whisper_model import PinnedModel

#: Whisper's own default; see the module docstring.
BEAM_SIZE = 5
#: Whisper models take 16 kHz mono.
SAMPLING_RATE = 16_000
#: However short the audio, allow this much compute before stopping (model warm-up,
#: voice activity detection and the first 30 s window all come before the first segment).
MIN_TIME_BOUND_S = 30.0


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: seconds from the start of the audio, the text, and the model's
    own confidence (mean log-probability of its tokens; probability that it is not speech)."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


@dataclass(frozen=True)
class Transcript:
    """What the model heard in one file, with everything needed to say how."""

    segments: tuple[Segment, ...]
    language: str
    language_probability: float | None
    forced_language: bool
    duration: float
    model: str
    model_sha256: str
    settings: dict[str, object] = field(default_factory=dict)
    complete: bool = True
    note: str | None = None

    def text(self) -> str:
        """The segments' text, one segment per line."""
        return "\n".join(segment.text for segment in self.segments)

    def to_json(self) -> dict[str, object]:
        """A stable JSON form: fixed keys in a fixed order, times rounded to 10 ms (Whisper's
        timestamps come in 20 ms steps) and probabilities to four places."""
        return {
            "machine_draft": True,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "language": self.language,
            "language_probability": _round(self.language_probability, 4),
            "forced_language": self.forced_language,
            "duration": round(self.duration, 2),
            "complete": self.complete,
            "note": self.note,
            "settings": dict(self.settings),
            "segments": [
                {
                    "start": round(segment.start, 2),
                    "end": round(segment.end, 2),
                    "text": segment.text,
                    "avg_logprob": round(segment.avg_logprob, 4),
                    "no_speech_prob": round(segment.no_speech_prob, 4),
                }
                for segment in self.segments
            ],
        }


class TranscriptionError(Failed):
    """A file could not be transcribed: the message names it and says what went wrong."""


def _within_omp_limit(threads: int) -> int:
    """``threads``, but no more than ``$OMP_THREAD_LIMIT``.

    Measured here: with ``OMP_THREAD_LIMIT=1`` (which the OCR engine sets for tesseract,
    process-wide) and CTranslate2 asked for 2 threads, Whisper returned an *empty*
    transcript for clear speech, without an error. Within the limit it reads normally.
    """
    limit = os.environ.get("OMP_THREAD_LIMIT", "")
    return min(threads, int(limit)) if limit.isdigit() and int(limit) > 0 else threads


class Transcriber:
    """The pinned Whisper model, loaded once and kept loaded for many files."""

    def __init__(self, model: PinnedModel, *, cpu_threads: int = 1) -> None:
        self.model = model
        self.cpu_threads = _within_omp_limit(cpu_threads)
        # A local directory: faster-whisper loads it as is and never looks for a download.
        self._whisper = faster_whisper.WhisperModel(
            str(model.path),
            device="cpu",
            compute_type="int8",
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )

    def transcribe(
        self,
        media: Path,
        *,
        language: str | None = None,
        seconds_per_audio_minute: float = 60.0,
        min_seconds: float = MIN_TIME_BOUND_S,
    ) -> Transcript:
        """Transcribe the first audio stream of ``media`` (audio or video).

        Compute stops once it has taken more than ``seconds_per_audio_minute`` for each
        minute of audio (at least ``min_seconds``); the check runs between segments, so a
        single 30 s window may overrun it."""
        media = Path(media)
        started = time.monotonic()
        audio = _decode(media)
        duration = len(audio) / SAMPLING_RATE if audio is not None else 0.0
        bound = max(min_seconds, seconds_per_audio_minute * duration / 60.0)
        settings = self._settings(language, seconds_per_audio_minute, bound)
        draft = _Draft(self.model, language, duration, settings)
        if audio is None:
            return draft.finish(note="no audio stream in the file: nothing to transcribe")
        try:
            segments, info = self._whisper.transcribe(
                audio,
                language=language,
                task="transcribe",
                beam_size=BEAM_SIZE,
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=True,
            )
            if info.duration_after_vad <= 0:
                return draft.finish(note=f"no speech found in {duration:.1f} s of audio")
            draft.detected(info.language, info.language_probability)
            for segment in segments:
                draft.add(segment)
                if time.monotonic() - started > bound and segment.end < duration - 0.5:
                    segments.close()
                    return draft.finish(
                        complete=False,
                        note=f"stopped at the time bound ({bound:.1f} s of compute): "
                        f"transcribed up to {segment.end:.1f} s of {duration:.1f} s",
                    )
        except (RuntimeError, ValueError) as error:
            raise TranscriptionError(f"{media}: the model failed: {error}") from error
        note = None if draft.segments else f"no speech found in {duration:.1f} s of audio"
        return draft.finish(note=note)

    def _settings(
        self, language: str | None, seconds_per_audio_minute: float, bound: float
    ) -> dict[str, object]:
        """Everything that shapes the draft, recorded with it."""
        return {
            "task": "transcribe",
            "language": language,
            "beam_size": BEAM_SIZE,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "vad_filter": True,
            "device": "cpu",
            "compute_type": "int8",
            "cpu_threads": self.cpu_threads,
            "seconds_per_audio_minute": seconds_per_audio_minute,
            "time_bound_s": round(bound, 1),
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        }


class _Draft:
    """Collects segments as the generator yields them, so stopping early keeps them."""

    def __init__(
        self, model: PinnedModel, language: str | None, duration: float, settings: dict
    ) -> None:
        self.model = model
        self.forced = language is not None
        #: Forced, detected, or "" when no speech was found to detect it from.
        self.language = language or ""
        self.probability: float | None = None
        self.duration = duration
        self.settings = settings
        self.segments: list[Segment] = []

    def detected(self, language: str, probability: float) -> None:
        """Record the language; a forced one has no probability (faster-whisper says 1)."""
        self.language = language
        self.probability = None if self.forced else float(probability)

    def add(self, segment: faster_whisper.transcribe.Segment) -> None:
        text = segment.text.strip()
        if text:
            self.segments.append(
                Segment(
                    start=float(segment.start),
                    end=float(segment.end),
                    text=text,
                    avg_logprob=float(segment.avg_logprob),
                    no_speech_prob=float(segment.no_speech_prob),
                )
            )

    def finish(self, *, complete: bool = True, note: str | None = None) -> Transcript:
        return Transcript(
            segments=tuple(self.segments),
            language=self.language,
            language_probability=self.probability,
            forced_language=self.forced,
            duration=self.duration,
            model=self.model.name,
            model_sha256=self.model.sha256,
            settings=self.settings,
            complete=complete,
            note=note,
        )


def _decode(media: Path) -> np.ndarray | None:
    """The first audio stream as 16 kHz mono float32, or None when the file has none.

    Decoded whole into memory as faster-whisper does (about 230 MB per hour of audio)."""
    if not media.is_file():
        raise TranscriptionError(f"{media}: no such file")
    try:
        with av.open(str(media), metadata_errors="ignore") as container:
            has_audio = bool(container.streams.audio)
        if not has_audio:
            return None
        return decode_audio(str(media), sampling_rate=SAMPLING_RATE)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise TranscriptionError(f"{media}: cannot decode the audio: {error}") from error


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)
