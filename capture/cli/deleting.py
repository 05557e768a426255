"""``osint-capture delete ID --reason TEXT``: a capture's files removed for good, the
evidence way (:mod:`archive.deletion`).

Admins only (the command acts as this computer's owner, or ``--as`` an account): refused
under legal hold, under an object store's unexpired retention, and while the capture or
one of its readings runs. What was removed is a ``deleted`` custody event naming each
file's SHA-256 and size and the person; the capture's row stays as a tombstone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.datadir import Archive
from archive.deletion import Deletion, delete_capture
from capture.cli.acting import acting
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    delete = commands.add_parser(
        "delete",
        help="remove a capture's files for good (admins; refused under hold or retention)",
    )
    delete.add_argument("capture_id", metavar="ID", help="the capture")
    delete.add_argument(
        "--reason", required=True, help="why (kept with the tombstone; its SHA-256 in custody)"
    )
    delete.add_argument("--json", action="store_true", help="print JSON")
    data_option(delete)


def run_delete(args: argparse.Namespace, data_dir: Path) -> int:
    with Archive.open(data_dir, create=False) as archive:
        who = acting(archive, data_dir, getattr(args, "as_user", None))
        done = delete_capture(archive, args.capture_id, who=who, reason=args.reason)
    print(json.dumps(_as_dict(done), indent=2, ensure_ascii=False) if args.json else _text(done))
    return ExitCode.COMPLETE


def _as_dict(done: Deletion) -> dict[str, Any]:
    return {
        "capture": done.capture_id,
        "deleted_at": done.tombstone.deleted_at,
        "deleted_by": done.tombstone.deleted_by,
        "resumed": done.resumed,
        "removed": [r.details() | {"sealed": r.sealed} for r in done.removed],
        "custody_seq": done.event.seq,
        "custody_hash": done.event.hash,
    }


def _text(done: Deletion) -> str:
    sealed = [r for r in done.removed if r.sealed]
    copies = len(done.removed) - len(sealed)
    again = " (finishing an earlier deletion)" if done.resumed else ""
    return (
        f"capture {done.capture_id} deleted{again}: {len(sealed)} sealed file(s),"
        f" {sum(r.size for r in sealed)} bytes, and {copies} copy file(s) removed;"
        f" custody event {done.event.seq} ({done.event.hash[:16]}…) names each with its"
        " SHA-256; the catalog keeps the row as a tombstone"
    )
