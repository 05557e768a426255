"""``osint-capture analyse``, and the reading options ``capture`` and ``serve`` share.

``analyse ID...`` reads sealed captures in this process: each run is queued in the
catalog (so a server sharing the data directory sees it), run at once and sealed as
an addendum; a re-run is a new addendum. Exit 0: every run sealed and read all it
was asked to; 3: sealed, but some source could not be read (the reasons say which);
1: a run sealed nothing; 2: bad input (an unknown or unsealed capture).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from archive.catalog import AnalysisRow, Catalog, CatalogError
from archive.timeutil import now_rfc3339
from capture import trustedtime
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.ocr import OcrError, require_languages
from capture.analysis.options import DEFAULT_OCR_LANGUAGES, AnalysisOptions, AnalysisOptionsError
from capture.analysis.runner import analyse
from capture.trustedtime import TimestampConfig


def add_reading_options(parser: argparse.ArgumentParser, *, server: bool = False) -> None:
    """--ocr, --transcribe, --translate and their settings (a server's are its defaults)."""
    group = parser.add_argument_group(
        "reading the evidence (machine drafts, sealed as addenda: docs/analysis.md)"
    )
    whose = "every capture's default: " if server else ""
    group.add_argument(
        "--ocr",
        action="store_true",
        help=f"{whose}read text in the screenshot, the page's images and video frames",
    )
    group.add_argument(
        "--transcribe",
        action="store_true",
        help=f"{whose}a draft transcript of each downloaded video or audio file (slow)",
    )
    group.add_argument(
        "--translate",
        action="store_true",
        help=f"{whose}translate what was read with the --translation-model",
    )
    group.add_argument(
        "--ocr-languages",
        default=DEFAULT_OCR_LANGUAGES,
        metavar="LANGS",
        help=f"tesseract languages joined by + (default {DEFAULT_OCR_LANGUAGES})",
    )
    group.add_argument(
        "--language",
        metavar="CODE",
        help="the spoken language for transcripts (ar, en); otherwise the model guesses",
    )
    group.add_argument(
        "--translation-model",
        type=Path,
        metavar="DIR",
        help="a CTranslate2 translation model directory you supply (none: translation skipped)",
    )
    if server:
        group.add_argument(
            "--analysis-workers",
            type=int,
            default=1,
            metavar="N",
            help="analysis runs at once, apart from the capture workers (default 1)",
        )


def reading_options(args: argparse.Namespace, *, default_ocr: bool = False) -> AnalysisOptions:
    """The options as given; ``default_ocr``: OCR when none of the three was asked for.

    Raises :class:`AnalysisOptionsError` for options this machine cannot honour (an OCR
    language whose model is not installed), before anything is captured or queued.
    """
    ocr = args.ocr or (default_ocr and not (args.transcribe or args.translate))
    options = AnalysisOptions(
        ocr=ocr,
        transcribe=args.transcribe,
        translate=args.translate,
        languages=args.ocr_languages,
        language=args.language,
    )
    require_installed(options)
    return options


def require_installed(options: AnalysisOptions) -> None:
    """OCR languages whose models are missing are refused (AnalysisOptionsError), naming
    the package to install."""
    if options.ocr:
        try:
            require_languages(options.languages)
        except OcrError as exc:
            raise AnalysisOptionsError(str(exc)) from None


def add_analyse_parser(commands: Any, data_option: Any, tsa_options: Any) -> None:
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


def run_analyse(args: argparse.Namespace, data_dir: Path, catalog_name: str) -> int:
    try:
        options = reading_options(args, default_ocr=True)
    except AnalysisOptionsError as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return 2
    operator = args.operator or os.environ.get("USER") or None
    settings = AnalysisSettings.for_data_dir(data_dir, translation_model=args.translation_model)
    tsa = TimestampConfig.resolve(args.tsa, args.tsa_trust)
    engines = Engines(settings)
    worst = 0
    with Catalog.open(data_dir / catalog_name) as catalog:
        for capture_id in args.ids:
            try:
                row = analyse_now(capture_id, options, operator, data_dir, catalog, engines, tsa)
            except CatalogError as exc:
                print(f"osint-capture: {exc}", file=sys.stderr)
                worst = max(worst, 2)
                continue
            print_run(row, as_json=args.json)
            worst = max(worst, 1 if row.status == "failed" else (3 if row.reasons else 0))
    engines.close()
    return 1 if worst == 1 else worst


def analyse_now(
    capture_id: str,
    options: AnalysisOptions,
    operator: str | None,
    data_dir: Path,
    catalog: Catalog,
    engines: Engines,
    tsa: TimestampConfig,
) -> AnalysisRow:
    """Queue a run, run it here, stamp its addendum; what the catalog says of it after."""
    queued, _ = catalog.queue_analysis(capture_id, request=options.to_request(), operator=operator)
    row = catalog.claim_analysis(capture_id, queued.number, started_at=now_rfc3339())
    print(f"[analysis {row.number}] {capture_id}: {', '.join(options.steps())}", file=sys.stderr)
    done = analyse(row, data_dir=data_dir, catalog=catalog, engines=engines, progress=_progress)
    if done.status == "done":
        result = trustedtime.stamp_addendum(
            capture_id, done.number, data_dir=data_dir, catalog=catalog, config=tsa, actor=operator
        )
        for problem in result.problems:
            print(f"  trusted time: {problem}", file=sys.stderr)
    return catalog.get_analysis(capture_id, done.number) or done


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


def analysis_dict(row: AnalysisRow) -> dict[str, Any]:
    """A run as the CLI and the API show it."""
    return {
        "capture": row.capture_id,
        "number": row.number,
        "status": row.status,
        "machine_draft": True,
        "requested": row.request,
        "operator": row.operator,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "addendum_sha256": row.addendum_sha256,
        "steps": row.summary.get("steps", []),
        "readings": row.summary.get("readings", 0),
        "reasons": row.reasons,
        "timestamp": row.timestamp,
    }


def _progress(kind: str, data: dict[str, Any]) -> None:
    if kind == "stage":
        print(f"  [{data['stage']}]", file=sys.stderr, flush=True)
    elif kind == "reading":
        print(f"    {data['step']}: {data['what']} {data['uri'][:80]}", file=sys.stderr, flush=True)
