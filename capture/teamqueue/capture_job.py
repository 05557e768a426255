"""What one capture job does on a worker: hold the capture's lease, settle a dead attempt,
claim the capture (taking the cookies lent for it, sealed), run it, and say in one line
how it ended.

A job may find its capture in any state, and each is an answer, never a guess:
``queued`` is claimed and run; ``running`` means the attempt before this one is over
(this job holds the lease, so no live worker is writing it) and gets the embedded
recovery, for that capture alone (:func:`capture.recovery.recover_capture`), then the
capture is run again or stays failed; anything else was finished by an earlier job
(a duplicate job, or one retried after its capture ended) and is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from archive.catalog import CaptureRow, Catalog
from archive.datadir import Archive
from archive.timeutil import now_rfc3339
from capture.jobs import Runner
from capture.recovery import recover_capture
from capture.teamqueue.leases import capture_lease

log = logging.getLogger(__name__)

#: Who is handed the sealed cookies a claim took from the catalog (``None``: none lent).
Lent = Callable[[str, bytes | None], None]

#: Why a capture found ``running`` by its job was interrupted.
WORKER_GONE = "the worker running this capture stopped (its heartbeat lapsed) while it ran"
#: Why a capture given up by a stopping worker was interrupted.
WORKER_STOPPED = "the worker running this capture was stopped before it finished"


async def run_capture_job(
    conninfo: str, archive: Callable[[], Archive], run: Runner, capture_id: str, *, lent: Lent
) -> str:
    """Run the job of ``capture_id``; what became of it, as logged. ``lent`` is handed
    the sealed cookies the claim took (before ``run`` is called)."""
    async with capture_lease(conninfo, capture_id):
        try:
            outcome = await _settled_and_run(archive, run, capture_id, lent)
        finally:  # ended, failed or set aside: no cookies of it stay in the catalog
            await asyncio.shield(asyncio.to_thread(_drop_cookies, archive, capture_id))
    log.info("capture %s: %s", capture_id, outcome)
    return outcome


async def _settled_and_run(
    archive: Callable[[], Archive], run: Runner, capture_id: str, lent: Lent
) -> str:
    catalog = archive().catalog
    row = await asyncio.to_thread(catalog.get_capture, capture_id)
    before = ""
    if row is not None and row.status == "running":
        before = await asyncio.to_thread(recover_capture, archive(), row, cause=WORKER_GONE)
        before = before.removeprefix(f"{capture_id}: ") + "; then "
        row = await asyncio.to_thread(catalog.get_capture, capture_id)
    if row is None:
        return "not in the catalog; nothing to run"
    if row.status != "queued":
        return f"{before}{row.status} already; nothing to run"
    claimed, sealed = await asyncio.to_thread(_claim, catalog, capture_id)
    if claimed is None or claimed.status != "running":
        return f"{before}taken by another job; nothing to run"
    lent(capture_id, sealed)
    try:
        await run(claimed)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(_give_up, archive(), capture_id))
        raise
    return before + _ended(await asyncio.to_thread(catalog.get_capture, capture_id))


def _claim(catalog: Catalog, capture_id: str) -> tuple[CaptureRow | None, bytes | None]:
    """The capture claimed, and the cookies lent for it taken, in one transaction: from
    the moment it runs, they are no longer in the catalog (a claim that takes nothing
    leaves them for the sweep)."""
    with catalog.transaction():
        row = catalog.claim_queued(capture_id, started_at=now_rfc3339())
        if row is None or row.status != "running" or not catalog.shared:
            return row, None
        return row, catalog.take_lent_cookies(capture_id)


def _drop_cookies(archive: Callable[[], Archive], capture_id: str) -> None:
    """Any cookies still lent for the capture deleted; a failure is logged, not raised
    over the job's own outcome (the queue's sweep deletes them later)."""
    try:
        archive().catalog.drop_lent_cookies(capture_id)
    except Exception as exc:
        log.warning("capture %s: its lent cookies were not deleted now (%s)", capture_id, exc)


def _give_up(archive: Archive, capture_id: str) -> None:
    """A stopping worker's unfinished capture: set aside and queued again (or failed),
    as a crash would have it, so the next worker starts it clean."""
    row = archive.catalog.get_capture(capture_id)
    if row is not None and row.status == "running":
        log.warning(
            "capture %s: %s", capture_id, recover_capture(archive, row, cause=WORKER_STOPPED)
        )


def _ended(row: CaptureRow | None) -> str:
    if row is None:
        return "gone from the catalog after running"
    if row.status in ("complete", "partial") and not row.reasons:
        return row.status
    return f"{row.status} ({'; '.join(row.reasons) or 'no reason recorded'})"
