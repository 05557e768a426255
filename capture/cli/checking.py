"""``osint-capture fsck``: every sealed file the catalog lists, held against the store
(:func:`archive.fsck.fsck_archive`); reports, never repairs or deletes.

Exits 0 when every file was found as recorded, 1 when anything differs (or nothing
was there to compare: a check never passes on nothing).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.fsck import StoreCheck, fsck_archive
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    fsck = commands.add_parser(
        "fsck", help="compare the catalog's sealed files with the store (never deletes)"
    )
    data_option(fsck)
    fsck.add_argument(
        "--deep", action="store_true", help="read every file back and check its SHA-256"
    )
    fsck.add_argument("--operator", help="who runs the check (default: $USER)")
    fsck.add_argument("--json", action="store_true", help="print JSON")


def run_fsck(args: argparse.Namespace, data_dir: Path) -> int:
    operator = args.operator or os.environ.get("USER") or "operator"
    with Archive.open(data_dir, create=False) as archive:
        result = fsck_archive(archive, deep=args.deep, actor=operator)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(_text(result))
    return ExitCode.COMPLETE if result.ok else ExitCode.FAILED


def _text(result: StoreCheck) -> str:
    how = "read back and hashed" if result.deep else "present with their recorded sizes"
    lines = [f"{result.store}: {result.files_checked} sealed file(s) checked ({how})"]
    if result.set_aside:
        lines.append(f"{result.set_aside} object(s) set aside from interrupted attempts, kept")
    if result.staged:
        lines.append(f"{result.staged} object(s) staged for captures not yet sealed (not evidence)")
    lines += [f"  {p.kind}: {p.where}: {p.detail}" for p in result.problems]
    if result.files_checked == 0:
        lines.append("nothing to compare: no sealed capture in the catalog")
    lines.append("ok" if result.ok else f"FAILED: {len(result.problems)} problem(s)")
    return "\n".join(lines)
