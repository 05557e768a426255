"""``osint-capture export``: package captures as a signed WACZ with a report, for court.

The command only checks what it is given and prints the result; choosing the
captures, printing the report and packaging are :mod:`capture.exporting`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.people import Permission
from capture.cli.acting import acting
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
    export.add_argument(
        "--operator", help="a label for who exports (the custody event names the account)"
    )
    data_option(export)
    tsa_options(export)


def run_export(args: argparse.Namespace, data_dir: Path) -> int:
    from capture.exporting import choose_captures, export

    if bool(args.ids) == bool(args.case):
        return complain("give capture ids or --case NAME (one of the two)", ExitCode.BAD_INPUT)
    if args.out.suffix != ".wacz":
        return complain(f"{args.out} should end in .wacz", ExitCode.BAD_INPUT)
    with Archive.open(data_dir, create=False) as archive:
        who = acting(archive, data_dir, getattr(args, "as_user", None))
        ids = choose_captures(archive.catalog, case=args.case, ids=args.ids)
        for capture_id in ids:
            row = archive.catalog.get_capture(capture_id)
            if row is not None:  # an unknown id is export's own error, named there
                who.require_case(Permission.EXPORT, row.case, collector=row.collector)
        details = {"device": who.device, **({"operator": args.operator} if args.operator else {})}
        result = asyncio.run(
            export(
                archive, ids, args.out, actor=who.actor, tsa=tsa_config(args),
                event_details=details,
            )
        )  # fmt: skip
        archive.access.record(
            "exported",
            actor=who.actor,
            device=who.device,
            captures=list(result.captures),
            details={"file": result.path.name, "sha256": result.sha256, "size": result.size},
        )
    print(f"exported {len(result.captures)} capture(s) to {result.path}")
    print(f"sha256 {result.sha256}  ({result.size} bytes)")
    for note in result.notes:
        print(f"osint-capture: warning: {note}", file=sys.stderr)
    if result.custody_anchors is not None:
        print_anchor_run(result.custody_anchors, archive)
    return ExitCode.COMPLETE
