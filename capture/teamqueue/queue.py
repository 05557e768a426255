"""The team queue: catalog rows as embedded, and a procrastinate job for each.

``put`` commits the capture's row (the catalog's group commit, as embedded) and then
defers its job, whose ``queueing_lock`` is the capture's id (a capture never waits in
the queue twice) and whose ``lock`` is its watched target's (a target's runs never
run at once, on any worker; a capture of no target locks itself). A row queued by
another path, or whose job was lost (a process gone between its commit and its
defer), gets its job from :meth:`TeamQueue.adopt` or the periodic sweep.

Leases: workers send heartbeats every third of :data:`LEASE_SECONDS`; a periodic
duty puts the jobs of a worker silent for longer back in the queue, and the job, run
again elsewhere, settles its capture (:mod:`capture.teamqueue.capture_job`). Analysis
runs have no job: another duty recovers those whose lease is free
(:mod:`capture.teamqueue.stalled_analyses`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from procrastinate.jobs import Status

from archive.catalog import CaptureRow, Catalog, QueuedRequest
from archive.datadir import Archive
from capture.jobs import CatalogQueue, Runner
from capture.teamqueue.capture_job import Lent, run_capture_job
from capture.teamqueue.duties import Duty, every
from capture.teamqueue.schema import ensure_schema
from capture.teamqueue.stalled_analyses import recover_stalled_analyses

log = logging.getLogger(__name__)

#: A worker silent this long is taken for dead and its jobs are run again elsewhere.
LEASE_SECONDS = 30.0
#: How long a stopping worker lets its captures finish before giving them up.
GRACE_SECONDS = 120.0
#: How often queued captures without a job are looked for.
SWEEP_SECONDS = 5.0
#: The procrastinate task of a capture, and the queues of captures and of duties.
CAPTURE_TASK = "osint-capture.capture"
CAPTURES = "captures"
UPKEEP = "upkeep"


def _forget(capture_id: str, sealed: bytes | None) -> None:
    """No one to hand lent cookies to (a queue opened without a service): they go."""


class TeamQueue:
    """The capture queue on PostgreSQL (see the module's docstring).

    ``duties`` are run periodically by the workers, each tick once across all of
    them; the queue adds its own (the sweep and the retry of stalled jobs). ``lent``
    hears the sealed cookies each claim takes from the catalog (none: they are dropped).
    """

    def __init__(
        self,
        conninfo: str,
        archive: Callable[[], Archive],
        *,
        duties: Sequence[Duty] = (),
        lease: float = LEASE_SECONDS,
        grace: float = GRACE_SECONDS,
        lent: Lent | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._lent: Lent = lent or _forget
        self._archive = archive
        self._rows = CatalogQueue(lambda: archive().catalog)
        self.lease = lease
        self.grace = grace
        self._run: Runner | None = None
        self.app = App(connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=6))
        self.app.task(name=CAPTURE_TASK, queue=CAPTURES)(self._capture)
        own = (
            Duty("sweep", every(SWEEP_SECONDS), self._sweep),
            Duty("stalled", every(max(1.0, lease / 3)), self._retry_stalled, locked=False),
            Duty("stalled-analyses", every(max(1.0, lease / 3)), self._recover_analyses),
        )
        for duty in (*duties, *own):
            self._register(duty)

    @property
    def catalog(self) -> Catalog:
        return self._archive().catalog

    async def open(self) -> None:
        """Make procrastinate's tables if no process has yet, and connect."""
        if await ensure_schema(self._conninfo):
            log.info("the job queue's tables were made in the catalog's database")
        await self.app.open_async()

    async def aclose(self) -> None:
        await self.app.close_async()

    # -- the queue's interface (capture.jobs.CaptureQueue) ----------------------------

    async def put(self, item: QueuedRequest) -> tuple[CaptureRow, bool]:
        row, created = await self._rows.put(item)
        if created:
            await self._defer(row)
        return row, created

    async def adopt(self, rows: Sequence[CaptureRow]) -> None:
        for row in rows:
            await self._defer(row)

    async def run_workers(self, run: Runner, count: int) -> None:
        """A procrastinate worker for captures (``count`` at once) and one for the duties."""
        self._run = run
        name = f"{socket.gethostname()}-{os.getpid()}"
        common: dict[str, Any] = {
            "install_signal_handlers": False,
            "update_heartbeat_interval": self.lease / 3,
            "stalled_worker_timeout": self.lease,
            "fetch_job_polling_interval": 2.0,
            "shutdown_graceful_timeout": self.grace,
        }
        captures = {"name": f"{name}-captures", "queues": [CAPTURES], "concurrency": count}
        upkeep = {"name": f"{name}-upkeep", "queues": [UPKEEP], "delete_jobs": "successful"}
        # A TaskGroup, not gather: cancelled, gather ended as soon as the idle upkeep worker
        # had stopped, while the captures worker still let its jobs finish; the service
        # then closed the app and the archive under them (a job's give-up found the
        # service stopped, and the worker hung on its way out).
        async with asyncio.TaskGroup() as group:
            for options in (captures, upkeep):
                group.create_task(self.app.run_worker_async(**common, **options))

    def wake(self) -> None:
        """Nothing to do: a deferred job wakes the workers itself (LISTEN/NOTIFY)."""

    def close(self) -> None:
        self._rows.close()

    # -- jobs --------------------------------------------------------------------------

    async def _defer(self, row: CaptureRow) -> None:
        lock = f"target {row.target_id}" if row.target_id is not None else f"capture {row.id}"
        deferrer = self.app.configure_task(
            CAPTURE_TASK, queueing_lock=row.id, lock=lock, queue=CAPTURES
        )
        with contextlib.suppress(AlreadyEnqueued):  # its job is waiting already
            await deferrer.defer_async(capture_id=row.id)

    async def _capture(self, capture_id: str) -> str:
        if self._run is None:
            raise RuntimeError("capture jobs run only under run_workers")
        return await run_capture_job(
            self._conninfo, self._archive, self._run, capture_id, lent=self._lent
        )

    def _register(self, duty: Duty) -> None:
        async def round_of(timestamp: int) -> None:
            try:
                await duty.run()
            except Exception:
                log.exception("the periodic duty %s failed; it runs again next tick", duty.name)

        task = self.app.task(
            name=f"osint-capture.{duty.name}",
            queue=UPKEEP,
            lock=f"duty {duty.name}" if duty.locked else None,
            queueing_lock=f"duty {duty.name}",
        )(round_of)
        self.app.periodic(cron=duty.cron, periodic_id=duty.name)(task)

    async def _sweep(self) -> None:
        """Queued (or orphaned running) captures without a waiting or running job get one;
        cookies lent for captures no longer queued (ended unclaimed) are deleted."""
        catalog = self.catalog
        dropped = await asyncio.to_thread(catalog.drop_unclaimed_cookies)
        if dropped:
            log.info("deleted the lent cookies of %d capture(s) no longer queued", dropped)

        def active() -> list[CaptureRow]:
            return catalog.list_captures(status="queued") + catalog.list_captures(status="running")

        rows = await asyncio.to_thread(active)
        if not rows:
            return
        manager = self.app.job_manager
        jobs = [
            *await manager.list_jobs_async(task=CAPTURE_TASK, status="todo"),
            *await manager.list_jobs_async(task=CAPTURE_TASK, status="doing"),
        ]
        have = {job.queueing_lock for job in jobs}
        for row in rows:
            if row.id not in have:
                log.info("capture %s had no job; one was made", row.id)
                await self._defer(row)

    async def _recover_analyses(self) -> None:
        """Analysis runs that say ``running`` while their lease is free: recovered."""
        await recover_stalled_analyses(self._conninfo, self._archive, grace=self.lease)

    async def _retry_stalled(self) -> None:
        """Jobs of workers silent for longer than the lease: a capture's goes back in the
        queue; a duty's round is ended and deleted, as a finished round is (the next tick
        runs the duty again), which frees its lock: retried instead, it would wait beside
        the round already queued, and a round left ``doing`` would stop its duty for good."""
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.lease):
            try:
                if job.task_name == CAPTURE_TASK:
                    await manager.retry_job(job)
                else:
                    await manager.finish_job(job, status=Status.FAILED, delete_job=True)
            except ConnectorException as exc:  # most often: another worker's round got there
                log.info(
                    "job %s was not settled in this round (%s); the next looks again", job.id, exc
                )
                continue
            log.warning(
                "job %s (%s) of worker %s, silent for over %gs: %s",
                job.id,
                job.call_string,
                job.worker_id,
                self.lease,
                "queued again" if job.task_name == CAPTURE_TASK else "ended; the duty runs on",
            )
