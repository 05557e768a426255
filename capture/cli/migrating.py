"""``osint-capture migrate --to CONFIG``: an embedded archive copied into team storage
and verified (:mod:`archive.migrate`).

The source is the data directory's own embedded archive (its SQLite catalog and files,
whatever settings the environment holds); the target is exactly what the settings file
``CONFIG`` names (a PostgreSQL catalog and an S3 bucket with Object Lock). Exits 0 when
the copy verified, 1 when anything differs or was refused, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archive.migrate import MigrationReport, migrate, open_pair
from archive.settings import load_settings
from capture.cli.exits import ExitCode

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "migrate", help="copy an embedded archive into team storage (PostgreSQL + S3) and verify it"
    )
    parser.add_argument(
        "--to", type=Path, required=True, metavar="CONFIG",
        help="the team settings file (catalog = postgresql://..., store = s3://...)",
    )  # fmt: skip
    parser.add_argument(
        "--data", type=Path, default=None,
        help="the embedded archive's data directory (default: $OSINT_CAPTURE_DATA or ./data)",
    )  # fmt: skip
    parser.add_argument("--operator", help="who migrates (default: $USER)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_migrate(args: argparse.Namespace, data_dir: Path) -> int:
    operator = args.operator or os.environ.get("USER") or "operator"
    settings = load_settings(data_dir, config_file=args.to, environ={})
    source, target = open_pair(data_dir, settings)
    try:
        report = migrate(source, target, actor=operator)
    finally:
        target.close()
        source.close()
    print(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else _text(report)
    )
    return ExitCode.COMPLETE if report.ok else ExitCode.FAILED


def _text(report: MigrationReport) -> str:
    files = report.files
    lines = [f"{report.source} -> {report.target}"]
    if report.already_migrated:
        lines.append("already migrated: nothing copied; verified again")
    else:
        lines.append(
            f"files: {files.uploaded} uploaded, {files.already} already there"
            f" ({files.bytes} bytes re-hashed)"
        )
        lines.append("rows: " + ", ".join(f"{n} {t}" for t, n in report.rows.items()))
        lines.append(
            f"custody: imported as {report.imported_chain}; {report.chains_opened} team chain(s)"
            " opened with a 'migrated' event naming its head"
        )
    check = report.verification
    if check is not None:
        lines.append(
            f"verified: {check.files_checked} file(s) read back, {check.chains_checked} chain(s),"
            f" custody {check.custody_outcome}"
        )
        lines += [f"  {problem}" for problem in check.problems]
    lines.append("ok" if report.ok else "FAILED")
    return "\n".join(lines)
