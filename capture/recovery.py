"""After a crash: captures left ``running`` are set aside, then retried once or failed;
analysis runs left ``running`` are failed, then run again once as a new run.

Embedded, recovery runs at the service's start, before any worker, on the archive
alone (no browser), over every capture and analysis run left ``running``. In team mode
other workers' are running, so recovery is only ever of one capture or run, the one
whose worker is known to be gone: its lease is free (:func:`recover_capture`, called
by the job that retries it; :func:`recover_analysis`, by the duty that finds stalled
runs, :mod:`capture.teamqueue.stalled_analyses`). Each move to quarantine is a custody
event (``quarantined``) before the capture is queued again or failed, and each failed
run an ``analysis-failed`` event, so the chain shows it whatever comes next.
"""

from __future__ import annotations

from archive.catalog import AnalysisRow, CaptureRow
from archive.datadir import Archive
from archive.evidence import sealing
from archive.evidence.custody_events import acting
from archive.timeutil import now_rfc3339
from capture.analysis.runner import fail

#: A capture interrupted by a crash is tried this many times in all.
MAX_ATTEMPTS = 2
#: What stopped an embedded server's captures (the start-up recovery's reason).
SERVER_STOPPED = "the server stopped while this capture was running"
#: What stopped an embedded server's analysis runs.
ANALYSIS_SERVER_STOPPED = "the server stopped during this run"


def recover_interrupted(archive: Archive) -> list[str]:
    """Every capture a crash left ``running``, set aside and retried or failed (blocking);
    one line per capture saying what became of it."""
    return [
        recover_capture(archive, row, cause=SERVER_STOPPED)
        for row in archive.catalog.list_captures(status="running")
    ]


def recover_capture(archive: Archive, row: CaptureRow, *, cause: str) -> str:
    """One capture left ``running`` by an attempt that is over (``cause`` says what
    ended it): its unsealed files set aside (a custody event), then queued again, or
    failed once it has had :data:`MAX_ATTEMPTS`. Returns what became of it."""
    moved = archive.store.quarantine(row.id)
    archive.store.clear_work(row.id)  # scratch (spooled bodies, cut downloads)
    where = f"; unsealed files moved to {moved}" if moved else ""
    if moved is not None:
        sealing.record_quarantine(
            archive, row.id, moved, reason=f"{cause} (attempt {row.attempts})"
        )
    if row.attempts < MAX_ATTEMPTS:
        reason = f"{cause} (attempt {row.attempts}){where}; retried"
        archive.catalog.requeue_capture(row.id, reason=reason)
    else:
        reason = f"{cause}, attempt {row.attempts} of {MAX_ATTEMPTS}{where}; not retried again"
        sealing.record_failure(
            archive,
            row.id,
            reasons=[*row.reasons, reason],
            finished_at=now_rfc3339(),
            actor=acting(row.collector, row.operator),
            stage="interrupted by a server crash",
            quarantined=moved is not None,
            device=row.device,
        )
        keep_incoming_with_quarantine(archive, row.id)
    return f"{row.id}: {reason}"


def keep_incoming_with_quarantine(archive: Archive, capture_id: str) -> None:
    """Received as-seen files of a capture that never sealed stay, set aside with it
    (in this machine's quarantine: a team's store fetches what it lacks first)."""
    archive.store.incoming.set_aside(capture_id)


def recover_interrupted_analyses(archive: Archive) -> list[str]:
    """Every analysis run a crash left ``running``, failed and run again once (blocking)."""
    return [
        recover_analysis(archive, row, cause=ANALYSIS_SERVER_STOPPED)
        for row in archive.catalog.interrupted_analyses()
    ]


def recover_analysis(archive: Archive, row: AnalysisRow, *, cause: str) -> str:
    """One analysis run left ``running`` by an attempt that is over (``cause`` says what
    ended it): failed as interrupted (an ``analysis-failed`` event), then queued again
    once, as the next run with ``retry_of`` in its request (a run number is never
    reused: the interrupted run may have sealed some of its files); a retry that is
    interrupted too stays failed. Returns what became of it."""
    fail(row, [f"interrupted: {cause}"], archive)
    which = f"{row.capture_id} analysis {row.number}"
    if "retry_of" in row.request:
        earlier = row.request["retry_of"]
        return f"{which}: {cause}; failed, not run again (it was analysis {earlier} run again)"
    again, _created = archive.catalog.queue_analysis(
        row.capture_id,
        request={**row.request, "retry_of": row.number},
        operator=row.operator,
        requested_by=row.requested_by,
        device=row.device,
    )
    return f"{which}: {cause}; failed, and queued to run again as analysis {again.number}"
