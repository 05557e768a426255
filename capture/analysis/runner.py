"""One analysis run of a sealed capture, top to bottom.

1. **open**: the capture's manifest, checked against the hash the catalog recorded
   at sealing; every file read later is checked against the manifest.
2. **ocr**: the page's images, the full-page screenshot, keyframes of each video.
3. **transcribe**: a draft transcript of each downloaded audio or video file.
4. **translate**: every text read, with the operator's translation model, if any.
5. **seal**: the readings as an analysis WARC and a results file, the addendum
   listing them, its signature, the catalog row, the custody event ``analysed``,
   then the search index.

The capture itself is only ever read. A run that cannot open its capture, or finds
a sealed file changed, seals nothing: the catalog and the custody log say why
(``analysis-failed``). Trusted time for the addendum is asked for after sealing,
by the caller, as for captures.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from archive.catalog import AnalysisRow
from archive.datadir import Archive
from archive.evidence.addendum import (
    ANALYSIS_WARC,
    Addendum,
    addendum_name,
    results_name,
    signature_name,
    warc_name,
)
from archive.evidence.custody_events import acting, device_details
from archive.evidence.signing import sign_file_bytes
from archive.readings import analysis_warcinfo, results_document, text_lines
from archive.sealed_store import SealedStore
from archive.store import Artifact, StoreError
from archive.timeutil import now_rfc3339, utc_now
from archive.warcfile import WarcFile
from capture.analysis.engines import Engines
from capture.analysis.options import AnalysisOptions
from capture.analysis.sources import CaptureSources, SourceError
from capture.analysis.steps import Collected, ocr_step, transcribe_step, translate_step
from capture.progress_events import Progress, StageEntered, ignore

log = logging.getLogger(__name__)


def analyse(
    row: AnalysisRow,
    *,
    archive: Archive,
    engines: Engines,
    progress: Progress | None = None,
) -> AnalysisRow:
    """Run a claimed (``running``) analysis to its end: sealed, or failed with reasons.

    Blocking (OCR and speech models run here): call it from a worker thread.
    """
    report = progress or ignore
    store = archive.store
    options = AnalysisOptions.from_request(row.request)
    started_at = now_rfc3339()
    capture = archive.catalog.get_capture(row.capture_id)
    scratch = store.work_dir(f"analysis-{row.capture_id}-{row.number}")
    collected = Collected()
    try:
        if capture is None:
            raise SourceError(f"no capture {row.capture_id} in the catalog")
        report(StageEntered("open"))
        sources = CaptureSources.open(store, capture)
        scratch.mkdir(parents=True, exist_ok=True)
        if options.ocr:
            report(StageEntered("ocr"))
            ocr_step(sources, options, engines, collected, scratch, report)
        if options.transcribe:
            report(StageEntered("transcribe"))
            transcribe_step(sources, options, engines, collected, report)
        if options.translate:
            report(StageEntered("translate"))
            translate_step(engines, collected, report)
    except (SourceError, StoreError, OSError) as exc:
        return fail(row, [f"analysis could not read the capture: {exc}"], archive)
    except Exception as exc:  # a run never stays 'running' for a bug in one reader
        log.exception("analysis %s of capture %s failed", row.number, row.capture_id)
        return fail(row, [f"analysis failed: {exc}"], archive)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(StageEntered("seal"))
    try:
        return _seal(row, sources, options, collected, started_at, archive)
    except Exception as exc:  # a full disk, a refused custody write: the run says so
        log.exception("analysis %s of capture %s could not be sealed", row.number, row.capture_id)
        return fail(row, [f"the readings could not be sealed: {exc}"], archive)


def fail(row: AnalysisRow, reasons: list[str], archive: Archive) -> AnalysisRow:
    """A run that sealed nothing: the catalog row and the custody log say why."""
    failed = archive.catalog.fail_analysis(
        row.capture_id, row.number, reasons=reasons, finished_at=now_rfc3339()
    )
    archive.custody.append(
        "analysis-failed",
        actor=acting(row.requested_by, row.operator),
        captures=[row.capture_id],
        details={"analysis": row.number, "reasons": len(reasons), **device_details(row.device)},
    )
    return failed


def _seal(
    row: AnalysisRow,
    sources: CaptureSources,
    options: AnalysisOptions,
    collected: Collected,
    started_at: str,
    archive: Archive,
) -> AnalysisRow:
    """Write the readings, then the addendum that lists them; sign, record, log, index."""
    store, catalog = archive.store, archive.catalog
    cid, number = row.capture_id, row.number
    results = results_document(cid, number, collected.readings)
    files = [
        _write_warc(store, row, sources.manifest_sha256, collected),
        _write(store, cid, results_name(number), "analysis-results", results),
    ]
    addendum = Addendum(
        capture=cid,
        number=number,
        manifest_sha256=sources.manifest_sha256,
        started_at=started_at,
        finished_at=now_rfc3339(),
        operator=row.operator,
        requested=options.to_request(),
        outcomes=collected.steps,
        tools=_tools(collected),
        artifacts=files,
        reasons=collected.reasons,
        readings=len(collected.readings),
    )
    data = addendum.to_bytes()
    sealed = _write(store, cid, addendum_name(number), "addendum", data)
    key = archive.signing_key()
    signature = {**sign_file_bytes(key, data), "signs": sealed.path, "sha256": sealed.sha256}
    signature_bytes = (json.dumps(signature, indent=2) + "\n").encode("utf-8")
    sig = _write(store, cid, signature_name(number), "addendum-signature", signature_bytes)
    finished: list[AnalysisRow] = []

    def finish() -> None:
        summary = {
            "steps": [step.__dict__ | {"notes": list(step.notes)} for step in addendum.outcomes],
            "readings": addendum.readings,
        }
        finished.append(
            catalog.finish_analysis(
                cid,
                number,
                addendum_sha256=sealed.sha256,
                finished_at=addendum.finished_at,
                summary=summary,
                reasons=addendum.reasons,
                artifacts=[*files, sealed, sig],
            )
        )

    _log_analysed(row, addendum, sealed, key.fingerprint, archive, finish)
    catalog.index_analysis_text(cid, number, text_lines(collected.readings))
    return finished[0]


def _log_analysed(
    row: AnalysisRow,
    addendum: Addendum,
    sealed: Artifact,
    fingerprint: str,
    archive: Archive,
    finish: Callable[[], None],
) -> None:
    """The custody event of a sealed run: no text read, no URL (an export carries it).
    ``finish`` records the run in the catalog in the same step, under the log's lock."""
    archive.custody.append(
        "analysed",
        actor=acting(row.requested_by, row.operator),
        captures=[row.capture_id],
        details={
            "analysis": row.number,
            "addendum_sha256": sealed.sha256,
            "manifest_sha256": addendum.manifest_sha256,
            "readings": addendum.readings,
            "steps": {step.step: step.status for step in addendum.outcomes},
            "signed_by": fingerprint,
            **device_details(row.device),
        },
        together_with=finish,
    )


