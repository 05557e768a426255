"""How one capture of a watched target differs from the one before it.

A comparison is pure: two :class:`~archive.watch.snapshot.Snapshot` objects in, one
:class:`Comparison` out, nothing read from the catalog and nothing written. The
scheduler stores the result as an event on the target's timeline.

What it looks for, in this order:

1. **Availability.** A capture is *down* when the server answered 4xx/5xx, when
   the browser was sent to a login page it was not asked for, or when the page
   says its content is unavailable (:data:`UNAVAILABLE_PHRASES`). A signal that
   appears now and was absent before is a **takedown**; so is media that was
   there before and is gone now. Down before (or after a takedown event) and
   available now is **restored**.
2. **Content.** The visible text line by line (whitespace alone is not a change),
   the full-page screenshot by a perceptual hash (:func:`screenshot_distance`),
   the title, and the sets of image and media hashes. Any difference is
   **changed**; none is **unchanged**, and the new capture still proves, by its
   own seal and time stamp, that the content was there at that time.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageChops, UnidentifiedImageError

from archive.watch.snapshot import Snapshot

#: What an HTTP error status means, in the words of a summary. Any status from 400
#: up counts as down; these are the ones named.
STATUS_MEANINGS = {
    401: "login required",
    403: "forbidden",
    404: "not found",
    410: "gone",
    429: "too many requests",
    451: "unavailable for legal reasons",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

#: What platforms show in place of removed, blocked or withheld content, matched
#: case-insensitively in the title and the visible text (apostrophes and Arabic
#: vowel marks folded first). A phrase only signals a takedown when the previous
#: capture did not show it, so an article that merely quotes one is not flagged.
UNAVAILABLE_PHRASES: tuple[str, ...] = (
    # English
    "content isn't available",
    "content is not available",
    "content is no longer available",
    "content unavailable",
    "content not available",
    "page isn't available",
    "page is not available",
    "page not found",
    "page no longer exists",
    "page doesn't exist",
    "page does not exist",
    "the link you followed may be broken",
    "video unavailable",
    "video is unavailable",
    "video isn't available",
    "video is no longer available",
    "video has been removed",
    "video is private",
    "post is unavailable",
    "post isn't available",
    "post has been removed",
    "post was removed",
    "post has been deleted",
    "post was deleted",
    "tweet is unavailable",
    "account suspended",
    "account has been suspended",
    "account doesn't exist",
    "account does not exist",
    "channel does not exist",
    "channel is not available",
    "removed for violating",
    "removed due to a copyright",
    "has been withheld",
    "withheld in your country",
    "not available in your country",
    "no longer available",
    # French
    "contenu indisponible",
    "contenu n'est pas disponible",
    "contenu n'est plus disponible",
    "page introuvable",
    "page n'est pas disponible",
    "vidéo non disponible",
    "vidéo n'est pas disponible",
    "vidéo n'est plus disponible",
    "publication n'est pas disponible",
    "compte suspendu",
    "n'est plus disponible",
    # Spanish
    "contenido no disponible",
    "contenido no está disponible",
    "página no encontrada",
    "página no está disponible",
    "video no disponible",
    "vídeo no disponible",
    "video no está disponible",
    "vídeo no está disponible",
    "publicación no está disponible",
    "cuenta suspendida",
    "ya no está disponible",
    # Russian
    "контент недоступен",
    "содержимое недоступно",
    "материал недоступен",
    "страница не найдена",
    "страница недоступна",
    "видео недоступно",
    "публикация недоступна",
    "запись удалена",
    "публикация удалена",
    "аккаунт заблокирован",
    "больше недоступ",
    # Arabic (written without vowel marks: they are folded away before matching)
    "المحتوى غير متاح",
    "المحتوى غير متوفر",
    "الصفحة غير متاحة",
    "الصفحة غير موجودة",
    "لم يتم العثور على الصفحة",
    "الفيديو غير متاح",
    "المنشور غير متاح",
    "تم حذف هذا المنشور",
    "تم حذف هذا الفيديو",
    "الحساب معلق",
    "تم تعليق الحساب",
    "لم يعد متاحا",
)

#: Path segments (or host names' first label) that mean "log in first". Whole
#: words, so ``/author`` is not ``auth``...
LOGIN_WORDS = frozenset({"auth", "oauth", "sso", "authorize", "authenticate", "authwall"})
#: ...and fragments that mean it anywhere in a segment (``ServiceLogin``, ``login.php``).
LOGIN_FRAGMENTS = ("login", "log-in", "log_in", "logon", "signin", "sign-in", "sign_in")

#: Side of the square a screenshot is hashed in, in pixels (see :func:`screenshot_distance`).
SQUARE_PX = 128
#: Bits per side of each square's hash: a 16x16 dHash, one bit per 8x8 pixels.
HASH_BITS = 16
#: Share of one square's hash bits that must differ for the screenshot to count as
#: changed. Chosen on real captures of tests/changing.py: the same page captured
#: twice differs by 0; one character changed flips ~0.4% (a single bit: the text
#: diff reports it); a sentence added or reworded 4.7%; a picture recoloured
#: 12.5%; a takedown page 17% and more.
SCREENSHOT_THRESHOLD = 0.02
#: A text diff longer than this (characters) is cut; the full texts stay in the WARCs.
DIFF_MAX_CHARS = 20_000
#: Lines of context around each change in the text diff.
DIFF_CONTEXT = 2

#: left, top, right, bottom
Box = tuple[int, int, int, int]

_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})


@dataclass(frozen=True)
class Comparison:
    """What the newer capture shows compared with the previous one."""

    kind: str  # first | unchanged | changed | takedown | restored
    summary: str  # one plain sentence for an investigator
    details: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable


@dataclass(frozen=True)
class Signal:
    """One reason to think a page is down (``kind``: status, login, unavailable, media)."""

    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


def compare(
    previous: Snapshot | None, current: Snapshot, *, previous_kind: str | None = None
) -> Comparison:
    """Compare ``current`` with ``previous`` (``None`` for a target's first capture).

    ``previous_kind`` is the kind of the previous capture's timeline event: after
    a ``takedown`` a page that is available again is ``restored``, even when the
    takedown was only its media disappearing.
    """
    after_signals = down_signals(current)
    if previous is None:
        return _first(current, after_signals)
    before_signals = down_signals(previous)
    availability = {
        "before": _availability(previous, before_signals),
        "after": _availability(current, after_signals),
        "signals": [],
    }
    details: dict[str, Any] = {"availability": availability, **content_changes(previous, current)}

    new = _new_signals(before_signals, after_signals)
    if previous.media and not current.media:
        new.append(
            Signal("media", f"the media is gone ({_files(len(previous.media))} before, none now)")
        )
    if new:
        availability["signals"] = [s.to_dict() for s in new]
        return Comparison("takedown", _takedown_summary(previous, current, new), details)

    # A takedown by media alone lasts while the media stays away.
    media_still_gone = previous_kind == "takedown" and not before_signals and not current.media
    was_down = bool(before_signals) or previous_kind == "takedown"
    if was_down and not after_signals and not media_still_gone:
        return Comparison("restored", _restored_summary(previous, current, before_signals), details)

    changes = _change_words(details)
    still = _still_down(after_signals, media_still_gone)
    if changes:
        words = "; ".join(changes)
        summary = _sentence(*still, words) if still else _sentence(_capitalised(words))
        return Comparison("changed", summary, details)
    if still:
        return Comparison("unchanged", _sentence(*still, "nothing else changed"), details)
    return Comparison("unchanged", "Unchanged since the previous capture.", details)


# -- availability -------------------------------------------------------------------


def down_signals(snapshot: Snapshot) -> list[Signal]:
    """Why this capture, on its own, looks like a page that is not there (or none)."""
    signals = []
    status = snapshot.http_status
    if status is not None and status >= 400:
        signals.append(Signal("status", f"HTTP {_status_words(status)}"))
    final = snapshot.final_url or snapshot.url
    if is_login_url(final) and not is_login_url(snapshot.url):
        signals.append(Signal("login", f"redirected to a login page ({final})"))
    phrase = unavailable_phrase(snapshot)
    if phrase is not None:
        signals.append(Signal("unavailable", f"the page says \u201c{phrase}\u201d"))
    return signals


def is_login_url(url: str) -> bool:
    """Does ``url`` look like a login page (``/login``, ``/accounts/login/``, ``/authwall``)?"""
    parts = urlsplit(url)
    host_label = (parts.hostname or "").split(".")[0]
    if host_label in LOGIN_WORDS or host_label in ("login", "signin"):
        return True
    for segment in parts.path.lower().split("/"):
        word = segment.rsplit(".", 1)[0]
        if word in LOGIN_WORDS or any(fragment in word for fragment in LOGIN_FRAGMENTS):
            return True
    return False


def unavailable_phrase(snapshot: Snapshot) -> str | None:
    """The first of :data:`UNAVAILABLE_PHRASES` the page's title or text contains."""
    haystack = _fold(f"{snapshot.title or ''}\n{snapshot.text}")
    return next((p for p in _FOLDED_PHRASES if p in haystack), None)


def _fold(text: str) -> str:
    """Lower case, one kind of apostrophe, no Arabic vowel marks, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).translate(_ARABIC_MARKS)
    return " ".join(text.casefold().split())


_FOLDED_PHRASES = tuple(_fold(p) for p in UNAVAILABLE_PHRASES)


def _new_signals(before: list[Signal], after: list[Signal]) -> list[Signal]:
    """Signals of a kind the previous capture did not have."""
    had = {s.kind for s in before}
    return [s for s in after if s.kind not in had]


def _availability(snapshot: Snapshot, signals: list[Signal]) -> dict[str, Any]:
    return {
        "capture_id": snapshot.capture_id,
        "http_status": snapshot.http_status,
        "final_url": snapshot.final_url,
        "redirects": [{"url": hop.url, "status": hop.status} for hop in snapshot.redirect_chain],
        "available": not signals,
        "signals": [s.to_dict() for s in signals],
    }


def _status_words(status: int | None) -> str:
    if status is None:
        return "no status"
    meaning = STATUS_MEANINGS.get(status)
    return f"{status} ({meaning})" if meaning else str(status)


def _takedown_summary(previous: Snapshot, current: Snapshot, signals: list[Signal]) -> str:
    parts = []
    for signal in signals:
        if signal.kind == "status":
            parts.append(f"HTTP {previous.http_status} -> {_status_words(current.http_status)}")
        else:
            parts.append(signal.detail)
    return "Taken down: " + "; ".join(parts) + "."


def _restored_summary(previous: Snapshot, current: Snapshot, before: list[Signal]) -> str:
    kinds = {s.kind for s in before}
    parts = []
    if "status" in kinds:
        parts.append(f"HTTP {previous.http_status} -> {current.http_status}")
    if "login" in kinds:
        parts.append("no longer sent to a login page")
    if "unavailable" in kinds:
        parts.append("the page no longer says its content is unavailable")
    if not kinds:
        parts.append(f"the media is back ({_files(len(current.media))})")
    return "Restored: " + "; ".join(parts) + "."


def _still_down(signals: list[Signal], media_still_gone: bool) -> list[str]:
    words = [s.detail for s in signals]
    if media_still_gone:
        words.append("the media is still gone")
    return ["Still unavailable: " + "; ".join(words)] if words else []


def _first(current: Snapshot, signals: list[Signal]) -> Comparison:
    details = {"availability": {"before": None, "after": _availability(current, signals)}}
    if signals:
        summary = "First capture; the page already looks unavailable: " + "; ".join(
            s.detail for s in signals
        )
        return Comparison("first", summary + ".", details)
    return Comparison("first", "First capture of this target.", details)


# -- content ----------------------------------------------------------------------


def content_changes(previous: Snapshot, current: Snapshot) -> dict[str, Any]:
    """Text, title, screenshot, images and media, each with its own ``changed`` answer."""
    return {
        "text": text_change(previous.text, current.text),
        "title": {
            "before": previous.title,
            "after": current.title,
            "changed": _norm_line(previous.title or "") != _norm_line(current.title or ""),
        },
        "screenshot": screenshot_change(previous.screenshot, current.screenshot),
        "images": item_change(previous.images, current.images),
        "media": item_change(previous.media, current.media),
    }


def text_change(before: str, after: str) -> dict[str, Any]:
    """A unified diff of the visible text's lines, whitespace ignored, with counts."""
    old, new = _lines(before), _lines(after)
    diff = list(difflib.unified_diff(old, new, "previous", "current", n=DIFF_CONTEXT, lineterm=""))
    added = sum(1 for line in diff[2:] if line.startswith("+"))
    removed = sum(1 for line in diff[2:] if line.startswith("-"))
    text = "\n".join(diff)
    result: dict[str, Any] = {"changed": bool(diff), "added": added, "removed": removed}
    if len(text) > DIFF_MAX_CHARS:
        result["diff"] = text[:DIFF_MAX_CHARS]
        result["note"] = (
            f"diff cut at {DIFF_MAX_CHARS} of {len(text)} characters; the whole texts are"
            " the urn:text: records of both captures' WARC files"
        )
    else:
        result["diff"] = text
    return result


def _lines(text: str) -> list[str]:
    return [line for line in (_norm_line(raw) for raw in text.splitlines()) if line]


def _norm_line(line: str) -> str:
    return " ".join(line.split())


def item_change(before: dict[str, str], after: dict[str, str]) -> dict[str, Any]:
    """Which files (by SHA-256) appeared and which disappeared."""
    added = [{"sha256": h, "url": after[h]} for h in sorted(after.keys() - before.keys())]
    removed = [{"sha256": h, "url": before[h]} for h in sorted(before.keys() - after.keys())]
    return {"changed": bool(added or removed), "added": added, "removed": removed}


def _change_words(details: dict[str, Any]) -> list[str]:
    words = []
    text = details["text"]
    if text["changed"]:
        words.append(
            f"text changed ({_lines_word(text['added'])} added, {text['removed']} removed)"
        )
    if details["title"]["changed"]:
        words.append("title changed")
    if details["screenshot"].get("changed"):
        words.append("screenshot changed")
    for name in ("images", "media"):
        change = details[name]
        if change["changed"]:
            words.append(
                f"{name} changed ({len(change['added'])} added, {len(change['removed'])} removed)"
            )
    return words


# -- screenshots --------------------------------------------------------------------


def screenshot_change(before: Path | None, after: Path | None) -> dict[str, Any]:
    """Did the full-page screenshot change beyond :data:`SCREENSHOT_THRESHOLD`?"""
    result: dict[str, Any] = {
        "distance": None,
        "threshold": SCREENSHOT_THRESHOLD,
        "changed": None,
        "method": (
            f"dHash ({HASH_BITS}x{HASH_BITS} bits) of every {SQUARE_PX}-pixel square, on"
            " brightness and both colour channels; distance: the largest share of differing"
            " bits in any one square"
        ),
    }
    if before is None or after is None:
        missing = "previous" if before is None else "current"
        result["note"] = f"the {missing} capture has no full-page screenshot"
        return result
    try:
        distance, area, sizes = screenshot_distance(before, after)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        result["note"] = f"the screenshots could not be compared: {exc}"
        return result
    result.update(
        distance=round(distance, 4),
        changed=distance > SCREENSHOT_THRESHOLD,
        size_before=list(sizes[0]),
        size_after=list(sizes[1]),
        changed_area=list(area) if area else None,
    )
    return result


def screenshot_distance(
    before: Path, after: Path
) -> tuple[float, Box | None, tuple[tuple[int, int], tuple[int, int]]]:
    """How differently two screenshots look, from 0 (alike) to 1.

    A plain 16x16 dHash of a whole full-page screenshot is blind to a paragraph on
    a long page (one bit covers a whole block of it) and to a picture changing
    colour but not brightness (dHash keeps only which neighbour is brighter). So
    both images are laid on one white canvas of the larger size (pages of
    different heights compare region by region, and the extra part counts as
    changed wherever it is not blank), cut into squares of :data:`SQUARE_PX`
    pixels, and each square gets a 16x16 dHash on each of the Y, Cb and Cr
    channels. The distance is the largest share of differing bits in any square
    and channel, so one changed region counts however long the page is.

    Returns the distance, the bounding box (left, top, right, bottom, in pixels)
    of the squares over the threshold, and both images' sizes.
    """
    with Image.open(before) as first, Image.open(after) as second:
        sizes = (first.size, second.size)
        canvas = (max(first.width, second.width), max(first.height, second.height))
        bits_before = _dhash_bits(first, canvas)
        bits_after = _dhash_bits(second, canvas)
    distance = 0.0
    squares: Box | None = None
    for old, new in zip(bits_before, bits_after, strict=True):
        shares = _square_shares(ImageChops.difference(old, new))
        width = shares.width
        for index, share in enumerate(shares.get_flattened_data()):
            distance = max(distance, float(share))
            if share > SCREENSHOT_THRESHOLD:
                x, y = index % width, index // width
                squares = _union(squares, (x, y, x + 1, y + 1))
    return distance, _in_pixels(squares, canvas), sizes


def _dhash_bits(image: Image.Image, canvas: tuple[int, int]) -> list[Image.Image]:
    """Per channel (Y, Cb, Cr): 255 where a cell is brighter than its right neighbour."""
    flat = Image.new("RGB", canvas, (255, 255, 255))
    rgba = image.convert("RGBA")
    flat.paste(rgba, (0, 0), rgba)  # transparency over white, as a reader would see it
    cell = SQUARE_PX // HASH_BITS
    cols, rows = math.ceil(canvas[0] / cell), math.ceil(canvas[1] / cell)
    small = flat.convert("YCbCr").resize((cols + 1, rows), Image.Resampling.BOX)
    bits = []
    for channel in small.split():
        left = channel.crop((0, 0, cols, rows))
        right = channel.crop((1, 0, cols + 1, rows))
        bits.append(ImageChops.subtract(left, right).point(lambda v: 255 if v else 0))
    return bits


def _square_shares(difference: Image.Image) -> Image.Image:
    """One pixel per square: the share of its hash bits that differ (a partial square
    at the edge is counted over a whole square's bits, so a sliver cannot dominate)."""
    cols = math.ceil(difference.width / HASH_BITS) * HASH_BITS
    rows = math.ceil(difference.height / HASH_BITS) * HASH_BITS
    padded = Image.new("L", (cols, rows), 0)
    padded.paste(difference, (0, 0))
    return padded.point(lambda v: 1 if v else 0).convert("F").reduce(HASH_BITS)


def _union(box: Box | None, other: Box | None) -> Box | None:
    if box is None or other is None:
        return box or other
    return (
        min(box[0], other[0]),
        min(box[1], other[1]),
        max(box[2], other[2]),
        max(box[3], other[3]),
    )


def _in_pixels(squares: Box | None, canvas: tuple[int, int]) -> Box | None:
    """A box counted in squares as a box in the screenshot's pixels."""
    if squares is None:
        return None
    left, top, right, bottom = (v * SQUARE_PX for v in squares)
    return (left, top, min(right, canvas[0]), min(bottom, canvas[1]))


# -- words ------------------------------------------------------------------------


def _files(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def _lines_word(count: int) -> str:
    return f"{count} line" + ("" if count == 1 else "s")


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(*parts: str) -> str:
    return "; ".join(p for p in parts if p) + "."
