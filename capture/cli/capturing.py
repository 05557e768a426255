"""``osint-capture capture URL``: one page into a sealed WARC, then (if asked) read it.

Exit 0 complete, 3 partial (sealed, with reasons), 1 failed, 2 bad input, 130
interrupted; an error that stops it before a capture exists exits with its own code
(:mod:`archive.errors`). Reading the sealed capture (``--ocr`` and the others) is an
addendum: whatever it finds never changes the capture's exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from archive.catalog import validate_case_name
from archive.datadir import Archive
from archive.errors import OsintCaptureError
from archive.manifest import Manifest
from archive.people import Permission, admit
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.options import AnalysisOptions
from capture.analysis.runs import analyse_now
from capture.cli.acting import acting
from capture.cli.analysing import print_progress, print_run
from capture.cli.exits import ExitCode
from capture.cli.options import (
    add_reading_options,
    data_option,
    media_limits,
    media_options,
    positive_seconds,
    reading_options,
    tsa_config,
    tsa_options,
)
from capture.cli.progress import ProgressDisplay
from capture.pipeline import CaptureFailed, capture_page
from capture.requests import DEFAULT_TIMEOUT, CaptureRequest
from capture.urls import validate_url

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    capture = commands.add_parser("capture", help="capture one page into a sealed WARC")
    capture.add_argument("url", help="http or https URL of the page")
    capture.add_argument("--case", help="case the capture belongs to (created if new)")
    capture.add_argument("--note", help="free text kept with the capture")
    capture.add_argument(
        "--operator", help="a label of who made the capture, kept with it (default: $USER)"
    )
    data_option(capture)
    capture.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"the whole capture's time budget in seconds (default {DEFAULT_TIMEOUT:g})",
    )
    capture.add_argument("--json", action="store_true", help="print the manifest as JSON")
    media_options(capture)
    add_reading_options(capture)
    tsa_options(capture)


def run_capture(args: argparse.Namespace, data_dir: Path) -> int:
    url = validate_url(args.url)
    if args.case is not None:
        validate_case_name(args.case)  # before a browser starts for nothing
    reading = reading_options(args)
    request = CaptureRequest(
        url=url,
        case=args.case,
        note=args.note,
        operator=args.operator or os.environ.get("USER") or None,
        timeout=args.timeout,
        media=media_limits(args),
        tsa=tsa_config(args),
    )
    display = ProgressDisplay(sys.stderr, quiet=args.json)
    try:
        as_user = getattr(args, "as_user", None)  # the global --as, where there is one
        manifest = asyncio.run(_capture(request, data_dir, display, as_user))
    except KeyboardInterrupt:
        display.finish()
        print(f"interrupted: {url} was not sealed (recorded as failed)", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except CaptureFailed as failure:
        display.finish()
        _print_failure(url, failure.manifest, as_json=args.json)
        return ExitCode.FAILED
    except OsintCaptureError:
        display.finish()  # the progress line ends before main() says why
        raise
    display.finish()
    with Archive.open(data_dir) as archive:
        _print_sealed(manifest, archive, as_json=args.json)
        if reading.wanted:
            _read_after_capture(args, archive, manifest.id, reading, request.operator)
    return ExitCode.COMPLETE if manifest.status == "complete" else ExitCode.PARTIAL


async def _capture(
    request: CaptureRequest, data_dir: Path, display: ProgressDisplay, as_user: str | None
) -> Manifest:
    """The capture, made as the owner or ``as_user``, who must be allowed to capture in
    its case (a new case is made theirs), before a browser starts."""
    with Archive.open(data_dir) as archive:
        who = acting(archive, data_dir, as_user)
        who.require(Permission.CAPTURE)
        if request.case is not None:
            admit(archive, who, Permission.CAPTURE, request.case)
        request = replace(request, collector=who.user, device=who.device)
        return await capture_page(request, archive, progress=display)


def _print_failure(url: str, manifest: Manifest, *, as_json: bool) -> None:
    """A failed capture: its manifest with ``--json`` (stdout), else its reasons (stderr)."""
    if as_json:
        print(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))
        return
    print(f"failed: {url}", file=sys.stderr)
    for reason in manifest.reasons:
        print(f"  - {reason}", file=sys.stderr)


def _print_sealed(manifest: Manifest, archive: Archive, *, as_json: bool) -> None:
    """The sealed capture: each file with its hash and size, and its trusted time so far."""
    if as_json:
        print(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))
        return
    capture_dir = archive.store.capture_dir(manifest.id)
    print(f"{manifest.status}: {manifest.url}")
    if manifest.final_url and manifest.final_url != manifest.url:
        print(f"  final URL: {manifest.final_url}")
    print(f"  capture:   {manifest.id}")
    for reason in manifest.reasons:
        print(f"  reason:    {reason}")
    for artifact in manifest.artifacts:
        print(f"  {artifact.kind:<10} {capture_dir / artifact.path}")
        print(f"  {'':<10} sha256 {artifact.sha256}  ({artifact.size} bytes)")
    print(f"  manifest   {capture_dir / 'manifest.json'}")
    row = archive.catalog.get_capture(manifest.id)
    if row is not None and row.timestamp != "none":
        print(f"  trusted time: {row.timestamp}")


def _read_after_capture(
    args: argparse.Namespace,
    archive: Archive,
    capture_id: str,
    options: AnalysisOptions,
    operator: str | None,
) -> None:
    """The capture is sealed: read it now, as an addendum (its outcome never changes the
    capture's exit code: the capture is sealed whatever the reading finds)."""
    settings = AnalysisSettings.for_data_dir(archive.root, translation_model=args.translation_model)
    engines = Engines(settings)
    captured = archive.catalog.get_capture(capture_id)
    try:
        row = analyse_now(
            capture_id,
            options,
            operator,
            archive,
            engines,
            tsa_config(args),
            progress=print_progress,
            requested_by=captured.collector if captured else None,
            device=captured.device if captured else None,
        )
        if not args.json:
            print_run(row, as_json=False)
    except (OsintCaptureError, OSError) as exc:
        print(f"osint-capture: the capture is sealed; its analysis failed: {exc}", file=sys.stderr)
    finally:
        engines.close()
