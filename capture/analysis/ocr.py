"""OCR: a machine draft of the text in an image, with where each line and word is.

What the evidence *says* helps people find and read it; what OCR returns is never
evidence itself, only a draft beside the image it came from (docs/analysis.md).

Tesseract (through tesserocr, which keeps the models loaded between images) reads
Debian's ``ara`` and ``eng`` models. Three things it gets wrong on screenshots are
handled here:

* **Rows taken for noise.** Tesseract's row-level noise filter drops whole Arabic lines
  of banner-sized text (many dots beside long joined strokes) at some sizes and not
  others: the same line is read perfectly at one scale and as nothing 5% larger. It is
  turned off (``textord_noise_rejrows``).
* **Text size.** Footnote-sized and banner-sized lines read worse than body text. A
  first reading gives each line's height; the bands holding lines outside
  :data:`GOOD_LINE_HEIGHTS` are read again resampled towards :data:`TARGET_LINE_HEIGHT`,
  and each region keeps whichever reading has more confidently read characters.
* **Noise.** Scans and photos of paper are read again despeckled
  (:func:`~capture.analysis.imaging.denoised`) when the first reading is unsure.

Tall images are read in overlapping tiles; every box is in the source image's pixels.
"""

from __future__ import annotations

import os

# Tesseract's LSTM uses OpenMP; with more than one thread the same page took five times
# longer (threads spin against each other and against the capture's other work). It reads
# the variable when the library loads, so it must be set before tesserocr is imported.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from types import TracebackType

import tesserocr
from PIL import Image

from archive.errors import Failed
from capture.analysis import imaging
from capture.analysis.imaging import Box

DEFAULT_LANGUAGES = "ara+eng"
DEBIAN_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
#: The smallest image worth reading. One line of the smallest text people read on
#: screen (about 10 px) with a few words is some 120 px wide and, with margins, 20 px
#: tall; below that an image is an icon, a bullet, a spacer or an avatar, and tesseract
#: reads noise in it.
MIN_IMAGE_WIDTH = 120
MIN_IMAGE_HEIGHT = 20
#: Line heights (tesseract's line boxes, in px) read well as they are: body text of 14-24 px
#: fonts gives boxes of 15-30 px. Lines outside are read again resampled towards
#: TARGET_LINE_HEIGHT (footnotes upscaled, banners shrunk).
GOOD_LINE_HEIGHTS = (15, 56)
TARGET_LINE_HEIGHT = 32
#: Scales are rounded to steps of this, so lines of similar size share one reading.
SCALE_STEP = 0.25
MIN_SCALE, MAX_SCALE = 0.25, 2.5
#: At most this many resampled readings per tile (the scales most characters want).
MAX_EXTRA_SCALES = 2
#: Below this mean word confidence (or with nothing found) a tile is read again, despeckled
#: and in grey.
UNSURE_CONFIDENCE = 85.0
#: Words less confident than this are dropped: at these confidences tesseract is
#: reading texture (photo backgrounds, dots of a halftone), not letters.
MIN_WORD_CONFIDENCE = 30.0
#: Images narrower than this (video frames, small posts) get their grey second reading at
#: twice the size: a 640x360 frame's banner lost in colour over a busy background was
#: read whole in grey at 2x (docs/analysis.md).
SMALL_IMAGE_WIDTH = 1000

#: Direction marks tesseract puts around Latin words in right-to-left text. They are
#: invisible, break search for the word, and say nothing the boxes do not.
_BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")


class OcrError(Failed):
    """OCR cannot run: a missing language model or tesseract data directory."""


@dataclass(frozen=True)
class Word:
    text: str
    box: Box  # x, y, width, height in source pixels
    confidence: float  # 0-100, as tesseract reports it


@dataclass(frozen=True)
class Line:
    text: str
    box: Box
    confidence: float  # mean of the words' confidences
    words: tuple[Word, ...]  # in reading order (right to left for Arabic lines)


