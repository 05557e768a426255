"""``osint-capture list``: the captures in the catalog, as lines or JSON.

:func:`capture_dict` is a capture's JSON here and in ``watch show``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.datadir import Archive
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    listing = commands.add_parser("list", help="list captures in the catalog")
    listing.add_argument("--case", help="only captures of this case")
    data_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")


def run_list(args: argparse.Namespace, data_dir: Path) -> int:
    """Every capture, or a case's; no archive yet is an empty list, not an error."""
    if not Archive.exists(data_dir):
        rows = []
    else:
        with Archive.open(data_dir) as archive:
            rows = archive.catalog.list_captures(case=args.case)
    if args.json:
        print(json.dumps([capture_dict(row) for row in rows], indent=2, ensure_ascii=False))
        return ExitCode.COMPLETE
    if not rows:
        print("no captures" + (f" in case {args.case!r}" if args.case else ""))
    for row in rows:
        when = row.finished_at or row.started_at or row.created_at
        print(f"{row.id}  {row.shown_status:<8}  {when}  {row.case or '-':<16}  {row.url}")
    return ExitCode.COMPLETE


def capture_dict(row: Any) -> dict[str, Any]:
    """A catalog row as the command prints it with ``--json``."""
    return {
        "id": row.id,
        "url": row.url,
        "final_url": row.final_url,
        "case": row.case,
        "status": row.status,
        "reasons": row.reasons,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "warc": row.warc,
        "manifest_sha256": row.manifest_sha256,
        # A tombstone: its files were removed (``osint-capture delete``); None while kept.
        "deleted_at": row.deleted_at,
        "deleted_by": row.deleted_by,
    }
