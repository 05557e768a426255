"""``osint-capture case``: cases, who belongs to them, and their legal hold.

``create``, ``add-member``, ``remove-member`` and ``members`` are
:mod:`archive.people.changes`' (the person acting needs ``manage-cases``; each change is
a custody event in the case's own chain in team mode). ``hold`` and ``release`` are
:mod:`archive.holds`': each is a custody event with the operator and the reason; on an
S3 store the bucket's own legal hold is set on every stored object of the case's sealed
captures too.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.catalog import UserRow
from archive.datadir import Archive
from archive.evidence.custody_events import Event
from archive.holds import HoldChange, hold_case, release_case
from archive.people import Principal, changes
from capture.cli.acting import acting
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    case = commands.add_parser("case", help="cases: who belongs to them, their legal hold")
    actions = case.add_subparsers(dest="case_command", metavar="ACTION")
    _membership_parsers(actions)
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


def _membership_parsers(actions: Commands) -> None:
    create = actions.add_parser("create", help="a new case; its creator is a member")
    create.add_argument("name", metavar="NAME", help="the case's name")
    create.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="USER",
        help="someone else who belongs to it (repeatable)",
    )
    create.add_argument(
        "--sensitive",
        action="store_true",
        help="its evidence opens only in a session that passed a second factor",
    )
    data_option(create)
    for action, text in (
        ("add-member", "let a person into a case: they see its evidence"),
        ("remove-member", "take a person out of a case: its evidence closes to them"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name", metavar="CASE", help="the case")
        parser.add_argument("user", metavar="USER", help="the person")
        data_option(parser)
    members = actions.add_parser("members", help="who belongs to a case")
    members.add_argument("name", metavar="CASE", help="the case")
    members.add_argument("--json", action="store_true", help="print JSON")
    data_option(members)


def run_case(args: argparse.Namespace, data_dir: Path) -> int:
    if args.case_command in ("hold", "release"):
        return _run_hold(args, data_dir)
    with Archive.open(data_dir, create=False) as archive:
        by = acting(archive, data_dir, args.as_user)
        if args.case_command == "members":
            _print_members(changes.members(archive, by, args.name), args.name, args.json)
            return ExitCode.COMPLETE
        said, event = _change_members(archive, by, args)
    print(f"{said}; custody event {event.seq} ({event.action})")
    return ExitCode.COMPLETE


def _change_members(archive: Archive, by: Principal, args: argparse.Namespace) -> tuple[str, Event]:
    """Create a case, or add or remove one member; what to say, and the custody event."""
    if args.case_command == "create":
        made = changes.create_case(
            archive, by, args.name, members=args.member, sensitive=args.sensitive
        )
        sensitive = " (sensitive: a second factor opens it)" if args.sensitive else ""
        return f"case {args.name!r} created{sensitive}, members: {', '.join(made.row)}", made.event
    if args.case_command == "add-member":
        done = changes.add_member(archive, by, args.name, args.user)
        return f"{done.row} is now a member of case {args.name!r}", done.event
    done = changes.remove_member(archive, by, args.name, args.user)
    return f"{done.row} is no longer a member of case {args.name!r}", done.event


def _print_members(found: list[UserRow], case: str, as_json: bool) -> None:
    if as_json:
        shown = [{"name": user.name, "role": user.role} for user in found]
        print(json.dumps({"case": case, "members": shown}, indent=2, ensure_ascii=False))
        return
    for user in found:
        print(f"{user.name}  {user.role}")


def _run_hold(args: argparse.Namespace, data_dir: Path) -> int:
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