@dataclass(frozen=True)
class OcrResult:
    """What was read from one image, and how (``settings``), for the record beside it."""

    lines: tuple[Line, ...]
    languages: str
    width: int
    height: int
    settings: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        """The lines in reading order, one per line."""
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict:
        """A stable JSON form (keys and order fixed) for derived records and the API."""
        return {
            "languages": self.languages,
            "width": self.width,
            "height": self.height,
            "settings": dict(self.settings),
            "lines": [
                {
                    "text": line.text,
                    "box": list(line.box),
                    "confidence": round(line.confidence, 1),
                    "words": [
                        {"text": w.text, "box": list(w.box), "confidence": round(w.confidence, 1)}
                        for w in line.words
                    ],
                }
                for line in self.lines
            ],
        }


def worth_reading(width: int, height: int) -> bool:
    """Whether an image is big enough to hold a line of text (icons and spacers are not)."""
    return width >= MIN_IMAGE_WIDTH and height >= MIN_IMAGE_HEIGHT


def tessdata_dir(configured: Path | None = None) -> Path:
    """Where the models are: the argument, else ``$TESSDATA_PREFIX``, else Debian's."""
    if configured is not None:
        return configured
    prefix = os.environ.get("TESSDATA_PREFIX")
    return Path(prefix) if prefix else DEBIAN_TESSDATA


