"""``osint-capture token [create | list | revoke]``: the tokens devices present.

Bare ``token`` prints ``DATA/api-token``, the owner's token (device ``this-computer``),
made on first use: on a laptop, the one thing to paste into the extension, as it always
was. ``token create`` makes a token for one person's device (an extension, a script) and
prints its secret, once: the catalog keeps only its SHA-256, so a lost one is revoked
(``token revoke``) and replaced, never shown again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive.catalog import TokenRow
from archive.datadir import TOKEN_FILE, Archive
from archive.people import Permission, changes, load_or_create_token
from archive.people.principal import Principal
from capture.cli.acting import acting
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    token = commands.add_parser(
        "token",
        help="print this computer's token (the owner's, made on first use); make, list and"
        " revoke people's device tokens",
    )
    data_option(token)
    actions = token.add_subparsers(dest="token_command", metavar="ACTION")
    create = actions.add_parser("create", help="a new token for one person's device")
    create.add_argument("--user", required=True, metavar="NAME", help="whose token")
    create.add_argument(
        "--name", required=True, metavar="DEVICE", help="which device (laptop, phone)"
    )
    create.add_argument("--json", action="store_true", help="print JSON")
    data_option(create)
    listing = actions.add_parser("list", help="live tokens (not their secrets)")
    listing.add_argument("--user", metavar="NAME", help="only this person's")
    listing.add_argument("--all", action="store_true", help="revoked tokens too")
    listing.add_argument("--json", action="store_true", help="print JSON")
    data_option(listing)
    revoke = actions.add_parser("revoke", help="refuse a token from its next request on")
    revoke.add_argument("name", metavar="DEVICE", help="the token's name")
    revoke.add_argument("--user", required=True, metavar="NAME", help="whose token")
    data_option(revoke)


def run_token(args: argparse.Namespace, data_dir: Path) -> int:
    if args.token_command is None:
        return _print_own(args, data_dir)
    with Archive.open(data_dir, create=False) as archive:
        by = acting(archive, data_dir, args.as_user)
        if args.token_command == "list":
            return _list(archive, by, args)
        if args.token_command == "create":
            done, secret = changes.create_token(archive, by, args.user, args.name)
            _say_created(done, secret, args.json)
        else:
            done = changes.revoke_token(archive, by, args.user, args.name)
            print(
                f"revoked {done.row.user}'s token {done.row.name!r}: refused from its next"
                f" request on; custody event {done.event.seq} ({done.event.action})"
            )
    return ExitCode.COMPLETE


def _print_own(args: argparse.Namespace, data_dir: Path) -> int:
    """This computer's token (each token binds to the first extension that uses it; a
    lost or re-installed extension gets a new token: ``token create``, ``token revoke``)."""
    print(load_or_create_token(data_dir / TOKEN_FILE))
    return ExitCode.COMPLETE


def _say_created(done: changes.Recorded[TokenRow], secret: str, as_json: bool) -> None:
    """The secret on stdout, once; what to do with it on stderr."""
    row = done.row
    if as_json:
        shown = {**_token_dict(row), "token": secret, "custody_seq": done.event.seq}
        print(json.dumps(shown, indent=2))
    else:
        print(secret)
    print(
        f"{row.user}'s token {row.name!r}: paste it into the extension's options (Token),"
        " on that device only. It is shown this once; if it is lost, revoke it"
        f" (`osint-capture token revoke {row.name} --user {row.user}`) and make another."
        f" Custody event {done.event.seq} ({done.event.action}).",
        file=sys.stderr,
    )


def _list(archive: Archive, by: Principal, args: argparse.Namespace) -> int:
    """Someone's tokens: one's own, or (with ``manage-users``) anyone's."""
    user = args.user
    if user is None and not by.can(Permission.MANAGE_USERS):
        user = by.user
    if user != by.user:
        by.require(Permission.MANAGE_USERS)
    rows = archive.catalog.tokens(user, revoked=args.all)
    if args.json:
        print(json.dumps({"tokens": [_token_dict(row) for row in rows]}, indent=2))
        return ExitCode.COMPLETE
    for row in rows:
        print(_token_line(row))
    return ExitCode.COMPLETE


def _token_dict(row: TokenRow) -> dict[str, object]:
    found = dataclasses.asdict(row)
    del found["id"]
    return found


def _token_line(row: TokenRow) -> str:
    used = f"last used {row.last_used_at}" if row.last_used_at else "never used"
    state = f"revoked {row.revoked_at}" if row.revoked_at else used
    bound = f", bound to {row.origin}" if row.origin else ""
    return f"{row.user}  {row.name}  made {row.created_at}  {state}{bound}"
