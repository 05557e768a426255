"""``osint-capture access-log [verify|anchor]``: who opened what, when; and the log's proof.

Without an action it lists the accesses (:class:`archive.evidence.access_log.Access`),
oldest first, only a capture's with ``--capture ID``, only a person's with ``--user
NAME``: the answer to "who opened this video". ``verify`` checks every event, link, the
head and the anchors and exits as ``custody verify`` does (0 intact and anchored, 4
intact but proven by nothing outside this machine, 1 any problem). ``anchor``
time-stamps the log's head now (the server does it on its schedule). Each needs the
``read-access-log`` permission (admins and auditors, docs/access.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.evidence.access_log import ACCESS_ANCHORS_DIR, Access
from archive.evidence.anchoring import anchor_head
from archive.evidence.checks import exit_status
from archive.evidence.tsa_roots import TrustStore
from archive.people import Permission, Principal
from capture.cli.acting import acting
from capture.cli.exits import ExitCode, complain
from capture.cli.options import anchor_trust_option, anchoring_config, data_option, tsa_options

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    """``access-log`` (the list), ``access-log verify`` and ``access-log anchor``."""
    log = commands.add_parser(
        "access-log", help="who viewed, downloaded, replayed or exported which capture"
    )
    log.add_argument("--capture", metavar="ID", help="only the accesses of this capture")
    log.add_argument("--user", metavar="NAME", help="only this person's accesses")
    log.add_argument("--json", action="store_true", help="print JSON")
    data_option(log)
    actions = log.add_subparsers(dest="access_command", metavar="ACTION")
    verify = actions.add_parser("verify", help="check every event, link and anchor of the log")
    data_option(verify)
    anchor_trust_option(verify)
    verify.add_argument("--json", action="store_true", help="print JSON")
    anchor = actions.add_parser("anchor", help="time-stamp the log's head now, with each TSA")
    data_option(anchor)
    tsa_options(anchor)
    for action in (verify, anchor):
        _keep_given_before(action)


def _keep_given_before(parser: argparse.ArgumentParser) -> None:
    """``access-log --data DIR verify`` as ``access-log verify --data DIR``: an option the
    action does not get keeps the value given before it (argparse would reset it)."""
    for option in parser._actions:
        if option.dest in ("data", "config", "json"):
            option.default = argparse.SUPPRESS


def run_access_log(args: argparse.Namespace, data_dir: Path) -> int:
    if args.access_command == "verify":
        return _run_verify(args, data_dir)
    if args.access_command == "anchor":
        return _run_anchor(args, data_dir)
    with Archive.open(data_dir, create=False) as archive:
        _reader(archive, data_dir, args)
        found = archive.access.entries(capture=args.capture, user=args.user)
    if args.json:
        print(json.dumps([a.to_dict() for a in found], indent=2, ensure_ascii=False))
    elif not found:
        print("no accesses recorded" + _filters(args))
    for access in [] if args.json else found:
        print(_line(access))
    return ExitCode.COMPLETE


def _run_verify(args: argparse.Namespace, data_dir: Path) -> int:
    trust = TrustStore.load(args.tsa_trust or ())
    with Archive.open(data_dir, create=False) as archive:
        _reader(archive, data_dir, args)
        report = archive.access.verify(trust)
    print(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
        if args.json
        else report.summary()
    )
    return exit_status(report.outcome)


def _run_anchor(args: argparse.Namespace, data_dir: Path) -> int:
    config = anchoring_config(args)
    with Archive.open(data_dir, create=False) as archive:
        who = _reader(archive, data_dir, args)
        run = anchor_head(archive.access.chain, config.anchoring(), actor=who.actor)
    print(f"access log seq {run.seq} ({run.hash}):")
    for made in run.anchors:
        print(f"  anchored by {made.tsa} at {made.gen_time}: {ACCESS_ANCHORS_DIR}/{made.token}")
    for error in run.errors:
        print(f"  not anchored: {error}")
    if not run.anchors:
        return complain("no TSA anchored the access log; nothing was recorded", ExitCode.FAILED)
    return ExitCode.COMPLETE


def _reader(archive: Archive, data_dir: Path, args: argparse.Namespace) -> Principal:
    """The person asking, once they may read the access log (else Denied, exit 2)."""
    who = acting(archive, data_dir, getattr(args, "as_user", None))
    who.require(Permission.READ_ACCESS_LOG)
    return who


def _filters(args: argparse.Namespace) -> str:
    said = [f"of capture {args.capture}"] if args.capture else []
    said += [f"by {args.user}"] if args.user else []
    return (" " + " ".join(said)) if said else ""


def _line(access: Access) -> str:
    """``TIME  ACTION  USER (DEVICE)  CAPTURES  [FILE sha256:…]``."""
    who = f"{access.user} ({access.device or '?'})"
    what = ",".join(access.captures)
    served = access.details.get("file")
    digest = access.details.get("sha256")
    extra = f"  {served}" if isinstance(served, str) else ""
    extra += f"  sha256:{digest[:16]}…" if isinstance(digest, str) else ""
    return f"{access.time}  {access.action:<10}  {who:<28}  {what}{extra}"
