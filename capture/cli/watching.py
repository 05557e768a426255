"""``osint-capture watch add|list|show|pause|resume|remove``: pages re-captured on a schedule.

Targets are rows of the catalog; this command only writes and reads them. The
running server's scheduler (:mod:`capture.scheduler`) picks changes up and makes the
captures, so ``add`` works without a server and its first run waits for one. Bad input
(a URL, an interval, a case name, an unknown or removed target) exits 2, each refused
by its own error (:mod:`archive.errors`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.people import Permission, admit
from archive.timeutil import now_rfc3339
from capture.cli.acting import acting
from capture.cli.exits import ExitCode, complain
from capture.cli.listing import capture_dict
from capture.cli.options import data_option
from capture.scheduler import (
    event_dict,
    format_interval,
    parse_interval,
    target_dict,
)
from capture.urls import validate_url

if TYPE_CHECKING:
    from capture.cli.options import Commands

#: What ``pause``, ``resume`` and ``remove`` set a target's state to.
_STATES = {"pause": "paused", "resume": "active", "remove": "removed"}


def register(commands: Commands) -> None:
    """``osint-capture watch``: targets the running server re-captures on a schedule."""
    watch = commands.add_parser(
        "watch", help="watch pages: re-capture them on a schedule (the server runs them)"
    )
    actions = watch.add_subparsers(dest="watch_command", metavar="ACTION")
    _add_parser(actions)
    listing = actions.add_parser("list", help="list watched targets")
    listing.add_argument("--all", action="store_true", help="include removed targets")
    data_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one target and its timeline")
    show.add_argument("id", type=int, metavar="ID")
    data_option(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (
        ("pause", "stop re-capturing a target for now"),
        ("resume", "re-capture a paused target again (a missed run is caught up once)"),
        ("remove", "stop watching a target for good (its captures are kept)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int, metavar="ID")
        data_option(action)


def _add_parser(actions: Commands) -> None:
    add = actions.add_parser("add", help="watch a URL: capture it now, then every INTERVAL")
    add.add_argument("url", help="http or https URL of the page")
    add.add_argument(
        "--every", required=True, metavar="INTERVAL", help="how often, e.g. 90s, 15m, 6h, 2d"
    )
    add.add_argument("--case", help="case its captures belong to (created if new)")
    add.add_argument("--note", help="free text kept with every capture of it")
    add.add_argument("--operator", help="who watches it (default: $USER)")
    add.add_argument(
        "--allow-fast",
        action="store_true",
        help="allow intervals under a minute (for tests against local pages only)",
    )
    data_option(add)
    add.add_argument("--json", action="store_true", help="print the target as JSON")


def run_watch(args: argparse.Namespace, data_dir: Path) -> int:
    """Targets are rows of the catalog; a running server's scheduler picks changes up."""
    command = args.watch_command
    if command == "add":
        url = validate_url(args.url)
        interval = parse_interval(args.every, allow_fast=args.allow_fast)
    with Archive.open(data_dir, create=command == "add") as archive:
        catalog = archive.catalog
        if command == "add":
            _add_target(archive, data_dir, args, url, interval)
        elif command == "list":
            targets = catalog.list_targets(include_removed=args.all)
            _print_targets(catalog, targets, args.json)
        elif command == "show":
            return _show_target(catalog, args.id, args.json)
        else:
            target = catalog.set_target_state(args.id, _STATES[command])
            print(f"target {target.id} {target.state}: {target.url}")
    return ExitCode.COMPLETE


def _add_target(
    archive: Archive, data_dir: Path, args: argparse.Namespace, url: str, interval: int
) -> None:
    """Watch ``url`` as the person the command acts as: its runs are theirs, in a case
    they may watch in (a new one is made theirs)."""
    who = acting(archive, data_dir, getattr(args, "as_user", None))
    who.require(Permission.WATCH)
    if args.case is not None:
        admit(archive, who, Permission.WATCH, args.case)
    target = archive.catalog.add_target(
        url,
        interval_seconds=interval,
        case=args.case,
        operator=args.operator or os.environ.get("USER") or None,
        note=args.note,
        next_run_at=now_rfc3339(),  # the first run is due at once
        collector=who.user,
        device=who.device,
    )
    _print_target(target, args.json)


def _print_target(target: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(target_dict(target), ensure_ascii=False))
        return
    every = format_interval(target.interval_seconds)
    print(f"watching {target.url} every {every} (target {target.id})")
    print(f"  first run due {target.next_run_at}; the running server (osint-capture serve)")
    print("  captures it on schedule")


def _print_targets(catalog: Catalog, targets: list[Any], as_json: bool) -> None:
    if as_json:
        rows = []
        for target in targets:
            timeline = catalog.timeline(target.id)
            row = target_dict(target)
            row["last_kind"] = timeline[-1].kind if timeline else None
            rows.append(row)
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not targets:
        print("no watched targets")
    for target in targets:
        timeline = catalog.timeline(target.id)
        last = timeline[-1].kind if timeline else "-"
        every = format_interval(target.interval_seconds)
        due = target.next_run_at if target.state == "active" else "-"
        print(
            f"{target.id:>4}  {target.state:<7}  every {every:<5}  next {due}  "
            f"last {last:<9}  {target.case or '-':<16}  {target.url}"
        )


def _show_target(catalog: Catalog, target_id: int, as_json: bool) -> int:
    target = catalog.get_target(target_id)
    if target is None:
        return complain(
            f"no target {target_id} (see `osint-capture watch list`)", ExitCode.BAD_INPUT
        )
    timeline = catalog.timeline(target_id)
    if as_json:
        body = target_dict(target)
        body["timeline"] = [event_dict(event) for event in timeline]
        body["captures"] = [capture_dict(row) for row in catalog.list_captures(target_id=target_id)]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return ExitCode.COMPLETE
    print(f"target {target.id}: {target.url}")
    every = format_interval(target.interval_seconds)
    print(f"  {target.state}, every {every}; next run {target.next_run_at}")
    if not timeline:
        print("  no runs yet")
    for event in timeline:
        print(f"  {event.created_at}  {event.kind:<9}  {event.capture_id or '-'}  {event.summary}")
    return ExitCode.COMPLETE
