"""The parser of every command, and :func:`main`, which runs the one asked for.

Each command group registers its own commands (:func:`build_parser`, in the order
``--help`` lists them) and owns its runner; :data:`RUNNERS` says which runs which.
Checks every command shares (a ``--tsa-trust`` file that cannot be read) happen
here, once, before any runner starts. Any :class:`archive.errors.OsintCaptureError`
a command lets through ends here too, as one line on stderr and the error's own exit
code (:func:`capture.cli.exits.fail_with`): the one place errors become exit codes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from archive import __version__
from archive.datadir import BROWSER_SCRATCH_DIR
from archive.errors import OsintCaptureError
from archive.settings import CONFIG_ENV, load_settings
from capture import browser_scratch
from capture.cli import (
    access_log,
    analysing,
    capturing,
    cases,
    checking,
    config_command,
    custody,
    deleting,
    export_command,
    listing,
    migrating,
    people,
    serving,
    stamping,
    tokens,
    verifying,
    watching,
    working,
)
from capture.cli.exits import ExitCode, fail_with
from capture.cli.options import check_trust_files, default_data_dir

Runner = Callable[[argparse.Namespace, Path], int]

#: Each command's runner, given the parsed arguments and the data directory.
RUNNERS: dict[str, Runner] = {
    "capture": capturing.run_capture,
    "list": listing.run_list,
    "serve": serving.run_serve,
    "token": tokens.run_token,
    "user": people.run_user,
    "timestamp": stamping.run_timestamp,
    "export": export_command.run_export,
    "analyse": analysing.run_analyse,
    "verify": verifying.run_verify,
    "key": verifying.run_key,
    "custody": custody.run_custody,
    "watch": watching.run_watch,
    "config": config_command.run_config,
    "case": cases.run_case,
    "fsck": checking.run_fsck,
    "worker": working.run_worker,
    "migrate": migrating.run_migrate,
    "access-log": access_log.run_access_log,
    "delete": deleting.run_delete,
}

#: The command groups, in the order ``--help`` lists their commands.
_GROUPS = (
    capturing,
    listing,
    serving,
    tokens,
    working,
    stamping,
    export_command,
    analysing,
    verifying,
    custody,
    watching,
    config_command,
    people,
    cases,
    checking,
    migrating,
    access_log,
    deleting,
)

#: Commands made of actions, and where their action is: given none, they print their help.
_ACTIONS = {
    "watch": "watch_command",
    "custody": "custody_command",
    "config": "config_command",
    "case": "case_command",
    "user": "user_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="osint-capture",
        description="Capture web pages as sealed, verifiable evidence (WARC + SHA-256).",
    )
    parser.add_argument("--version", action="version", version=f"osint-capture {__version__}")
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="the account a command acts as (default: the owner, whose token is"
        " DATA/api-token); what it may do is that account's role's (docs/access.md)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return ExitCode.BAD_INPUT
    data_dir = getattr(args, "data", None) or default_data_dir()
    action = _ACTIONS.get(args.command)
    if action is not None and getattr(args, action) is None:
        parser.parse_args([args.command, "--help"])  # prints the help and exits
    try:
        with (
            settings_file(getattr(args, "config", None)),
            browser_scratch.kept_under((data_dir / BROWSER_SCRATCH_DIR).absolute()),
        ):
            load_settings(data_dir)  # bad settings are refused before any work starts
            check_trust_files(getattr(args, "tsa_trust", None))
            return RUNNERS[args.command](args, data_dir)
    except OsintCaptureError as exc:
        return fail_with(exc)


@contextmanager
def settings_file(path: Path | None) -> Iterator[None]:
    """``--config FILE`` as ``$OSINT_CAPTURE_CONFIG`` while the command runs: every
    archive the command opens (and every process it starts) reads the same settings."""
    if path is None:
        yield
        return
    before = os.environ.get(CONFIG_ENV)
    os.environ[CONFIG_ENV] = str(path.absolute())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = before
