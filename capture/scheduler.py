"""Watching targets: intervals, jitter, the scheduler loop, and what each run found.

A target is a URL captured again every interval. Its schedule lives in the catalog
(``targets.next_run_at``), so it survives restarts and the CLI can change it while
the server runs. The loop here, run inside the server, looks at the catalog about
once a second: every due target gets one queued capture, and its next run is
counted from *now* (plus a little jitter), not from the missed time, so a server
that was down for ten intervals catches up with one run, not ten. The catalog
refuses a run while the target still has one queued or running.

When a target's capture ends, :func:`record_run` compares it with the target's
previous sealed capture (``archive.watch.compare``) and writes the result on the
target's timeline: first, unchanged, changed, takedown, restored or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from archive.catalog import (
    FINISHED_STATUSES,
    MAX_CLAIM,
    CaptureRow,
    Catalog,
    RunPlan,
    TargetRow,
    TimelineEvent,
)
from archive.datadir import Archive
from archive.errors import BadInput
from archive.timeutil import rfc3339, utc_now
from archive.watch.compare import compare
from archive.watch.snapshot import Snapshot
from capture.requests import CaptureRequest, TargetRun

log = logging.getLogger(__name__)

#: The shortest interval allowed without ``allow_fast`` (shorter ones are for tests).
MIN_INTERVAL = 60
#: The longest interval: a year (anything longer is almost surely a typo).
MAX_INTERVAL = 366 * 24 * 3600
#: Jitter is at most this share of the interval...
JITTER_SHARE = 0.05
#: ...and never more than this many seconds.
JITTER_CAP = 60.0
#: The scheduler looks at the catalog at least this often (the CLI writes there too).
POLL_SECONDS = 1.0
#: Sealed statuses: a capture that can be compared with the next one.
SEALED_STATUSES = ("complete", "partial")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)


class IntervalError(BadInput):
    """An interval that cannot be used; the message names it and says what to write."""


def parse_interval(text: str, *, allow_fast: bool = False) -> int:
    """``"90s"``, ``"15m"``, ``"6h"`` or ``"2d"`` as seconds.

    Under a minute only with ``allow_fast``: re-capturing a real site every few
    seconds is abuse of it, and is only wanted against a local test page.
    """
    match = _INTERVAL.match(text or "")
    if match is None:
        raise IntervalError(
            f"interval {text!r} is not a whole number followed by s, m, h or d "
            "(for example 90s, 15m, 6h, 2d)"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise IntervalError(f"interval {text!r} is zero; give at least 1m")
    if seconds > MAX_INTERVAL:
        raise IntervalError(f"interval {text!r} is longer than a year; give at most 366d")
    if seconds < MIN_INTERVAL and not allow_fast:
        raise IntervalError(
            f"interval {text!r} is under a minute; give at least 1m "
            "(shorter intervals only with --allow-fast, for tests against local pages)"
        )
    return seconds


def format_interval(seconds: int) -> str:
    """The largest unit that divides ``seconds`` exactly: 21600 -> ``"6h"``."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def jitter(target_id: int, interval_seconds: int, moment: str) -> float:
    """A small delay, the same for the same target and moment, different across targets.

    Many targets added together (or caught up together after a restart) would
    otherwise all fire in the same second, every interval, for ever. Derived from
    a hash rather than a random generator so a test can compute what to expect.
    """
    bound = min(interval_seconds * JITTER_SHARE, JITTER_CAP)
    digest = hashlib.sha256(f"{target_id}|{moment}".encode()).digest()
    return bound * int.from_bytes(digest[:8], "big") / 2**64


def next_run_at(target: TargetRow, now: datetime) -> str:
    """When the run after one starting ``now`` is due: a whole interval from now, plus jitter."""
    stamp = rfc3339(now)
    delay = target.interval_seconds + jitter(target.id, target.interval_seconds, stamp)
    return rfc3339(now + timedelta(seconds=delay))


def target_dict(target: TargetRow) -> dict[str, Any]:
    """A target as plain data, the one shape the CLI's JSON and the API share."""
    return {
        "id": target.id,
        "url": target.url,
        "case": target.case,
        "every": format_interval(target.interval_seconds),
        "interval_seconds": target.interval_seconds,
        "state": target.state,
        "next_run_at": target.next_run_at,
        "last_run_at": target.last_run_at,
        "operator": target.operator,
        "collector": target.collector,
        "device": target.device,
        "note": target.note,
        "created_at": target.created_at,
    }


