"""``osint-capture custody verify|anchor``: check the chain of custody, anchor it.

``verify`` checks the log, its head and every anchor (:meth:`CustodyLog.verify`; in team
mode every chain of the catalog, or with ``--case NAME`` that case's chain) and exits as
every check of evidence does (:class:`archive.evidence.checks.ExitStatus`): 0 intact and
anchored, 4 intact but proven by nothing outside this machine, 1 any problem, 2 nothing
to read (no archive, an unreadable trust file: their errors' own code). ``anchor`` time-
stamps the head now with the configured TSAs
(:func:`archive.evidence.anchoring.anchor_head`; in team mode the head of each chain, or
of ``--case NAME``'s); ``export`` prints its own anchors with :func:`print_anchor_run`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.evidence.anchoring import AnchoredLog, AnchorRun, anchor_head
from archive.evidence.chain_names import case_chain
from archive.evidence.checks import exit_status
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.tsa_roots import TrustStore
from archive.people import Permission
from capture.cli.acting import acting
from capture.cli.exits import ExitCode, complain
from capture.cli.options import anchor_trust_option, anchoring_config, data_option, tsa_options

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
    anchor_trust_option(verify)
    verify.add_argument("--json", action="store_true", help="print JSON")
    _case_option(verify)
    anchor = actions.add_parser(
        "anchor", help="time-stamp the custody log's head now, with each configured TSA"
    )
    data_option(anchor)
    tsa_options(anchor)
    _case_option(anchor)


def _case_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--case",
        metavar="NAME",
        help="team mode: only this case's custody chain (embedded mode has one chain for all)",
    )


def run_custody(args: argparse.Namespace, data_dir: Path) -> int:
    if args.custody_command == "anchor":
        return _run_anchor(args, data_dir)
    return _run_verify(args, data_dir)


def _run_verify(args: argparse.Namespace, data_dir: Path) -> int:
    trust = TrustStore.load(args.tsa_trust or ())
    with Archive.open(data_dir, create=False) as archive:
        report = archive.custody.verify(trust, case=args.case)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return exit_status(report.outcome)


def _run_anchor(args: argparse.Namespace, data_dir: Path) -> int:
    config = anchoring_config(args)
    with Archive.open(data_dir, create=False) as archive:
        who = acting(archive, data_dir, getattr(args, "as_user", None))
        who.require(Permission.READ_CUSTODY)
        runs = [
            anchor_head(log, config.anchoring(), actor=who.actor) for log in _logs(archive, args)
        ]
    for run in runs:
        print_anchor_run(run, archive)
    if not runs or not all(run.anchors for run in runs):
        return complain("no TSA anchored a head; nothing was recorded for it", ExitCode.FAILED)
    return ExitCode.COMPLETE


def _logs(archive: Archive, args: argparse.Namespace) -> list[AnchoredLog]:
    """What ``anchor`` time-stamps: the file log, or (team mode) each chain or the case's."""
    custody = archive.custody
    if isinstance(custody, DbCustodyLog):
        names = [case_chain(args.case)] if args.case else custody.chains()
        return [custody.chain(name) for name in names]
    return [custody]  # type: ignore[list-item]


def print_anchor_run(run: AnchorRun, archive: Archive) -> None:
    """Each anchor made (TSA, time, file) and each TSA's error, for people."""
    chain = f" of chain {run.chain}" if run.chain else ""
    print(f"custody seq {run.seq}{chain} ({run.hash}):")
    custody = archive.custody
    for anchor in run.anchors:
        where = (
            f"anchors/{anchor.token} in the store"
            if isinstance(custody, DbCustodyLog)
            else str(custody.anchors_dir / anchor.token)  # type: ignore[attr-defined]
        )
        print(f"  anchored by {anchor.tsa} at {anchor.gen_time}: {where}")
    for error in run.errors:
        print(f"  not anchored: {error}")
