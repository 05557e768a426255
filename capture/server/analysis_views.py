"""A sealed analysis run's readings arranged as the capture page shows them.

The results file is a flat list of readings, each naming its source. A reader
wants them by place: the screenshot's text beside the screenshot (each line with
its box, so hovering one shows the other), each page image's text under its URL,
and each video's frames and transcript beside its player (times that seek it).
Translations are readings of readings; they are shown under the lines they
translate, not as readings of their own.

Nothing here is trusted: the results came from hostile pages through OCR and
speech models. Values are kept as plain strings and numbers for autoescaped
templates; boxes are turned into percentages here, as numbers, never as text from
the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCREENSHOT = "screenshot"
IMAGE = "image"
FRAME = "video frame"
MEDIA = "media"


@dataclass(frozen=True)
class LineView:
    """One OCR line: its text, and where it was read."""

    key: str  # unique on the page, ties a line to its box
    text: str
    #: ``x,y,w,h`` in the source's pixels (a search hit names a line by it).
    rect: str | None
    #: ``(left, top, width, height)`` as percentages of the image, for the overlay.
    box: tuple[float, float, float, float] | None
    confidence: float | None
    translation: str | None = None


@dataclass(frozen=True)
class OcrView:
    reading_id: str
    tool: dict[str, Any]
    uri: str
    file: str | None
    offset: float | None
    lines: list[LineView]
    translation_tool: dict[str, Any] | None = None


@dataclass(frozen=True)
class SegmentView:
    start: float
    end: float
    text: str
    translation: str | None = None

    @property
    def clock(self) -> str:
        return f"{clock(self.start)}–{clock(self.end)}"


@dataclass(frozen=True)
class TranscriptView:
    reading_id: str
    tool: dict[str, Any]
    language: str | None
    segments: list[SegmentView]
    translation_tool: dict[str, Any] | None = None


@dataclass
class MediaView:
    """One sealed media file of the capture, with what was read from it."""

    file: str
    uri: str
    player: str  # the id of its <video> on the page
    frames: list[OcrView] = field(default_factory=list)
    transcripts: list[TranscriptView] = field(default_factory=list)


@dataclass
class ReadingsView:
    screenshot: list[OcrView] = field(default_factory=list)
    images: list[OcrView] = field(default_factory=list)
    media: list[MediaView] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.screenshot or self.images or self.media)


def clock(seconds: float) -> str:
    """``01:23`` (or ``1:02:03``): how people read a time in a video."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def readings_view(number: int, readings: list[dict[str, Any]]) -> ReadingsView:
    """The run's readings by place; ``number`` keeps keys unique across runs on one page."""
    translations = _translations(readings)
    view = ReadingsView()
    media: dict[str, MediaView] = {}
    for reading in readings:
        source = _dict(reading.get("source"))
        what = source.get("what")
        kind = reading.get("kind")
        if kind == "ocr":
            ocr = _ocr(number, reading, source, translations.get(str(reading.get("id"))))
            if what == SCREENSHOT:
                view.screenshot.append(ocr)
            elif what == FRAME:
                _media(media, number, source).frames.append(ocr)
            else:
                view.images.append(ocr)
        elif kind == "transcript":
            transcript = _transcript(reading, translations.get(str(reading.get("id"))))
            _media(media, number, source).transcripts.append(transcript)
    for item in media.values():
        item.frames.sort(key=lambda f: f.offset or 0.0)
    view.media = list(media.values())
    return view


Translation = tuple[dict[str, Any], list[tuple[str, str]]]


def _translations(readings: list[dict[str, Any]]) -> dict[str, Translation]:
    """Each translated reading's id, with the translation's tool and (source, text) pairs."""
    found: dict[str, Translation] = {}
    for reading in readings:
        if reading.get("kind") != "translation":
            continue
        result = _dict(reading.get("result"))
        pairs = [
            (str(_dict(line).get("source", "")), str(_dict(line).get("translation", "")))
            for line in _list(result.get("lines"))
        ]
        found[str(result.get("of"))] = (_dict(reading.get("tool")), pairs)
    return found


class _Pairing:
    """Hands out translations to the lines they were made from, in order.

    Translations were made of the non-empty lines, in order; a line whose text is
    not the next pair's source falls back to a lookup by text, so a mismatch shows
    nothing rather than the wrong translation.
    """

    def __init__(self, translation: Translation | None) -> None:
        self.pairs = list(translation[1]) if translation else []
        self.by_text = dict(self.pairs)

    def take(self, text: str) -> str | None:
        if not text.strip() or not self.by_text:
            return None
        if self.pairs and self.pairs[0][0] == text:
            return self.pairs.pop(0)[1]
        return self.by_text.get(text)


def _ocr(
    number: int, reading: dict[str, Any], source: dict[str, Any], translation: Translation | None
) -> OcrView:
    result = _dict(reading.get("result"))
    width, height = _number(result.get("width")), _number(result.get("height"))
    reading_id = str(reading.get("id", "ocr"))
    pairing = _Pairing(translation)
    lines = []
    for index, line in enumerate(_list(result.get("lines"))):
        line = _dict(line)
        text = str(line.get("text", ""))
        box = _box(line.get("box"))
        lines.append(
            LineView(
                key=f"a{number}-{reading_id}-{index}",
                text=text,
                rect=",".join(str(int(v)) for v in box) if box else None,
                box=_percent(box, width, height) if box else None,
                confidence=_number(line.get("confidence")),
                translation=pairing.take(text),
            )
        )
    return OcrView(
        reading_id=reading_id,
        tool=_dict(reading.get("tool")),
        uri=str(source.get("uri", "")),
        file=_text(source.get("file")),
        offset=_number(source.get("offset")),
        lines=lines,
        translation_tool=translation[0] if translation else None,
    )


def _transcript(reading: dict[str, Any], translation: Translation | None) -> TranscriptView:
    result = _dict(reading.get("result"))
    pairing = _Pairing(translation)
    segments = []
    for segment in _list(result.get("segments")):
        segment = _dict(segment)
        text = str(segment.get("text", ""))
        segments.append(
            SegmentView(
                start=_number(segment.get("start")) or 0.0,
                end=_number(segment.get("end")) or 0.0,
                text=text,
                translation=pairing.take(text),
            )
        )
    tool = _dict(reading.get("tool"))
    return TranscriptView(
        reading_id=str(reading.get("id", "transcript")),
        tool=tool,
        language=_text(result.get("language")) or _text(tool.get("languages")),
        segments=segments,
        translation_tool=translation[0] if translation else None,
    )


def _media(found: dict[str, MediaView], number: int, source: dict[str, Any]) -> MediaView:
    name = str(source.get("file") or source.get("uri") or "media")
    if name not in found:
        player = f"a{number}-player-{len(found) + 1}"
        found[name] = MediaView(file=name, uri=str(source.get("uri", "")), player=player)
    return found[name]


def _box(value: object) -> tuple[float, float, float, float] | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    numbers = [_number(v) for v in value]
    if any(n is None for n in numbers):
        return None
    x, y, w, h = (float(n) for n in numbers if n is not None)
    return x, y, w, h


def _percent(
    box: tuple[float, float, float, float], width: float | None, height: float | None
) -> tuple[float, float, float, float] | None:
    """A pixel box as percentages of the image, clamped to it, to three decimals."""
    if not width or not height:
        return None
    x, y, w, h = box

    def clamp(value: float) -> float:
        return round(min(100.0, max(0.0, value)), 3)

    return (
        clamp(x / width * 100),
        clamp(y / height * 100),
        clamp(w / width * 100),
        clamp(h / height * 100),
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