def _write_warc(
    store: SealedStore, row: AnalysisRow, manifest_sha256: str, collected: Collected
) -> Artifact:
    name = warc_name(row.number)
    with store.create(row.capture_id, name, ANALYSIS_WARC) as out:
        warc = WarcFile(out)
        warc.write(
            analysis_warcinfo(
                name,
                capture_id=row.capture_id,
                number=row.number,
                manifest_sha256=manifest_sha256,
                software=f"osint-capture {version('osint-capture')}",
            )
        )
        taken_at = utc_now()
        for reading in collected.readings:
            warc.write(reading.record(taken_at=taken_at))
        warc.close()
    assert out.sealed is not None
    return out.sealed


def _write(store: SealedStore, capture_id: str, name: str, kind: str, data: bytes) -> Artifact:
    with store.create(capture_id, name, kind) as out:
        out.write(data)
    assert out.sealed is not None
    return out.sealed


def _tools(collected: Collected) -> list[dict[str, Any]]:
    """Each distinct tool the readings name (settings are in each reading)."""
    seen: dict[str, dict[str, Any]] = {}
    for reading in collected.readings:
        tool = {k: v for k, v in reading.tool.items() if k != "settings"}
        seen.setdefault(json.dumps(tool, sort_keys=True), tool)
    return list(seen.values())
