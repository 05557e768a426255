"""``osint-capture analyse``: read sealed captures again, in this process.

Each run is queued in the catalog (so a server sharing the data directory sees it),
run at once and sealed as an addendum (:func:`capture.analysis.runs.analyse_now`); a
re-run is a new addendum. Exit 0: every run sealed and read all it was asked to; 3:
sealed, but some source could not be read (the reasons say which); 1: a run sealed
nothing; 2: bad input (an unknown or unsealed capture). ``capture`` prints the run it
reads after sealing with :func:`print_run` and :func:`print_progress` too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive.catalog import AnalysisRow
from archive.datadir import Archive
from archive.errors import OsintCaptureError
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.runs import analyse_now, analysis_dict
from capture.cli.exits import ExitCode, fail_with
from capture.cli.options import (
    add_reading_options,
    data_option,
    reading_options,
    tsa_config,
    tsa_options,
)
from capture.progress_events import (
    Event,
    ReadingTaken,
    RunStarted,
    StageEntered,
    TrustedTimeResult,
)

if TYPE_CHECKING:
    from capture.analysis.options import AnalysisOptions
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    analyse_cmd = commands.add_parser(
        "analyse",
        help="read sealed captures again: OCR, transcripts, translation (a new addendum each run)",
        description="Without --ocr, --transcribe or --translate, OCR is done. Exit 0 every run"
        " sealed; 3 sealed with sources that could not be read; 1 a run sealed nothing;"
        " 2 bad input.",
    )
    analyse_cmd.add_argument("ids", nargs="+", metavar="CAPTURE_ID", help="sealed captures")
    analyse_cmd.add_argument("--operator", help="who asks for it (default: $USER)")
    analyse_cmd.add_argument("--json", action="store_true", help="print each run as JSON")
    add_reading_options(analyse_cmd)
    data_option(analyse_cmd)
    tsa_options(analyse_cmd)


def run_analyse(args: argparse.Namespace, data_dir: Path) -> int:
    options = reading_options(args, default_ocr=True)
    # create=False: a mistyped --data must not become a new, empty archive
    with Archive.open(data_dir, create=False) as archive:
        return _analyse_each(args, archive, options)


def _analyse_each(args: argparse.Namespace, archive: Archive, options: AnalysisOptions) -> int:
    """Each capture in turn; one that cannot be read is said and the next one tried."""
    operator = args.operator or os.environ.get("USER") or None
    settings = AnalysisSettings.for_data_dir(archive.root, translation_model=args.translation_model)
    tsa = tsa_config(args)
    engines = Engines(settings)
    codes: list[int] = []
    with contextlib.closing(engines):
        for capture_id in args.ids:
            try:
                row = analyse_now(
                    capture_id,
                    options,
                    operator,
                    archive,
                    engines,
                    tsa,
                    progress=print_progress,
                )
            except OsintCaptureError as exc:  # an unknown or unsealed id: its own code (2)
                codes.append(fail_with(exc))
                continue
            print_run(row, as_json=args.json)
            codes.append(_exit_code(row))
    return _worst(codes)


#: Which code of several runs the command exits with, the most serious first.
_SEVERITY = (ExitCode.FAILED, ExitCode.BAD_INPUT, ExitCode.PARTIAL, ExitCode.COMPLETE)


def _worst(codes: list[int]) -> int:
    """A run that sealed nothing outranks a bad id, which outranks unread sources."""
    return next((code for code in _SEVERITY if code in codes), ExitCode.COMPLETE)


def _exit_code(row: AnalysisRow) -> ExitCode:
    """One run's code: sealed nothing, sealed with unread sources, or sealed all it was asked."""
    if row.status == "failed":
        return ExitCode.FAILED
    return ExitCode.PARTIAL if row.reasons else ExitCode.COMPLETE


def print_run(row: AnalysisRow, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(analysis_dict(row), indent=2, ensure_ascii=False))
        return
    print(f"{row.status}: analysis {row.number} of {row.capture_id} (machine draft)")
    for step in row.summary.get("steps", []):
        print(
            f"  {step['step']:<10} {step['status']}: {step['read']} read, {step['failed']} failed"
        )
        for note in step.get("notes", []):
            print(f"  {'':<10} {note}")
    for reason in row.reasons:
        print(f"  reason:    {reason}")
    if row.addendum_sha256:
        print(f"  addendum   analysis-{row.number}.addendum.json sha256 {row.addendum_sha256}")
        print(f"  trusted time: {row.timestamp}")


def print_progress(event: Event) -> None:
    """A run's progress on stderr: stdout is left to the result (and to ``--json``)."""
    match event:
        case RunStarted(number=number, capture=capture, steps=steps):
            print(f"[analysis {number}] {capture}: {', '.join(steps)}", file=sys.stderr)
        case StageEntered(stage=stage):
            print(f"  [{stage}]", file=sys.stderr, flush=True)
        case ReadingTaken(step=step, what=what, uri=uri):
            print(f"    {step}: {what} {uri[:80]}", file=sys.stderr, flush=True)
        case TrustedTimeResult(problems=problems):
            for problem in problems:
                print(f"  trusted time: {problem}", file=sys.stderr)
