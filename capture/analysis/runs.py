"""Analysis runs asked for by a person: refused early, run here and now, shown the same way.

The command line and the API both refuse options this machine cannot honour before
anything is queued (:func:`require_installed`) and show a run as the same dict
(:func:`analysis_dict`). :func:`analyse_now` runs one in the caller's process (the
``analyse`` and ``capture`` commands, and tests) rather than on the server's queue
workers (:mod:`capture.analysis.worker`), telling its ``progress`` what happens.
"""

from __future__ import annotations

from typing import Any

from archive.catalog import AnalysisRow
from archive.datadir import Archive
from archive.evidence import trustedtime
from archive.evidence.custody_events import acting
from archive.evidence.trustedtime import TimestampConfig
from archive.timeutil import now_rfc3339
from capture.analysis.engines import Engines
from capture.analysis.ocr import OcrError, require_languages
from capture.analysis.options import AnalysisOptions, AnalysisOptionsError
from capture.analysis.runner import analyse
from capture.progress_events import Progress, RunStarted, TrustedTimeResult, ignore


def require_installed(options: AnalysisOptions) -> None:
    """OCR languages whose models are missing are refused (AnalysisOptionsError), naming
    the package to install."""
    if options.ocr:
        try:
            require_languages(options.languages)
        except OcrError as exc:
            raise AnalysisOptionsError(str(exc)) from None


def analyse_now(
    capture_id: str,
    options: AnalysisOptions,
    operator: str | None,
    archive: Archive,
    engines: Engines,
    tsa: TimestampConfig,
    *,
    progress: Progress | None = None,
    requested_by: str | None = None,
    device: str | None = None,
) -> AnalysisRow:
    """Queue a run (asked for by the account ``requested_by`` through ``device``), run it
    here, stamp its addendum; what the catalog says of it after.

    Queued in the catalog first, so a server sharing the data directory sees the run
    and its number is never reused. ``progress`` hears :class:`RunStarted` once claimed,
    the runner's own events, and :class:`TrustedTimeResult` after stamping.
    """
    report = progress or ignore
    catalog = archive.catalog
    queued, _ = catalog.queue_analysis(
        capture_id,
        request=options.to_request(),
        operator=operator,
        requested_by=requested_by,
        device=device,
    )
    row = catalog.claim_analysis(capture_id, queued.number, started_at=now_rfc3339())
    report(RunStarted(row.number, capture_id, tuple(options.steps())))
    done = analyse(row, archive=archive, engines=engines, progress=report)
    if done.status == "done":
        result = trustedtime.stamp_addendum(
            archive, capture_id, done.number, config=tsa, actor=acting(requested_by, operator)
        )
        report(TrustedTimeResult(result.state, tuple(result.problems)))
    return catalog.get_analysis(capture_id, done.number) or done


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
