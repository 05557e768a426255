"""The stages that hand the capture to ``archive/``: prepare, seal, and time-stamp; and
the failure's setting aside.

The blocking file, catalog and signing work of preparing, sealing and failing runs
in a worker thread, one synchronous function per stage, in evidence order: a server
runs several captures and answers the API on one event loop, which a capture's
fsyncs must not hold.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from archive.catalog import CatalogError
from archive.evidence import sealing, trustedtime
from archive.evidence.custody_events import acting, device_details
from archive.evidence.trustedtime import TimestampConfig
from archive.manifest import Manifest
from archive.store import Artifact
from archive.timeutil import CLOCK_SOURCE, rfc3339, utc_now
from archive.warcfile import WarcFile
from capture import derived, media
from capture.asseen import AsSeen
from capture.progress_events import TrustedTimeResult
from capture.stages.opening import Opened
from capture.stages.outcome import items_of, reasons_of
from capture.stages.results import DerivedRecords, MediaResult, Prepared, Sealed, Stamped, Swept
from capture.stages.run import Run, to_thread_to_the_end
from capture.sysinfo import software_versions

log = logging.getLogger(__name__)


# -- prepare -------------------------------------------------------------------------------


def prepare(run: Run) -> Prepared:
    """The catalog row (unless claimed), the space reserve, the directory and the WARC file.

    Blocking work (each step writes and fsyncs), run in a worker thread.
    """
    request = run.request
    if not run.claimed:
        run.catalog.start_capture(
            run.capture_id,
            request.url,
            case=request.case,
            note=request.note,
            operator=request.operator,
            started_at=rfc3339(run.started_at),
            collector=request.collector,
            device=request.device,
        )
    run.store.keep_reserve()
    run.store.create_capture_dir(run.capture_id)
    spool_dir = run.store.make_spool_dir(run.capture_id)
    warc_name = f"{run.capture_id}.warc.gz"
    sink = run.store.create(run.capture_id, warc_name, "warc")
    return Prepared(warc_name, sink, WarcFile(sink), spool_dir)


# -- seal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sealing:
    """What the seal stage's thread needs, gathered on the event loop beforehand."""

    prepared: Prepared
    derived: DerivedRecords
    preserved: media.Preserved
    reasons: list[str]
    notes: list[str]
    items: list[dict[str, Any]]
    final_url: str | None
    http_status: int | None
    browser_version: str


async def seal(
    run: Run,
    prepared: Prepared,
    opened: Opened,
    derived_records: DerivedRecords,
    media_result: MediaResult,
    swept: Swept,
) -> Sealed:
    """The recorder closed; the reasons made once, from every stage's result; then the
    WARC, the screenshot, the media and the manifest sealed, in a worker thread."""
    recorder = opened.recorder
    await recorder.close()
    if recorder.spool_errors:
        # A body could not be stored (a full disk): the capture cannot be complete,
        # and the failure path names the disk and what to do.
        raise recorder.spool_errors[0]
    page_url = opened.page.url
    last = derived_records.main[-1] if derived_records.main else None
    given = _Sealing(
        prepared=prepared,
        derived=derived_records,
        preserved=media_result.preserved,
        reasons=reasons_of(run.request.notes, run.found),
        notes=list(swept.notes),
        items=items_of(recorder.exchanges, media_result.preserved),
        final_url=page_url if page_url != "about:blank" else (last.url if last else None),
        http_status=last.status if last else None,
        browser_version=opened.browser.info.version,
    )
    # In a thread: waiting for the WARC's last writes, the fsyncs, signing and the
    # catalog's transaction held the event loop (and with it the API and every
    # other capture) for hundreds of milliseconds (make bench ONLY=api, py-spy).
    return Sealed(await to_thread_to_the_end(_seal_stage, run, given))


def _seal_stage(run: Run, given: _Sealing) -> Manifest:
    """The seal stage's file, signing, catalog and custody work, in evidence order.

    Blocking work, run in a worker thread. Every artifact is sealed (hashed,
    fsynced, renamed) before the manifest lists it; :func:`archive.evidence.sealing.seal`
    then seals the manifest and its signature before the catalog says the capture
    is finished, and appends the custody event last.
    """
    given.prepared.warc.close()  # waits for the records still queued on the WARC's writer
    artifacts = [given.prepared.sink.seal()]
    screenshot = given.derived.screenshot
    if screenshot is not None:
        artifacts.append(_write_file(run, "screenshot.png", "screenshot", screenshot))
    artifacts.extend(given.preserved.artifacts)
    records = given.derived.records
    text = next((i.payload.read_all() for i in records if i.kind == "text"), b"")
    for item in records:
        item.payload.close()
    manifest = _seal(run, given, artifacts)
    run.sealed = True
    _index_text(run, manifest, text.decode("utf-8", errors="replace"))
    return manifest


