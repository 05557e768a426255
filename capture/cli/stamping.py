"""``osint-capture timestamp --pending``: trusted time now for every capture still waiting.

The server retries pending captures with a backoff; this asks every TSA at once,
for an operator who does not want to wait (or runs no server). Exit 1 while any
capture is still pending.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from capture.cli.exits import ExitCode, complain
from capture.cli.options import data_option, tsa_config, tsa_options

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    timestamp = commands.add_parser(
        "timestamp", help="get trusted time (RFC 3161) for captures that are still pending"
    )
    timestamp.add_argument(
        "--pending", action="store_true", required=True, help="every pending capture, now"
    )
    data_option(timestamp)
    tsa_options(timestamp)


def run_timestamp(args: argparse.Namespace, data_dir: Path) -> int:
    """Retry trusted time for every pending capture, now (not waiting for the backoff)."""
    from archive.evidence.trustedtime import stamp_pending

    config = tsa_config(args)
    if not config.tsas:
        return complain("no time-stamp authority configured (--tsa URL)", ExitCode.BAD_INPUT)
    with Archive.open(data_dir) as archive:
        results = stamp_pending(archive, config=config, due_only=False)
    if not results:
        print("no captures are waiting for trusted time")
    for capture_id, result in results.items():
        print(f"{capture_id}  {result.state}")
        for token in result.tokens:
            print(f"  {token.tsa_url}: {token.gen_time.isoformat()}")
        for problem in result.problems:
            print(f"  {problem}")
    pending = [cid for cid, result in results.items() if result.state != "stamped"]
    return ExitCode.FAILED if pending else ExitCode.COMPLETE
