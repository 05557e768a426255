"""Machine readings of evidence (OCR, transcripts, translations) as records and files.

A reading is derived from one source inside a sealed capture: the full-page
screenshot, an image the page loaded, a frame of a downloaded video, a video's audio,
or another reading (a translation). It carries the tool, version, model and settings
that made it, and points at its source by WARC record id, URI and SHA-256 (and time
offset, for a frame), so anyone can take the source bytes and read them again.

Each reading becomes one ``resource`` record of the run's analysis WARC
(``urn:ocr:``, ``urn:transcript:``, ``urn:translation:`` + the source's URI, JSON),
with ``WARC-Refers-To`` the source record, and the whole run one JSON results file.
Both say they are machine drafts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archive.catalog import TextLine
from archive.evidence.addendum import MACHINE_DRAFT_NOTICE
from archive.records import Payload, resource_record, warc_date, warcinfo_record

READING_KINDS = ("ocr", "transcript", "translation")


@dataclass(frozen=True)
class Source:
    """What a reading was made from, precisely enough to find those bytes again."""

    what: str  # screenshot | image | video frame | media | reading
    uri: str
    sha256: str | None
    record_id: str | None = None
    #: The sealed file of the capture holding the bytes (screenshot.png, media-1.mp4).
    file: str | None = None
    #: Seconds from the start of the media, for a video frame.
    offset: float | None = None
    #: The reading this one was made from (a translation's source).
    reading: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass(frozen=True)
class Reading:
    """One machine reading of one source."""

    id: str  # ocr-1, transcript-1, translation-1: unique within the run
    kind: str
    source: Source
    tool: dict[str, Any]
    result: dict[str, Any]
    text: str
    #: The lines or segments of the text, each with where in the source it was found.
    lines: tuple[TextLine, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in READING_KINDS:
            raise ValueError(f"reading kind must be one of {READING_KINDS}, not {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "machine_draft": True,
            "source": self.source.to_dict(),
            "tool": self.tool,
            "text": self.text,
            "result": self.result,
        }

    def record(self, *, taken_at: datetime) -> ArcWarcRecord:
        """The reading as a WARC ``resource`` record pointing at its source record."""
        body = (json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        extra = [("X-Osint-Derived", self.description())]
        if self.source.record_id:
            extra.append(("WARC-Refers-To", self.source.record_id))
        extra.append(("WARC-Refers-To-Target-URI", self.source.uri))
        if self.source.sha256:
            extra.append(("X-Osint-Source-SHA256", f"sha256:{self.source.sha256}"))
        if self.source.offset is not None:
            extra.append(("X-Osint-Source-Offset", f"{self.source.offset:.3f}s"))
        extra.extend(_tool_headers(self.tool))
        extra.append(("X-Osint-Machine-Draft", "true"))
        return resource_record(
            f"urn:{self.kind}:{self.source.uri}",
            content_type="application/json",
            payload=Payload(body),
            date=taken_at,
            extra=extra,
        )

    def description(self) -> str:
        what = {"ocr": "OCR", "transcript": "transcript", "translation": "translation"}[self.kind]
        where = f" at {self.source.offset:.1f} s" if self.source.offset is not None else ""
        return f"machine draft: {what} of the {self.source.what}{where} by {tool_label(self.tool)}"


def place_label(kind: str, place: dict[str, Any]) -> str:
    """Where a line was read, for people: "OCR of the screenshot, at x 10, y 240" or
    "transcript of media-1.mp4, 01:23-01:27"."""
    what = {"ocr": "OCR", "transcript": "transcript", "translation": "translation"}.get(kind, kind)
    source = place.get("file") or place.get("uri") or "?"
    if place.get("what") == "image":
        source = f"the image {place.get('uri')}"
    elif place.get("what") == "screenshot":
        source = "the full-page screenshot"
    label = f"{what} of {source}"
    if place.get("offset") is not None:
        label += f", frame at {_clock(float(place['offset']))}"
    if place.get("box"):
        x, y, width, height = place["box"]
        label += f", at x {x}, y {y} ({width}×{height} px)"
    if place.get("start") is not None:
        label += f", {_clock(float(place['start']))}–{_clock(float(place.get('end') or 0))}"
    return label


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def tool_label(tool: dict[str, Any]) -> str:
    """``tesseract 5.5.4 (ara+eng)``, ``faster-whisper 1.2.1, whisper-base``: for people."""
    label = " ".join(str(tool[key]) for key in ("name", "version") if tool.get(key))
    if tool.get("model"):
        label += f", {tool['model']}"
    if tool.get("languages"):
        label += f" ({tool['languages']})"
    return label


def _tool_headers(tool: dict[str, Any]) -> list[tuple[str, str]]:
    headers = [("X-Osint-Tool", tool_label(tool))]
    if tool.get("model"):
        headers.append(("X-Osint-Model", str(tool["model"])))
    if tool.get("model_sha256"):
        headers.append(("X-Osint-Model-SHA256", f"sha256:{tool['model_sha256']}"))
    if tool.get("languages"):
        headers.append(("X-Osint-Languages", str(tool["languages"])))
    if tool.get("settings"):
        headers.append(("X-Osint-Settings", json.dumps(tool["settings"], sort_keys=True)))
    return headers


def analysis_warcinfo(
    filename: str, *, capture_id: str, number: int, manifest_sha256: str, software: str
) -> ArcWarcRecord:
    """The analysis WARC's first record: which capture it reads, and that it is drafts."""
    return warcinfo_record(
        filename,
        [
            ("software", software),
            ("format", "WARC File Format 1.1"),
            ("capture-id", capture_id),
            ("analysis", str(number)),
            ("capture-manifest-sha256", manifest_sha256),
            ("description", MACHINE_DRAFT_NOTICE),
            ("written-at", warc_date()),
            ("clock", "system clock, UTC"),
        ],
    )


def results_document(capture_id: str, number: int, readings: Sequence[Reading]) -> bytes:
    """The run's readings as one JSON document (the same content as the WARC records)."""
    document = {
        "capture": capture_id,
        "analysis": number,
        "machine_draft": True,
        "notice": MACHINE_DRAFT_NOTICE,
        "readings": [reading.to_dict() for reading in readings],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def text_lines(readings: Iterable[Reading]) -> list[TextLine]:
    """Every line of every reading, with its place, for the search index."""
    return [line for reading in readings for line in reading.lines]
