"""Engine outputs as readings: each with its source, its tool and where each line was found.

The engines (:mod:`capture.analysis.ocr`, :mod:`capture.analysis.speech`,
:mod:`capture.analysis.translate`) know nothing of captures; this module ties what
they return to the bytes it was read from (:class:`archive.readings.Source`) and
names the tool, version, model and settings, so a reading can be reproduced.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from archive.catalog import TextLine
from archive.readings import Reading, Source
from capture.analysis.ocr import OcrEngine, OcrResult
from capture.analysis.speech import Transcript
from capture.analysis.translate import Translator


def ocr_reading(reading_id: str, source: Source, result: OcrResult) -> Reading:
    """An OCR result of an image, a screenshot or a video frame."""
    tool = {
        "name": "tesseract",
        "version": OcrEngine.version(),
        "via": f"tesserocr {version('tesserocr')}",
        "languages": result.languages,
        "settings": result.settings,
    }
    place = _place(source)
    lines = tuple(
        TextLine("ocr", {**place, "box": list(line.box)}, line.text) for line in result.lines
    )
    return Reading(reading_id, "ocr", source, tool, result.to_json(), result.text(), lines)


def transcript_reading(reading_id: str, source: Source, transcript: Transcript) -> Reading:
    """A draft transcript of a media file's speech, segment by segment."""
    tool = {
        "name": "faster-whisper",
        "version": version("faster-whisper"),
        "model": transcript.model,
        "model_sha256": transcript.model_sha256,
        "languages": transcript.language,
        "settings": transcript.settings,
    }
    place = _place(source)
    lines = tuple(
        TextLine("transcript", {**place, "start": seg.start, "end": seg.end}, seg.text)
        for seg in transcript.segments
    )
    return Reading(
        reading_id, "transcript", source, tool, transcript.to_json(), transcript.text(), lines
    )


def translation_reading(reading_id: str, of: Reading, translator: Translator) -> Reading:
    """A machine translation of another reading, line by line, each line where it was read."""
    originals = [line for line in of.lines if line.text.strip()]
    translated = translator.translate([line.text for line in originals]) if originals else []
    model = translator.model
    tool = {
        "name": "ctranslate2",
        "version": version("ctranslate2"),
        "model": model.name,
        "model_sha256": model.sha256,
    }
    source = Source("reading", f"urn:{of.kind}:{of.source.uri}", None, reading=of.id)
    lines = tuple(
        TextLine("translation", {**line.place, "reading": of.id}, text)
        for line, text in zip(originals, translated, strict=True)
    )
    result: dict[str, Any] = {
        "of": of.id,
        "lines": [
            {"source": line.text, "translation": text}
            for line, text in zip(originals, translated, strict=True)
        ],
    }
    return Reading(reading_id, "translation", source, tool, result, "\n".join(translated), lines)


def _place(source: Source) -> dict[str, Any]:
    """Where a line is, for search hits: the source's kind, URI, file and frame offset."""
    place: dict[str, Any] = {"what": source.what, "uri": source.uri}
    if source.file:
        place["file"] = source.file
    if source.offset is not None:
        place["offset"] = source.offset
    return place
