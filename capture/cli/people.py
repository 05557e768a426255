"""``osint-capture user add | list | disable | enable | reset-password | totp``: accounts.

Each change is :mod:`archive.people.changes`' (checked against the person acting,
recorded in custody); this module reads what the command line gives (a password on
standard input or at a prompt, a TOTP code) and prints what happened. A password is read,
never printed or echoed; the one secret printed is a new second factor's seed, which the
person must put into their authenticator app.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp

from archive.catalog import NotInCatalog, UserRow
from archive.datadir import Archive
from archive.errors import BadInput
from archive.people import Permission, Role, changes
from archive.people.principal import Principal
from capture.cli.acting import acting
from capture.cli.exits import ExitCode
from capture.cli.options import data_option

if TYPE_CHECKING:
    from capture.cli.options import Commands

#: The issuer an authenticator app shows beside the account.
TOTP_ISSUER = "osint-capture"


def register(commands: Commands) -> None:
    user = commands.add_parser("user", help="people's accounts (docs/access.md)")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION")
    add = actions.add_parser("add", help="add an account")
    add.add_argument("name", metavar="NAME", help="account name (lower case: amira, o.haddad)")
    add.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="what they do"
    )
    _password_option(add, "without it the account has no password: it uses tokens only")
    listing = actions.add_parser("list", help="every account, disabled ones too")
    listing.add_argument("--json", action="store_true", help="print JSON")
    data_option(listing)
    for action, text in (
        ("disable", "refuse the account's logins and tokens from now on; its sessions end"),
        ("enable", "let a disabled (or locked) account in again"),
        ("totp", "enrol a TOTP second factor: prints its secret, then asks for a code"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name", metavar="NAME", help="the account")
        data_option(parser)
    reset = actions.add_parser("reset-password", help="a new password; every session ends")
    reset.add_argument("name", metavar="NAME", help="the account")
    _password_option(reset, "without it the password is asked for twice at the terminal")


def _password_option(parser: argparse.ArgumentParser, without: str) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from standard input, one line ({without})",
    )
    data_option(parser)


def run_user(args: argparse.Namespace, data_dir: Path) -> int:
    with Archive.open(data_dir, create=False) as archive:
        by = acting(archive, data_dir, args.as_user)
        if args.user_command == "list":
            return _list(archive, by, args.json)
        if args.user_command == "totp":
            return _totp(archive, by, args.name)
        if args.user_command == "add":
            password = _read_password(args.name, asked=False) if args.password_stdin else None
            done = changes.add_user(archive, by, args.name, args.role, password=password)
        elif args.user_command == "reset-password":
            password = _read_password(args.name, asked=not args.password_stdin)
            done = changes.reset_password(archive, by, args.name, password)
        elif args.user_command == "disable":
            done = changes.disable_user(archive, by, args.name)
        else:
            done = changes.enable_user(archive, by, args.name)
    print(f"{done.row.name} ({done.row.role}): {_DONE[args.user_command]};{_event(done)}")
    if args.user_command == "add" and done.row.password_hash is None:
        print(
            f"{done.row.name} has no password: make a token for their extension with"
            f" `osint-capture token create --user {done.row.name} --name DEVICE`, or set one"
            f" with `osint-capture user reset-password {done.row.name}`",
            file=sys.stderr,
        )
    return ExitCode.COMPLETE


_DONE = {
    "add": "added",
    "reset-password": "new password, every session ended",
    "disable": "disabled, every session ended, tokens refused",
    "enable": "enabled",
}


def _event(done: changes.Recorded[object]) -> str:
    return f" custody event {done.event.seq} ({done.event.action})"


def _list(archive: Archive, by: Principal, as_json: bool) -> int:
    by.require(Permission.MANAGE_USERS)
    users = archive.catalog.users()
    if as_json:
        print(json.dumps({"users": [user.public() for user in users]}, indent=2))
        return ExitCode.COMPLETE
    width = max((len(user.name) for user in users), default=4)
    for user in users:
        print(f"{user.name:<{width}}  {user.role:<12}  {_signs_in(user):<22}  {_state(user)}")
    return ExitCode.COMPLETE


def _signs_in(user: UserRow) -> str:
    ways = ["password" if user.password_hash else "tokens only"]
    if user.totp_secret:
        ways.append("second factor")
    if user.oidc_subject:
        ways.append("OIDC")
    return ", ".join(ways)


def _state(user: UserRow) -> str:
    if user.disabled_at:
        return f"disabled since {user.disabled_at}"
    if user.locked_until:
        return f"locked until {user.locked_until}"
    return "active"


def _read_password(name: str, *, asked: bool) -> str:
    """One line of standard input, or (``asked``) the terminal, twice; never echoed."""
    if not asked:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput(f"no password for {name} on standard input (--password-stdin)")
        return password
    if not sys.stdin.isatty():
        raise BadInput(
            f"no terminal to ask {name}'s new password at: give it as one line on standard"
            " input with --password-stdin"
        )
    first = getpass.getpass(f"new password for {name}: ")
    if getpass.getpass("the same again: ") != first:
        raise BadInput("the two passwords differ: nothing was changed")
    return first


def _totp(archive: Archive, by: Principal, name: str) -> int:
    """Enrol a second factor: the secret is shown, and kept only once a code from it is
    typed back (so a mistyped or unscanned secret never locks anyone out)."""
    if name != by.user:
        by.require(Permission.MANAGE_USERS)
    if archive.catalog.user(name) is None:
        raise NotInCatalog(f"no user called {name!r} (see `osint-capture user list`)")
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    print(totp.provisioning_uri(name=name, issuer_name=TOTP_ISSUER))
    print(f"secret: {secret}", flush=True)
    print(
        f"Add it to {name}'s authenticator app (scan the otpauth:// address as a QR code,"
        " or type the secret), then type the 6-digit code it shows:",
        file=sys.stderr,
        flush=True,
    )
    code = sys.stdin.readline().strip().replace(" ", "")
    if not totp.verify(code, valid_window=1):
        raise BadInput(
            f"that code does not match the new secret: nothing was kept, {name}'s second"
            " factor is as it was; run `osint-capture user totp` again"
        )
    done = changes.enrol_second_factor(archive, by, name, secret)
    print(f"second factor enrolled for {name};{_event(done)}")
    return ExitCode.COMPLETE
