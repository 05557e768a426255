"""The analysis queue's workers: their own pool, so a long transcript never holds up captures.

Runs are queued in the catalog (``analyses``), claimed oldest first and run in a
thread of the worker's own (its engines stay loaded on that thread: tesseract's
API is not thread-safe). Progress goes to the event stream
``<capture-id>/analysis-<n>`` (:func:`stream_id`); trusted time for the sealed
addendum is asked for right after sealing, and retried with the captures' when no
authority answered.

On start, runs that a crash left ``running`` are failed (their custody event says
so) and queued again once, as the next run (``retry_of`` in its request): a run
number is never reused, since the crashed run may have sealed some of its files.

In team mode other workers' runs are running, so nothing is recovered at start:
instead the thread that runs a run holds its lease for the whole run (a PostgreSQL
advisory lock on a connection of its own, :func:`capture.teamqueue.leases.held`), and
a periodic duty recovers a run that says ``running`` while its lease is free
(:mod:`capture.teamqueue.stalled_analyses`). The thread takes the lease after the
claim, so it reads the run again once it holds it: a run the duty recovered in between
is no longer ``running``, and is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from archive.catalog import AnalysisRow
from archive.datadir import Archive
from archive.evidence import trustedtime
from archive.evidence.custody_events import acting
from archive.evidence.trustedtime import TimestampConfig
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.runner import analyse
from capture.events import CaptureEvents
from capture.jobs import AnalysisQueue
from capture.progress_events import Event, RunEnded, StageEntered
from capture.recovery import recover_interrupted_analyses
from capture.teamqueue.leases import analysis_lease, held

log = logging.getLogger(__name__)

DEFAULT_ANALYSIS_WORKERS = 1


def stream_id(capture_id: str, number: int) -> str:
    """The event stream of one analysis run."""
    return f"{capture_id}/analysis-{number}"


class AnalysisWorkers:
    """The analysis workers of one data directory."""

    def __init__(
        self,
        archive: Archive,
        events: CaptureEvents,
        settings: AnalysisSettings,
        *,
        workers: int = DEFAULT_ANALYSIS_WORKERS,
        tsa: TimestampConfig | None = None,
    ) -> None:
        self.archive = archive
        self.queue = AnalysisQueue(lambda: archive.catalog)
        self.events = events
        self.settings = settings
        self.workers = workers
        self.tsa = tsa
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the workers (call :meth:`recover` first, in a thread)."""
        self._tasks = [
            asyncio.create_task(self._work(n), name=f"analysis-worker-{n}")
            for n in range(self.workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _work(self, number: int) -> None:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"analysis-{number}")
        engines = Engines(self.settings)
        loop = asyncio.get_running_loop()
        try:
            while True:
                row = await self.queue.take()
                try:
                    await loop.run_in_executor(thread, self._run, row, engines, loop)
                except Exception:  # the catalog or custody log refused: the next run may not
                    log.exception("analysis %s of %s ended in error", row.number, row.capture_id)
        finally:
            thread.submit(engines.close)
            thread.shutdown(wait=False)

    def _run(self, row: AnalysisRow, engines: Engines, loop: asyncio.AbstractEventLoop) -> None:
        with self._lease(row) as ours:
            if ours:
                self._run_leased(row, engines, loop)
            else:
                log.warning(
                    "analysis %s of %s was settled as interrupted before this worker held"
                    " its lease; not run here",
                    row.number,
                    row.capture_id,
                )

    @contextlib.contextmanager
    def _lease(self, row: AnalysisRow) -> Iterator[bool]:
        """Team mode: the run's lease held, and whether the run is still ``running`` (still
        this worker's) once it is; embedded: one process, nothing to hold."""
        settings = self.archive.settings
        if settings.queue != "postgresql":
            yield True
            return
        with held(settings.catalog, analysis_lease(row.capture_id, row.number)):
            now = self.archive.catalog.get_analysis(row.capture_id, row.number)
            yield now is not None and now.status == "running"

    def _run_leased(
        self, row: AnalysisRow, engines: Engines, loop: asyncio.AbstractEventLoop
    ) -> None:
        key = stream_id(row.capture_id, row.number)

        def progress(event: Event) -> None:
            loop.call_soon_threadsafe(self.events.publish, key, event)

        # analyse() ends every run sealed or failed; what it cannot record (the catalog
        # itself refusing) reaches the loop in _work, which logs it and goes on.
        done = analyse(row, archive=self.archive, engines=engines, progress=progress)
        if done.status == "done" and self.tsa is not None:
            progress(StageEntered("timestamp"))
            try:
                trustedtime.stamp_addendum(
                    self.archive,
                    row.capture_id,
                    row.number,
                    config=self.tsa,
                    actor=acting(row.requested_by, row.operator),
                )
            except Exception:
                log.exception("analysis %s of %s: time-stamping failed", row.number, row.capture_id)
        final = self.archive.catalog.get_analysis(row.capture_id, row.number) or done
        progress(RunEnded.of(final))

    def recover(self) -> None:
        """Runs a crash left ``running``: failed, and queued again once (blocking;
        embedded only)."""
        for outcome in recover_interrupted_analyses(self.archive):
            log.warning("%s", outcome)