class OcrEngine:
    """Tesseract with the models loaded once, reading images into :class:`OcrResult`.

    Not thread-safe: one engine is used from one thread at a time. Reading blocks for a
    fraction of a second to seconds, so async callers run :meth:`read` in a worker thread
    (one engine per worker).
    """

    def __init__(self, languages: str = DEFAULT_LANGUAGES, *, tessdata: Path | None = None) -> None:
        self.languages = languages
        self.tessdata = tessdata_dir(tessdata)
        _check_languages(languages, self.tessdata)
        tesserocr.set_leptonica_log_level(tesserocr.LeptLogLevel.NONE)
        try:
            self._api = tesserocr.PyTessBaseAPI(
                path=f"{self.tessdata}/", lang=languages, psm=tesserocr.PSM.AUTO
            )
        except RuntimeError as error:
            raise OcrError(
                f"tesseract could not load {languages!r} from {self.tessdata}: {error}"
            ) from error
        self._api.SetVariable("textord_noise_rejrows", "0")

    @staticmethod
    def version() -> str:
        """``tesseract 5.5.4``: recorded with results, as a reading depends on it."""
        return "tesseract " + tesserocr.tesseract_version().split()[1]

    def read(self, image: Image.Image) -> OcrResult:
        """Read ``image`` (any size or mode); tall images are read in tiles."""
        rgb = imaging.opaque_rgb(image)
        lines: list[Line] = []
        tile_settings = []
        for tile in imaging.tiles(rgb.height):
            crop = rgb.crop((0, tile.top, rgb.width, tile.bottom))
            found, used = self._read_tile(crop, tile.top)
            lines.extend(line for line in found if tile.owns(line.box))
            tile_settings.append({"top": tile.top, "bottom": tile.bottom, **used})
        settings = {
            "engine": self.version(),
            "tile_height": imaging.TILE_HEIGHT,
            "tile_overlap": imaging.TILE_OVERLAP,
            "target_line_height": TARGET_LINE_HEIGHT,
            "tiles": tile_settings,
        }
        return OcrResult(
            tuple(_reading_order(lines)), self.languages, rgb.width, rgb.height, settings
        )

    def _read_tile(self, tile: Image.Image, top: int) -> tuple[list[Line], dict[str, object]]:
        """All readings of one tile, merged region by region; and what was tried."""
        first = self._read_at(tile, 1.0, top)
        readings = [first]
        wanted = _scales_wanted(first)
        for scale, boxes in wanted.items():
            in_tile = [(x, y - top, w, h) for x, y, w, h in boxes]
            readings.extend(self._read_bands(tile, in_tile, scale, top))
        scales = sorted(wanted)
        confidence = _mean_confidence(first)
        unsure = not first or confidence < UNSURE_CONFIDENCE
        grey_scale = 2.0 if tile.width < SMALL_IMAGE_WIDTH else 1.0
        if unsure:
            readings.append(self._read_at(imaging.denoised(tile), 1.0, top))
            readings.append(self._read_at(imaging.grey(tile), grey_scale, top))
        kept = _best_per_region([line for reading in readings for line in reading])
        used = {
            "scales": [1.0, *scales],
            "upscaled": any(s > 1 for s in scales) or (unsure and grey_scale > 1),
            "denoised": unsure,
            "grey": f"{grey_scale:g}x" if unsure else None,
            "first_confidence": round(confidence, 1),
        }
        return kept, used

    def _read_bands(
        self, tile: Image.Image, boxes: list[Box], scale: float, top: int
    ) -> list[list[Line]]:
        """Readings, resampled by ``scale``, of just the bands of ``tile`` holding ``boxes``
        (tile coordinates): a few small lines need not cost reading the whole tile at
        twice its size."""
        readings = []
        for x, y, w, h in imaging.bands(boxes, tile.width, tile.height):
            crop = tile.crop((x, y, x + w, y + h))
            readings.append(self._read_at(crop, scale, top + y, left=x))
        return readings

    def _read_at(self, tile: Image.Image, scale: float, top: int, left: int = 0) -> list[Line]:
        """One tesseract reading of ``tile`` resampled by ``scale``, in source pixels.

        Words are built from their symbols: tesseract gives a right-to-left word's text in
        visual order (reversed) at word level, but its symbols in reading order.
        """
        self._api.SetImage(imaging.resample(tile, scale))
        self._api.Recognize()
        lines: list[list[Word]] = []
        pending: list[tuple[list[str], float, Box]] = []
        for symbol in tesserocr.iterate_level(self._api.GetIterator(), tesserocr.RIL.SYMBOL):
            if symbol.Empty(tesserocr.RIL.SYMBOL):
                continue
            if symbol.IsAtBeginningOf(tesserocr.RIL.TEXTLINE) or not pending:
                lines.append(_words(pending, scale, left, top))
                pending = []
            if symbol.IsAtBeginningOf(tesserocr.RIL.WORD) or not pending:
                x0, y0, x1, y1 = symbol.BoundingBox(tesserocr.RIL.WORD)
                box = (x0, y0, x1 - x0, y1 - y0)
                pending.append(([], symbol.Confidence(tesserocr.RIL.WORD), box))
            pending[-1][0].append(symbol.GetUTF8Text(tesserocr.RIL.SYMBOL) or "")
        lines.append(_words(pending, scale, left, top))
        return [_line(words) for words in lines if words]

    def close(self) -> None:
        """Free tesseract's models (some hundred megabytes for ara+eng)."""
        self._api.End()

    def __enter__(self) -> OcrEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def require_languages(languages: str, tessdata: Path | None = None) -> None:
    """Raise :class:`OcrError` unless every language of ``languages`` is installed: the
    command line and the API check before queueing anything, not in the middle of a run."""
    _check_languages(languages, tessdata_dir(tessdata))


def _check_languages(languages: str, tessdata: Path) -> None:
    """Every language of ``ara+eng`` installed, or an error that says what to install."""
    if not tessdata.is_dir():
        raise OcrError(
            f"no tesseract data directory at {tessdata}: install the models "
            "(`apt-get install tesseract-ocr-ara tesseract-ocr-eng`) or set TESSDATA_PREFIX"
        )
    _, installed = tesserocr.get_languages(f"{tessdata}/")
    for language in languages.split("+"):
        if language not in installed:
            raise OcrError(
                f"the tesseract language model {language!r} is not installed in {tessdata} "
                f"(installed: {', '.join(sorted(installed)) or 'none'}); install it with "
                f"`apt-get install tesseract-ocr-{language.lower().replace('_', '-')}`"
            )


def _words(
    pending: list[tuple[list[str], float, Box]], scale: float, left: int, top: int
) -> list[Word]:
    """The words of one line as read, confident enough to keep, in source pixels."""
    words = []
    for symbols, confidence, box in pending:
        text = _BIDI_MARKS.sub("", "".join(symbols)).strip()
        if text and confidence >= MIN_WORD_CONFIDENCE:
            words.append(Word(text, imaging.to_source(box, scale, left, top), confidence))
    return words


