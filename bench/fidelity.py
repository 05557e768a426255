"""What a capture of a site page (bench/site.py, ``/site/{n}``) kept, read back from its
sealed WARC files with warcio: a speed figure means nothing for a capture that lost
part of the page, so every figure of the capture benchmark is printed beside this.

Per page: each URL the page loads (three images, stylesheet, script, the image its
script adds after load, the lazy image) as a ``response`` record with status 200; the
script's late text in the ``urn:text:`` and ``urn:dom:`` records; the two screenshots
(``urn:fullPage:``, ``urn:view:``) and the page info; and the capture sealed
``complete``. A missing item is named, never counted as found.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from bench.site import late_text, site_items

#: Derived records looked for by the kind in their ``urn:KIND:`` target URI.
PRESENT = {"screenshot, full page": "fullPage", "screenshot, view": "view", "page info": "pageinfo"}
#: Derived records whose content must hold the script's late text.
HOLDING_TEXT = {"late text in urn:text:": "text", "late text in urn:dom:": "dom"}
SEALED = "sealed complete"


def expected_items(n: str) -> list[str]:
    """The names of every item a whole capture of ``/site/{n}`` holds."""
    return [*site_items(n), *HOLDING_TEXT, *PRESENT, SEALED]


@dataclass
class PageFidelity:
    """What one capture of one page kept and what it lost: each item, in order, and
    whether it was found."""

    url: str
    items: dict[str, bool] = field(default_factory=dict)

    @property
    def found(self) -> list[str]:
        return [name for name, kept in self.items.items() if kept]

    @property
    def missing(self) -> list[str]:
        return [name for name, kept in self.items.items() if not kept]


@dataclass
class _Read:
    """What the WARC files of one capture hold, as far as this check asks."""

    responses: set[str] = field(default_factory=set)
    derived: set[str] = field(default_factory=set)
    contents: dict[str, list[bytes]] = field(default_factory=lambda: collections.defaultdict(list))


def _read(warcs: list[Path]) -> _Read:
    read = _Read()
    wanted = set(HOLDING_TEXT.values())
    for path in warcs:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response" and record.http_headers is not None:
                    if record.http_headers.get_statuscode() == "200":
                        read.responses.add(uri)
                elif record.rec_type == "resource" and uri.startswith("urn:"):
                    kind = uri.split(":", 2)[1]
                    read.derived.add(kind)
                    if kind in wanted:
                        read.contents[kind].append(record.content_stream().read())
    return read


def page_fidelity(origin: str, n: str, warcs: list[Path], summary: dict[str, Any]) -> PageFidelity:
    """Every item of ``/site/{n}`` looked for in the capture's ``warcs``; ``summary`` is
    the capture as the API lists it (its status and manifest digest)."""
    read = _read(warcs)
    text = late_text(n).encode("utf-8")
    checks: dict[str, bool] = {
        name: origin + path in read.responses for name, path in site_items(n).items()
    }
    for name, kind in HOLDING_TEXT.items():
        checks[name] = any(text in content for content in read.contents.get(kind, []))
    for name, kind in PRESENT.items():
        checks[name] = kind in read.derived
    checks[SEALED] = summary.get("status") == "complete" and bool(summary.get("manifest_sha256"))
    return PageFidelity(f"{origin}/site/{n}", {name: checks[name] for name in expected_items(n)})


def tally(pages: list[PageFidelity]) -> dict[str, Any]:
    """Found and expected over a run's pages, by item and in all, and every miss by URL."""
    by_item: dict[str, list[int]] = {}
    for page in pages:
        for name, kept in page.items.items():
            counts = by_item.setdefault(name, [0, 0])
            counts[0] += kept
            counts[1] += 1
    found = sum(len(p.found) for p in pages)
    expected = sum(len(p.items) for p in pages)
    return {
        "found": found,
        "expected": expected,
        # nothing looked for is never a whole capture
        "whole": expected > 0 and found == expected,
        "by_item": {name: f"{found}/{expected}" for name, (found, expected) in by_item.items()},
        "missed": {p.url: p.missing for p in pages if p.missing},
    }


def print_tally(label: str, counted: dict[str, Any]) -> None:
    """One run's items found / expected, then each page that missed something."""
    verdict = "ok" if counted["whole"] else "MISSED"
    print(f"fidelity {label}: {counted['found']}/{counted['expected']} items {verdict}")
    print("    " + ", ".join(f"{name} {seen}" for name, seen in counted["by_item"].items()))
    for url, missing in counted["missed"].items():
        print(f"    MISSED {url}: {', '.join(missing)}")