def event_dict(event: TimelineEvent) -> dict[str, Any]:
    """A timeline event as plain data (CLI JSON and API)."""
    return {
        "id": event.id,
        "kind": event.kind,
        "summary": event.summary,
        "details": event.details,
        "capture_id": event.capture_id,
        "previous_capture_id": event.previous_capture_id,
        "created_at": event.created_at,
    }


class Scheduler:
    """Queues the runs of due targets, from the catalog, about once a second.

    ``on_queued`` is called after runs were queued (the service wakes its workers).
    ``default_timeout`` is the time budget of a run whose target does not name one.
    ``guard`` is :func:`record_run`'s, for schedulers on many machines.
    """

    def __init__(
        self,
        archive: Archive,
        *,
        on_queued: Callable[[], None],
        default_timeout: float,
        guard: Guard | None = None,
    ) -> None:
        self.archive = archive
        self.catalog = archive.catalog
        self.on_queued = on_queued
        self.default_timeout = default_timeout
        self.guard = guard
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the catalog now (a target was added or resumed through the API)."""
        self._wake.set()

    async def run(self) -> None:
        """The loop the service runs until it is cancelled; one bad tick does not end it."""
        while True:
            self._wake.clear()  # before the tick, so a wake-up during it is not lost
            try:
                queued = await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("the scheduler could not queue due targets; trying again")
                queued = []
            if queued:
                self.on_queued()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    def tick(self, now: datetime | None = None) -> list[CaptureRow]:
        """Queue one run of every target due by ``now``; return the captures queued.

        Each due target's last run is put on its timeline first; then the runs are
        claimed in one transaction per :data:`MAX_CLAIM` targets
        (:meth:`Catalog.claim_due_targets`), which checks each target again under its
        lock, so two schedulers on one catalog never queue the same run. A target whose
        run cannot be planned is logged and left for the next tick, not the others.
        """
        now = now or utc_now()
        stamp = rfc3339(now)
        plans: dict[int, RunPlan] = {}
        for target in self.catalog.due_targets(now=stamp):
            self._settle_last_run(target)
            try:
                plans[target.id] = RunPlan(
                    str(uuid.uuid4()),
                    next_run_at(target, now),
                    self._run_request(target).to_json(),
                )
            except Exception:
                log.exception("target %s: its run could not be planned", target.id)
        ids = list(plans)
        queued = []
        for start in range(0, len(ids), MAX_CLAIM):
            batch = {target_id: plans[target_id] for target_id in ids[start : start + MAX_CLAIM]}
            queued += self.catalog.claim_due_targets(now=stamp, plans=batch)
        for row in queued:
            log.info("target %s: run %s queued", row.target_id, row.id)
        return queued

    def _settle_last_run(self, target: TargetRow) -> None:
        """Make sure the target's last run is on its timeline before the next one starts.

        A run is finished in the catalog a moment before its worker writes the
        timeline event; without this, a fast schedule could queue (and even finish)
        the next run first, and compare it against a timeline one event short.
        """
        runs = self.catalog.list_captures(target_id=target.id)
        if not runs or runs[0].status not in FINISHED_STATUSES:
            return
        try:
            record_run(self.archive, runs[0].id, guard=self.guard)
        except Exception:
            log.exception("target %s: run %s is not on the timeline", target.id, runs[0].id)

    def _run_request(self, target: TargetRow) -> CaptureRequest:
        """What the worker needs beyond the capture row: budget and the schedule it ran on.

        The catalog copies the target's URL, case, note, operator, collector and device
        into the row; the request column keeps the rest (:meth:`CaptureRequest.to_json`).
        """
        timeout = target.request.get("timeout", self.default_timeout)  # the target's own
        return CaptureRequest(
            url=target.url,
            case=target.case,
            note=target.note,
            operator=target.operator,
            collector=target.collector,
            device=target.device,
            timeout=float(timeout),  # type: ignore[arg-type]
            target=TargetRun(target.id, target.url, target.interval_seconds),
        )


# -- after a run ------------------------------------------------------------------------

#: One timeline event per run: the worker and the scheduler may both try to write it.
_RECORD_LOCK = threading.Lock()

#: A lock on one name across processes (team mode: the worker's and a scheduler's on
#: other machines), as a context manager.
Guard = Callable[[str], AbstractContextManager[object]]


def record_run(
    archive: Archive, capture_id: str, *, guard: Guard | None = None
) -> TimelineEvent | None:
    """Write on the target's timeline what its run ``capture_id`` found.

    A sealed run is compared with the target's previous sealed capture; a run that
    sealed nothing is a ``failed`` event with its reasons. Returns ``None`` when
    the capture is not a finished target run, or already has its event (so that
    recovery can call this again safely). ``guard`` holds the capture's name across
    processes while it looks and writes (the process's own lock covers one process).
    """
    catalog = archive.catalog
    held = guard(f"timeline {capture_id}") if guard is not None else nullcontext()
    with _RECORD_LOCK, held:
        row = catalog.get_capture(capture_id)
        if row is None or row.target_id is None or row.status not in FINISHED_STATUSES:
            return None
        if catalog.timeline_for_capture(capture_id) is not None:
            return None
        return _record(archive, row)


def _record(archive: Archive, row: CaptureRow) -> TimelineEvent:
    """Compare a finished run with the one before and write the event (see record_run)."""
    catalog = archive.catalog
    assert row.target_id is not None
    capture_id = row.id
    previous = previous_sealed(catalog, row)
    previous_id = previous.id if previous is not None else None
    if row.status == "failed":
        return catalog.add_timeline_event(
            row.target_id,
            "failed",
            "the run sealed nothing: " + ("; ".join(row.reasons) or "no reason recorded"),
            capture_id=capture_id,
            previous_capture_id=previous_id,
            details={"reasons": row.reasons},
        )
    try:
        current = Snapshot.load(archive.root, capture_id, catalog=catalog, store=archive.store)
        before = None
        if previous is not None:
            before = Snapshot.load(archive.root, previous.id, catalog=catalog, store=archive.store)
        result = compare(before, current, previous_kind=previous_kind(catalog, row, previous))
    except Exception as exc:
        # The capture is sealed and stays evidence; only the comparison is missing.
        log.exception("target %s: run %s could not be compared", row.target_id, capture_id)
        return catalog.add_timeline_event(
            row.target_id,
            "failed",
            f"the run was sealed but could not be compared with the one before: {exc}",
            capture_id=capture_id,
            previous_capture_id=previous_id,
            details={"sealed": True, "comparison_error": str(exc)},
        )
    return catalog.add_timeline_event(
        row.target_id,
        result.kind,
        result.summary,
        capture_id=capture_id,
        previous_capture_id=previous_id,
        details=dict(result.details),
    )


def previous_sealed(catalog: Catalog, row: CaptureRow) -> CaptureRow | None:
    """The target's newest sealed (and not deleted) capture created before ``row``."""
    assert row.target_id is not None
    for other in catalog.list_captures(target_id=row.target_id):
        earlier = (other.created_at, other.id) < (row.created_at, row.id)
        kept = other.deleted_at is None  # a deleted capture has nothing left to compare
        if other.id != row.id and other.status in SEALED_STATUSES and earlier and kept:
            return other
    return None


def previous_kind(catalog: Catalog, row: CaptureRow, previous: CaptureRow | None) -> str | None:
    """What the timeline said of the capture ``row`` is compared with.

    That is the event of the previous sealed capture; failed runs in between say
    nothing about the page, so "taken down, a failed run, back again" is still a
    restoration. Without such an event, the target's last event that compared pages.
    """
    if previous is not None:
        event = catalog.timeline_for_capture(previous.id)
        if event is not None and event.kind != "failed":
            return event.kind
    assert row.target_id is not None
    for event in reversed(catalog.timeline(row.target_id)):
        if event.kind != "failed" and event.capture_id != row.id:
            return event.kind
    return None


def settle_timeline(archive: Archive) -> list[TimelineEvent]:
    """Timeline events for finished target runs that have none (after a crash).

    The server can stop between a run's sealing and its timeline event, and a run
    failed by crash recovery never reaches a worker; both get their event here, on
    start, oldest first.
    """
    catalog = archive.catalog
    written = []
    for target in catalog.list_targets(include_removed=True):
        for row in reversed(catalog.list_captures(target_id=target.id)):
            if row.status not in FINISHED_STATUSES:
                continue
            try:
                event = record_run(archive, row.id)
            except Exception:
                log.exception("target %s: no timeline event for run %s", target.id, row.id)
                continue
            if event is not None:
                written.append(event)
    return written