def _line(words: list[Word]) -> Line:
    """A line from its words, ordered as the line's majority script reads."""
    arabic = sum(len(_ARABIC.findall(w.text)) for w in words)
    latin = sum(len(_LATIN.findall(w.text)) for w in words)
    ordered = sorted(words, key=lambda w: w.box[0], reverse=arabic >= latin)
    confidence = sum(w.confidence for w in words) / len(words)
    box = imaging.union([w.box for w in words])
    return Line(" ".join(w.text for w in ordered), box, confidence, tuple(ordered))


def _scales_wanted(lines: list[Line]) -> dict[float, list[Box]]:
    """Resamplings that bring lines outside :data:`GOOD_LINE_HEIGHTS` towards the target,
    with the boxes of the lines that want each: at most :data:`MAX_EXTRA_SCALES` of them,
    those that the most characters want."""
    low, high = GOOD_LINE_HEIGHTS
    wanted: dict[float, list[Line]] = {}
    for line in lines:
        height = line.box[3]
        if low <= height <= high:
            continue
        scale = min(MAX_SCALE, max(MIN_SCALE, TARGET_LINE_HEIGHT / max(1, height)))
        stepped = max(MIN_SCALE, round(scale / SCALE_STEP) * SCALE_STEP)
        if stepped != 1.0:
            wanted.setdefault(stepped, []).append(line)
    ranked = sorted(wanted, key=lambda s: sum(len(x.text) for x in wanted[s]), reverse=True)
    return {scale: [x.box for x in wanted[scale]] for scale in ranked[:MAX_EXTRA_SCALES]}


def _mean_confidence(lines: list[Line]) -> float:
    words = [w for line in lines for w in line.words]
    return sum(w.confidence for w in words) / len(words) if words else 0.0


def _score(line: Line) -> float:
    """How much a reading of a region is worth: confident characters. Counting characters
    and not only confidence keeps a reading that got the whole line over one that read
    only its clearest word; weighting by confidence keeps junk read from texture out."""
    return sum(w.confidence * len(w.text) for w in line.words)


def _best_per_region(candidates: list[Line]) -> list[Line]:
    """From readings at several scales and treatments, the best line for each region.

    Greedy by score: a line is kept unless it shares its rows and columns with a line
    already kept, so each region of the image is read once, by its best reading.
    """
    kept: list[Line] = []
    for line in sorted(candidates, key=_score, reverse=True):
        if not any(
            imaging.vertical_overlap(line.box, other.box) > 0.5
            and imaging.horizontal_gap(line.box, other.box) < 0
            for other in kept
        ):
            kept.append(line)
    return _join_rows(kept)


def _join_rows(lines: list[Line]) -> list[Line]:
    """Join pieces of one line that tesseract's layout split (it cuts Arabic lines at wide
    word gaps and reorders the pieces): same rows, and a gap under three line heights."""
    joined: list[Line] = []
    for line in sorted(lines, key=lambda item: item.box[0]):
        for index, other in enumerate(joined):
            height = median([line.box[3], other.box[3]])
            if (
                imaging.vertical_overlap(line.box, other.box) > 0.6
                and imaging.horizontal_gap(line.box, other.box) < 3 * height
            ):
                joined[index] = _line([*other.words, *line.words])
                break
        else:
            joined.append(line)
    return joined


def _reading_order(lines: list[Line]) -> list[Line]:
    """Top to bottom; lines on the same rows (columns) right to left if they are Arabic."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: item.box[1]):
        if rows and imaging.vertical_overlap(rows[-1][0].box, line.box) > 0.5:
            rows[-1].append(line)
        else:
            rows.append([line])
    ordered = []
    for row in rows:
        rtl = sum(bool(_ARABIC.search(line.text)) for line in row) * 2 >= len(row)
        ordered.extend(sorted(row, key=lambda item: item.box[0], reverse=rtl))
    return ordered
