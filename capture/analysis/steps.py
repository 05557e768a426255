"""The three steps of an analysis run: OCR, transcripts, translations.

Each step reads its sources one at a time and never raises for one bad source: a
source that cannot be read is a reason naming it (the run still seals what was
read). Only a capture whose sealed files no longer match their hashes stops the run
(:class:`capture.analysis.sources.SourceError`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from archive.evidence.addendum import Step
from archive.readings import Reading, Source
from capture.analysis.engines import Engines
from capture.analysis.frames import FrameError, keyframes
from capture.analysis.ocr import OcrError
from capture.analysis.options import AnalysisOptions
from capture.analysis.readers import ocr_reading, transcript_reading, translation_reading
from capture.analysis.sources import CaptureSources
from capture.progress_events import Progress, ReadingTaken

log = logging.getLogger(__name__)


@dataclass
class Collected:
    """What the steps of one run produced: readings, how each step went, what failed."""

    readings: list[Reading] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def next_id(self, kind: str) -> str:
        return f"{kind}-{sum(1 for r in self.readings if r.kind == kind) + 1}"


@dataclass
class _Tally:
    read: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    def step(self, name: str) -> Step:
        if self.read == 0 and self.failed == 0:
            status = "skipped" if self.notes else "done"
        elif self.failed == 0:
            status = "done"
        else:
            status = "partial" if self.read else "failed"
        return Step(name, status, self.read, self.failed, tuple(self.notes))


def ocr_step(
    sources: CaptureSources,
    options: AnalysisOptions,
    engines: Engines,
    collected: Collected,
    scratch: Path,
    progress: Progress,
) -> None:
    """Read the page's images, the full-page screenshot and video keyframes."""
    tally = _Tally()
    try:
        engine = engines.ocr(options.languages)
    except OcrError as exc:
        collected.reasons.append(f"OCR could not start: {exc}")
        collected.steps.append(Step("ocr", "failed", 0, 1, ()))
        return

    def read(source: Source, image: Image.Image) -> None:
        progress(ReadingTaken("ocr", source.what, source.uri))
        try:
            result = engine.read(image)
        except Exception as exc:  # one unreadable image must not end the run
            log.exception("OCR of %s failed", source.uri)
            tally.failed += 1
            collected.reasons.append(f"OCR of the {source.what} {source.uri} failed: {exc}")
            return
        tally.read += 1
        collected.readings.append(ocr_reading(collected.next_id("ocr"), source, result))

    def read_file(source: Source, path: Path) -> None:
        try:
            with Image.open(path) as image:
                image.load()
                read(source, image)
        except (OSError, Image.DecompressionBombError) as exc:
            tally.failed += 1
            collected.reasons.append(f"the {source.what} in {path.name} is not decodable: {exc}")

    for source, image in sources.images():
        read(source, image)
    tally.notes.extend(sources.skipped)
    screenshot = sources.screenshot()
    if screenshot is not None:
        read_file(*screenshot)
    for media, path in sources.media():
        _read_frames(media, path, engines, scratch, tally, read_file)
    collected.steps.append(tally.step("ocr"))


def _read_frames(
    media: Source,
    path: Path,
    engines: Engines,
    scratch: Path,
    tally: _Tally,
    read_file: Callable[[Source, Path], None],
) -> None:
    settings = engines.settings
    try:
        selection = keyframes(
            path,
            scratch,
            every=settings.frame_every,
            scene=settings.frame_scene,
            max_frames=settings.max_frames,
        )
    except FrameError as exc:
        tally.notes.append(f"no frames read from {media.file}: {exc}")
        return
    if selection.dropped:
        tally.notes.append(
            f"{media.file}: {selection.dropped} keyframe(s) over the limit of"
            f" {settings.max_frames} were not read (the rest are spread over the whole video)"
        )
    for frame in selection.frames:
        source = Source(
            "video frame", media.uri, media.sha256, media.record_id, media.file, frame.offset
        )
        read_file(source, frame.path)
        frame.path.unlink(missing_ok=True)


def transcribe_step(
    sources: CaptureSources,
    options: AnalysisOptions,
    engines: Engines,
    collected: Collected,
    progress: Progress,
) -> None:
    """A draft transcript of every downloaded audio or video file."""
    tally = _Tally()
    media = sources.media()
    if not media:
        tally.notes.append("the capture holds no downloaded audio or video")
    for source, path in media:
        progress(ReadingTaken("transcribe", "media", source.uri))
        try:
            transcript = engines.transcriber().transcribe(
                path,
                language=options.language,
                seconds_per_audio_minute=engines.settings.seconds_per_audio_minute,
            )
        except Exception as exc:  # the model refused, or the file has no audio
            tally.failed += 1
            collected.reasons.append(f"transcript of {source.file} failed: {exc}")
            continue
        tally.read += 1
        if transcript.note:
            tally.notes.append(f"{source.file}: {transcript.note}")
        reading_id = collected.next_id("transcript")
        collected.readings.append(transcript_reading(reading_id, source, transcript))
    collected.steps.append(tally.step("transcribe"))


def translate_step(engines: Engines, collected: Collected, progress: Progress) -> None:
    """Translate every OCR text and transcript with the operator's model, if there is one."""
    tally = _Tally()
    try:
        translator = engines.translator()
    except Exception as exc:
        collected.reasons.append(f"translation model could not be loaded: {exc}")
        collected.steps.append(Step("translate", "failed", 0, 1, ()))
        return
    if translator is None:
        tally.notes.append(
            "skipped: no translation model configured (--translation-model DIR); see"
            " docs/analysis.md"
        )
        collected.steps.append(tally.step("translate"))
        return
    for reading in [r for r in collected.readings if r.kind in ("ocr", "transcript")]:
        if not reading.text.strip():
            continue
        progress(ReadingTaken("translate", reading.id, reading.source.uri))
        try:
            translated = translation_reading(collected.next_id("translation"), reading, translator)
        except Exception as exc:
            tally.failed += 1
            collected.reasons.append(f"translation of {reading.id} failed: {exc}")
            continue
        tally.read += 1
        collected.readings.append(translated)
    collected.steps.append(tally.step("translate"))
