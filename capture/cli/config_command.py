"""``osint-capture config check``: which engines the settings name, and whether each can
hold evidence (:func:`archive.engine_check.check_engines`).

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


def run_config(args: argparse.Namespace, data_dir: Path) -> int:
    settings = load_settings(data_dir)
    findings = check_engines(settings, allow_unlocked=args.allow_unlocked)
    ok = all(finding.ok for finding in findings)
    if args.json:
        body = {"ok": ok, "team": settings.team, "engines": [f.to_dict() for f in findings]}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(f"mode: {'team' if settings.team else 'embedded'}")
        for finding in findings:
            print(_text(finding))
    return ExitCode.COMPLETE if ok else ExitCode.FAILED


def _text(finding: Finding) -> str:
    verdict = "ok" if finding.ok else "FAILED"
    lines = [f"{finding.concern}: {verdict}  {finding.setting}  (from {finding.origin})"]
    lines += [f"    {name}: {value}" for name, value in finding.facts.items()]
    if finding.problem:
        lines.append(f"    problem: {finding.problem}")
    return "\n".join(lines)
