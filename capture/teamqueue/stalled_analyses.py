"""Analysis runs whose worker is gone: found by their free lease, settled as embedded
recovery settles them at start-up (failed as interrupted, run again once).

An analysis worker's thread holds the lease of the run it runs for the whole run
(:mod:`capture.analysis.worker`); it ends with the holder's connection, so it is free
the moment the process dies (``kill -9``, a lost machine once the server's keepalives
give up). A periodic duty (:class:`~capture.teamqueue.queue.TeamQueue`'s
``stalled-analyses``) lists the runs that say ``running`` and, for each claimed longer
ago than ``grace``, takes its lease without waiting: held by a live worker, the run is
left alone; got, the run's attempt is over, and it is recovered
(:func:`capture.recovery.recover_analysis`) while the duty holds the lease. A worker
that claimed the run but had not taken its lease yet waits for it, then finds the run
no longer ``running`` and leaves it: a run is never recovered and run at once.
``grace`` keeps the duty off a run claimed a moment ago whose worker is about to take
its lease (that would be safe, but would fail a run for nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from archive.catalog import AnalysisRow
from archive.datadir import Archive
from archive.timeutil import parse_rfc3339, utc_now
from capture.recovery import recover_analysis
from capture.teamqueue.leases import analysis_lease, held_if_free

log = logging.getLogger(__name__)

#: Why a run found ``running`` with its lease free was interrupted.
ANALYSIS_WORKER_GONE = "the worker running this analysis stopped (its lease was free) while it ran"


async def recover_stalled_analyses(
    conninfo: str, archive: Callable[[], Archive], *, grace: float
) -> list[str]:
    """Every run that says ``running`` with its lease free (claimed over ``grace``
    seconds ago), recovered; what became of each, as logged."""
    rows = await asyncio.to_thread(archive().catalog.interrupted_analyses)
    outcomes = []
    for row in rows:
        if not _claimed_before(row, utc_now() - timedelta(seconds=grace)):
            continue
        outcome = await asyncio.to_thread(_recover_if_free, conninfo, archive(), row)
        if outcome is not None:
            log.warning("%s", outcome)
            outcomes.append(outcome)
    return outcomes


def _recover_if_free(conninfo: str, archive: Archive, row: AnalysisRow) -> str | None:
    """The run recovered while this holds its lease, if no worker holds it and the run
    still says ``running``; ``None`` when it was left alone."""
    with held_if_free(conninfo, analysis_lease(row.capture_id, row.number)) as free:
        if not free:
            return None
        now = archive.catalog.get_analysis(row.capture_id, row.number)
        if now is None or now.status != "running":
            return None
        return recover_analysis(archive, now, cause=ANALYSIS_WORKER_GONE)


def _claimed_before(row: AnalysisRow, moment: datetime) -> bool:
    """Whether the run was claimed before ``moment`` (a run with no readable claim time
    is taken as old: its lease still decides)."""
    if not row.started_at:
        return True
    try:
        return parse_rfc3339(row.started_at) <= moment
    except ValueError:
        return True