def _seal(run: Run, given: _Sealing, artifacts: list[Artifact]) -> Manifest:
    request = run.request
    manifest = Manifest(
        id=run.capture_id,
        url=request.url,
        final_url=given.final_url,
        status="partial" if given.reasons else "complete",
        reasons=given.reasons,
        started_at=rfc3339(run.started_at),
        finished_at=rfc3339(utc_now()),
        case=request.case,
        note=request.note,
        operator=request.operator,
        warc=given.prepared.warc_name,
        artifacts=artifacts,
        software=software_versions(given.browser_version),
        http_status=given.http_status,
        title=given.derived.title,
        clock=CLOCK_SOURCE,
        items=given.items,
        extra={
            **_as_seen_summary(request.as_seen),
            **({"media": given.preserved.facts} if given.preserved.facts else {}),
            **({"history": list(request.history)} if request.history else {}),
            **({"notes": given.notes} if given.notes else {}),
            **_scheduled_run(run),
        },
    )
    sealing.seal(
        run.archive,
        manifest,
        artifacts,
        event="captured" if request.target is None else "re-captured",
        event_details={
            **({} if request.target is None else {"target_id": request.target.id}),
            **device_details(request.device),
        },
        actor=acting(request.collector, request.operator),
    )
    return manifest


def _write_file(run: Run, name: str, kind: str, item: derived.Derived) -> Artifact:
    """A standalone copy of a derived record, byte-identical to the record's payload."""
    with run.store.create(run.capture_id, name, kind) as out:
        stream = item.payload.stream()
        while chunk := stream.read(1024 * 1024):
            out.write(chunk)
    assert out.sealed is not None
    return out.sealed


def _as_seen_summary(as_seen: AsSeen | None) -> dict[str, Any]:
    """What the manifest says of the investigator's own view (hashes, never cookies)."""
    if as_seen is None:
        return {}
    files = {
        name: {"sha256": item.sha256, "size": item.size}
        for name, item in (("screenshot", as_seen.screenshot), ("dom", as_seen.dom))
        if item is not None
    }
    return {
        "as_seen": {
            "files": files,
            "received_at": as_seen.info.get("received_at"),
            "cookies_lent": len(as_seen.cookies or []),
        }
    }


def _scheduled_run(run: Run) -> dict[str, Any]:
    """What the manifest says when this capture is a watched target's scheduled run."""
    request = run.request
    if request.target is None:
        return {}
    return {
        "scheduled_run": {
            "target_id": request.target.id,
            "url": request.url,
            "interval_seconds": request.target.interval_seconds,
        }
    }


def _index_text(run: Run, manifest: Manifest, text: str) -> None:
    """Make the sealed capture searchable; a failure here loses no evidence.

    A capture left out of the index is indexed from its sealed files before the
    dashboard's next search (:meth:`~archive.catalog.Catalog.unindexed_captures`).
    """
    try:
        run.catalog.index_text(
            manifest.id,
            url=manifest.final_url or manifest.url,
            title=manifest.title or "",
            text=text,
        )
    except CatalogError as exc:
        log.warning("capture %s is sealed but not searchable yet: %s", manifest.id, exc)


# -- a failure -----------------------------------------------------------------------------


def set_aside(run: Run, prepared: Prepared, reasons: list[str], failed_during: str) -> Manifest:
    """Nothing is sealed: the unsealed files moved aside, the catalog and custody told why.

    Blocking work, run in a worker thread.
    """
    prepared.warc.close()
    prepared.sink.close()
    moved = run.store.quarantine(run.capture_id)
    if moved is not None:
        reasons = [*reasons, f"unsealed files moved to {moved}"]
    manifest = _failed_manifest(run, reasons)
    sealing.record_failure(
        run.archive,
        run.capture_id,
        reasons=reasons,
        finished_at=manifest.finished_at,
        actor=acting(run.request.collector, run.request.operator),
        stage=failed_during,
        quarantined=moved is not None,
        device=run.request.device,
    )
    return manifest


def _failed_manifest(run: Run, reasons: list[str]) -> Manifest:
    request = run.request
    return Manifest(
        id=run.capture_id,
        url=request.url,
        final_url=None,
        status="failed",
        reasons=reasons,
        started_at=rfc3339(run.started_at),
        finished_at=rfc3339(utc_now()),
        case=request.case,
        note=request.note,
        operator=request.operator,
        warc=None,
        artifacts=[],
        software=software_versions(),
    )


# -- timestamp -----------------------------------------------------------------------------


async def time_stamp(run: Run, config: TimestampConfig) -> Stamped:
    """Trusted time for the sealed capture: a token from each configured authority.

    A failure leaves the capture sealed and marked ``pending`` for a later retry,
    and says so on the progress callback, never hidden.
    """
    try:
        stamped = await asyncio.to_thread(
            trustedtime.stamp,
            run.archive,
            run.capture_id,
            config=config,
            actor=acting(run.request.collector, run.request.operator),
        )
    except Exception as exc:
        # The capture is sealed; trusted time can come later. Say so, never hide it.
        log.warning("time-stamping capture %s failed: %s", run.capture_id, exc)
        await asyncio.to_thread(
            run.catalog.set_timestamp_state, run.capture_id, "pending", attempted=True
        )
        run.progress(TrustedTimeResult("pending", (str(exc),)))
        return Stamped("pending", (str(exc),))
    run.progress(TrustedTimeResult(stamped.state, tuple(stamped.problems)))
    return Stamped(stamped.state, tuple(stamped.problems))
