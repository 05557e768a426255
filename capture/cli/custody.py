"""``osint-capture custody verify|anchor``: check the chain of custody, anchor it.

``verify`` checks the log, its head and every anchor (:meth:`CustodyLog.verify`) and
exits as every check of evidence does (:class:`archive.evidence.checks.ExitStatus`): 0 intact
and anchored, 4 intact but proven by nothing outside this machine, 1 any problem, 2
nothing to read (no archive, an unreadable trust file: their errors' own code).
``anchor`` time-stamps the head now with the configured TSAs
(:func:`archive.evidence.anchoring.anchor_head`); ``export`` prints its own anchors with
:func:`print_anchor_run`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.evidence.anchoring import AnchorRun, anchor_head
from archive.evidence.checks import exit_status
from archive.evidence.tsa_roots import TrustStore
from capture.cli.exits import ExitCode, complain
from capture.cli.options import data_option, tsa_config, tsa_options

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    """``custody verify`` and ``custody anchor``, with the CLI's shared options."""
    custody = commands.add_parser("custody", help="the chain of custody")
    actions = custody.add_subparsers(dest="custody_command", metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="check every event of the custody log, its links and its anchors"
    )
    data_option(verify)
    verify.add_argument(
        "--tsa-trust",
        action="append",
        type=Path,
        metavar="FILE",
        help="PEM file of extra trust roots for the anchors' TSAs (repeatable)",
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    anchor = actions.add_parser(
        "anchor", help="time-stamp the custody log's head now, with each configured TSA"
    )
    data_option(anchor)
    tsa_options(anchor)


def run_custody(args: argparse.Namespace, data_dir: Path) -> int:
    if args.custody_command == "anchor":
        return _run_anchor(args, data_dir)
    return _run_verify(args, data_dir)


def _run_verify(args: argparse.Namespace, data_dir: Path) -> int:
    trust = TrustStore.load(args.tsa_trust or ())
    with Archive.open(data_dir, create=False) as archive:
        report = archive.custody.verify(trust)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return exit_status(report.outcome)


def _run_anchor(args: argparse.Namespace, data_dir: Path) -> int:
    config = tsa_config(args)
    if not config.tsas:
        return complain(
            "no time-stamp authority configured to anchor with: pass --tsa URL"
            " (or set $OSINT_CAPTURE_TSA)",
            ExitCode.BAD_INPUT,
        )
    actor = os.environ.get("USER") or "operator"
    with Archive.open(data_dir, create=False) as archive:
        run = anchor_head(archive.custody, config.anchoring(), actor=actor)
    print_anchor_run(run, archive)
    if not run.anchors:
        return complain("no TSA anchored the head; nothing was recorded", ExitCode.FAILED)
    return ExitCode.COMPLETE


def print_anchor_run(run: AnchorRun, archive: Archive) -> None:
    """Each anchor made (TSA, time, file) and each TSA's error, for people."""
    print(f"custody seq {run.seq} ({run.hash}):")
    anchors_dir = archive.custody.anchors_dir
    for anchor in run.anchors:
        print(f"  anchored by {anchor.tsa} at {anchor.gen_time}: {anchors_dir / anchor.token}")
    for error in run.errors:
        print(f"  not anchored: {error}")
