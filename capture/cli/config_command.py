"""``osint-capture config check``: which engines the settings name, and whether each can
hold evidence (:func:`archive.engine_check.check_engines`); ``config lending-key``: a
fresh key for lending cookies across a team's machines (:mod:`capture.lending`).

Exits 0 when every engine was reached and is fit, 1 when any was not (each finding
says why); settings that cannot even be read stop earlier, with exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from archive.engine_check import Finding, check_engines
from archive.settings import load_settings
from capture.cli.exits import ExitCode
from capture.cli.options import data_option
from capture.lending import LENDING_KEY_ENV, BadLendingKey, LendingKey, new_lending_key

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    config = commands.add_parser("config", help="the installation's settings (docs/team.md)")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = actions.add_parser(
        "check", help="connect to the catalog, the store and the queue and say what was found"
    )
    data_option(check)
    check.add_argument(
        "--allow-unlocked",
        action="store_true",
        help="accept an S3 bucket without Object Lock (its evidence could be deleted)",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser(
        "lending-key",
        help="print a fresh key for OSINT_CAPTURE_LENDING_KEY (team mode's lent cookies)",
    )


def run_config(args: argparse.Namespace, data_dir: Path) -> int:
    if args.config_command == "lending-key":
        # Printed, never stored: the operator puts it in every server's and worker's
        # environment (a secret, like the database password: never a setting).
        print(new_lending_key())
        return ExitCode.COMPLETE
    settings = load_settings(data_dir)
    findings = check_engines(settings, allow_unlocked=args.allow_unlocked)
    if settings.queue == "postgresql":
        findings.append(_lending())
    ok = all(finding.ok for finding in findings)
    if args.json:
        body = {"ok": ok, "team": settings.team, "engines": [f.to_dict() for f in findings]}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(f"mode: {'team' if settings.team else 'embedded'}")
        for finding in findings:
            print(_text(finding))
    return ExitCode.COMPLETE if ok else ExitCode.FAILED


def _lending() -> Finding:
    """Whether this process could lend cookies to another machine's worker. Unset is
    fit (requests that lend cookies are refused, saying so); a malformed key is not."""
    found = Finding("lending", LENDING_KEY_ENV, "the environment")
    try:
        key = LendingKey.from_environ()
    except BadLendingKey as exc:
        found.problem = str(exc)
        return found
    found.ok = True
    found.facts["key"] = (
        "set (cookies lent by the extension are sealed with it)"
        if key is not None
        else "not set: requests that lend cookies are refused (409) until it is"
    )
    return found


def _text(finding: Finding) -> str:
    verdict = "ok" if finding.ok else "FAILED"
    lines = [f"{finding.concern}: {verdict}  {finding.setting}  (from {finding.origin})"]
    lines += [f"    {name}: {value}" for name, value in finding.facts.items()]
    if finding.problem:
        lines.append(f"    problem: {finding.problem}")
    return "\n".join(lines)
