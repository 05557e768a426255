"""What changed in a page's content between two captures: text, title, images, media.

Each part gets its own ``changed`` answer and the detail an investigator needs to
see the change (a unified diff, the files that appeared and disappeared); the
screenshot is compared in :mod:`archive.watch.screenshots`. Whitespace alone is
not a change: the visible text is compared line by line, spaces normalised.
"""

from __future__ import annotations

import difflib
from typing import Any

from archive.watch.screenshots import screenshot_change
from archive.watch.snapshot import Snapshot

#: A text diff longer than this (characters) is cut; the full texts stay in the WARCs.
DIFF_MAX_CHARS = 20_000
#: Lines of context around each change in the text diff.
DIFF_CONTEXT = 2


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
