"""``osint-capture case hold|release NAME``: a case's legal hold (:mod:`archive.holds`).

Each is a custody event with the operator and the reason; on an S3 store the bucket's
own legal hold is set on every stored object of the case's captures too.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.holds import HoldChange, hold_case, release_case
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    case = commands.add_parser("case", help="a case's legal hold")
    actions = case.add_subparsers(dest="case_command", metavar="ACTION")
    for action, text in (
        ("hold", "put a case on legal hold: nothing of it may be deleted until released"),
        ("release", "release a case's legal hold"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name", metavar="NAME", help="the case")
        parser.add_argument("--reason", required=True, help="why (kept in custody)")
        parser.add_argument("--operator", help="who asks for it (default: $USER)")
        parser.add_argument("--json", action="store_true", help="print JSON")
        data_option(parser)


def run_case(args: argparse.Namespace, data_dir: Path) -> int:
    operator = args.operator or os.environ.get("USER") or "operator"
    change = hold_case if args.case_command == "hold" else release_case
    with Archive.open(data_dir, create=False) as archive:
        done = change(archive, args.name, operator=operator, reason=args.reason)
    print(json.dumps(_as_dict(done), indent=2, ensure_ascii=False) if args.json else _text(done))
    return ExitCode.COMPLETE


def _as_dict(done: HoldChange) -> dict[str, object]:
    return {
        "case": done.case,
        "held": done.held,
        "captures": list(done.captures),
        "stored_objects": done.objects,
        "custody_seq": done.event.seq,
        "custody_hash": done.event.hash,
    }


def _text(done: HoldChange) -> str:
    what = "on legal hold" if done.held else "released from legal hold"
    reached = "" if done.objects is None else f", {done.objects} stored object version(s)"
    return (
        f"case {done.case!r} {what}: {len(done.captures)} sealed capture(s){reached};"
        f" custody event {done.event.seq} ({done.event.hash[:16]}…)"
    )
