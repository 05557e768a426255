"""``osint-capture export``: package captures as a signed WACZ with a report, for court.

The command only checks what it is given and prints the result; choosing the
captures, printing the report and packaging are :mod:`capture.exporting`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from capture.cli.custody import print_anchor_run
from capture.cli.exits import ExitCode, complain
from capture.cli.options import data_option, tsa_config, tsa_options

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    export = commands.add_parser(
        "export", help="package captures as a signed WACZ with a report, for court"
    )
    export.add_argument("ids", nargs="*", metavar="CAPTURE_ID", help="captures to export")
    export.add_argument("--case", help="export every sealed capture of this case")
    export.add_argument("--out", type=Path, required=True, help="the .wacz file to write")
    export.add_argument("--operator", help="who exports (default: $USER)")
    data_option(export)
    tsa_options(export)


def run_export(args: argparse.Namespace, data_dir: Path) -> int:
    from capture.exporting import choose_captures, export

    if bool(args.ids) == bool(args.case):
        return complain("give capture ids or --case NAME (one of the two)", ExitCode.BAD_INPUT)
    if args.out.suffix != ".wacz":
        return complain(f"{args.out} should end in .wacz", ExitCode.BAD_INPUT)
    actor = args.operator or os.environ.get("USER") or "operator"
    with Archive.open(data_dir, create=False) as archive:
        ids = choose_captures(archive.catalog, case=args.case, ids=args.ids)
        result = asyncio.run(export(archive, ids, args.out, actor=actor, tsa=tsa_config(args)))
    print(f"exported {len(result.captures)} capture(s) to {result.path}")
    print(f"sha256 {result.sha256}  ({result.size} bytes)")
    for note in result.notes:
        print(f"osint-capture: warning: {note}", file=sys.stderr)
    if result.custody_anchors is not None:
        print_anchor_run(result.custody_anchors, archive)
    return ExitCode.COMPLETE
