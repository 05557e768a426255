"""How one capture of a watched target differs from the one before it.

A comparison is pure: two :class:`~archive.watch.snapshot.Snapshot` objects in, one
:class:`Comparison` out, nothing read from the catalog and nothing written. The
scheduler stores the result as an event on the target's timeline. This module
decides the kind and words the summary; what each capture shows is read by the
modules named below.

What it looks for, in this order:

1. **Availability.** A capture is *down* when the server answered 4xx/5xx, when
   the browser was sent to a login page it was not asked for, or when the page
   says its content is unavailable (:mod:`archive.watch.availability`). A signal
   that appears now and was absent before is a **takedown**; so is media that was
   there before and is gone now. Down before (or after a takedown event) and
   available now is **restored**.
2. **Content.** The visible text line by line (whitespace alone is not a change),
   the title, and the sets of image and media hashes (:mod:`archive.watch.content`),
   and the full-page screenshot by a perceptual hash
   (:mod:`archive.watch.screenshots`). Any difference is **changed**; none is
   **unchanged**, and the new capture still proves, by its own seal and time
   stamp, that the content was there at that time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.watch.availability import Signal, describe_availability, down_signals, status_words
from archive.watch.content import content_changes
from archive.watch.snapshot import Snapshot


@dataclass(frozen=True)
class Comparison:
    """What the newer capture shows compared with the previous one."""

    kind: str  # first | unchanged | changed | takedown | restored
    summary: str  # one plain sentence for an investigator
    details: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable


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
        "before": describe_availability(previous, before_signals),
        "after": describe_availability(current, after_signals),
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


# -- availability, before and after ----------------------------------------------------


def _new_signals(before: list[Signal], after: list[Signal]) -> list[Signal]:
    """Signals of a kind the previous capture did not have."""
    had = {s.kind for s in before}
    return [s for s in after if s.kind not in had]


def _takedown_summary(previous: Snapshot, current: Snapshot, signals: list[Signal]) -> str:
    parts = []
    for signal in signals:
        if signal.kind == "status":
            parts.append(f"HTTP {previous.http_status} -> {status_words(current.http_status)}")
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
    details = {"availability": {"before": None, "after": describe_availability(current, signals)}}
    if signals:
        summary = "First capture; the page already looks unavailable: " + "; ".join(
            s.detail for s in signals
        )
        return Comparison("first", summary + ".", details)
    return Comparison("first", "First capture of this target.", details)


# -- what changed, in words ------------------------------------------------------------


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


# -- words -----------------------------------------------------------------------------


def _files(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def _lines_word(count: int) -> str:
    return f"{count} line" + ("" if count == 1 else "s")


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(*parts: str) -> str:
    return "; ".join(p for p in parts if p) + "."
