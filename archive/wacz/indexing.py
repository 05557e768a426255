"""What replay tools read first: the CDXJ index of every WARC, and the page list.

Built as py-wacz builds them (cdxj-indexer, sorted, uncompressed), so ReplayWeb.page
and pywb replay the package; the dashboard's replay view (:mod:`archive.wacz.replay`)
builds its index the same way.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

from archive.wacz.layout import ARCHIVE_DIR, INDEX_FIELDS, INDEX_RECORDS, PAGES_HEADER
from archive.wacz.loading import SealedCapture


def write_index(warcs: list[Path], target: Path) -> None:
    """A sorted CDXJ of every WARC, as py-wacz builds it but uncompressed.

    ``filename`` in each line is the WARC's base name, which is its name under
    ``archive/``: what replay tools resolve it against.
    """
    indexer = CDXJIndexer(
        str(target),
        [str(path) for path in warcs],
        sort=True,
        post_append=True,
        digest_records=True,
        fields=INDEX_FIELDS,
        records=INDEX_RECORDS,
    )
    indexer.process_all()


def named_as_packaged(captures: list[SealedCapture], work: Path) -> list[Path]:
    """Every WARC to index, under the base name it has in ``archive/``: the indexer names
    each line's file by it. An analysis WARC is ``analysis-N.warc.gz`` in its capture's
    folder and ``<id>.analysis-N.warc.gz`` in the package, so it is linked under that."""
    links = work / "warcs"
    links.mkdir(exist_ok=True)
    paths = []
    for capture in captures:
        for warc in capture.warcs:
            name = capture.evidence_path(warc).removeprefix(f"{ARCHIVE_DIR}/")
            source = capture.directory / warc.path
            if name != warc.path:
                (links / name).symlink_to(source.resolve())
                source = links / name
            paths.append(source)
    return paths


def pages(captures: list[SealedCapture]) -> bytes:
    """``pages/pages.jsonl``: the header line, then one page per capture, from its manifest."""
    lines = [json.dumps(PAGES_HEADER)]
    for capture in captures:
        m = capture.manifest
        lines.append(
            json.dumps(
                {
                    "id": capture.id,
                    "url": m["url"],
                    "ts": _whole_seconds(m["started_at"]),
                    "title": m.get("title") or m["url"],
                },
                ensure_ascii=False,
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _whole_seconds(rfc3339: str) -> str:
    """``2026-11-26T19:00:00.123456Z`` as ``2026-11-26T19:00:00Z``: what py-wacz writes."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
