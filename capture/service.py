"""The capture service: a queue, a pool of workers, one shared browser.

The HTTP server is a thin layer over this. Requests are queued in the catalog, so
they survive a restart; a worker claims the oldest, runs the pipeline with the
shared Chromium, and publishes progress to :class:`~capture.events.CaptureEvents`.
Embedded, on start, captures a crash left ``running`` have their unsealed files
moved to quarantine and are retried once, or failed with the reason; the scheduler
and the trusted-time duties run here.

In team mode (``OSINT_CAPTURE_QUEUE=postgresql``) the queue is
:class:`capture.teamqueue.TeamQueue`: the service runs captures only when given
workers (``osint-capture worker``, or ``serve --workers N``), a capture is recovered
only by the job that finds its worker gone, and the scheduler and the trusted-time
duties are periodic jobs, each tick run by one of the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from archive.catalog import (
    CaptureRow,
    validate_case_name,
)
from archive.datadir import Archive
from archive.evidence import sealing
from archive.evidence.custody_events import acting
from archive.evidence.trustedtime import ANCHOR_INTERVAL_SECONDS, TimestampConfig
from archive.manifest import Manifest
from archive.people import Permission, Principal, admit
from archive.timeutil import now_rfc3339
from capture import asseen, scheduler, upkeep
from capture.analysis.engines import AnalysisSettings
from capture.analysis.options import AnalysisOptions
from capture.analysis.worker import DEFAULT_ANALYSIS_WORKERS, AnalysisWorkers
from capture.analysis_requests import AnalysisRequests
from capture.browser import Browser
from capture.events import CaptureEvents
from capture.jobs import CaptureQueue, CatalogQueue
from capture.pipeline import CaptureFailed, capture_page
from capture.progress_events import (
    CaptureDone,
    CaptureFailedEvent,
    Event,
    Queued,
    TimelineWritten,
)
from capture.queries import ArchiveQueries
from capture.recovery import keep_incoming_with_quarantine, recover_interrupted
from capture.requests import (
    DEFAULT_TIMEOUT,
    AsSeenUpload,
    CaptureRequest,
    LentCookies,
    claimed,
    fetched,
    stage_as_seen,
)
from capture.scheduler import Scheduler
from capture.urls import validate_url

log = logging.getLogger(__name__)

#: Captures read nothing after sealing unless asked (the server's --ocr etc. change that).
NO_ANALYSIS = AnalysisOptions()


class CaptureService(AnalysisRequests, ArchiveQueries):
    """Queue, workers and browser of one data directory; what the server reads and
    changes in its archive is asked here too (:class:`~capture.queries.ArchiveQueries`)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 2,
        browser_args: tuple[str, ...] = (),
        tsa: TimestampConfig | None = None,
        anchor_interval: float = ANCHOR_INTERVAL_SECONDS,
        analysis: AnalysisSettings | None = None,
        analysis_defaults: AnalysisOptions = NO_ANALYSIS,
        analysis_workers: int = DEFAULT_ANALYSIS_WORKERS,
        lease: float | None = None,
        listen_events: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        #: Team mode: whether this process's streams hear the events other processes
        #: relay (a server's do; a worker, which serves no stream, need not listen).
        self.listen_events = listen_events
        #: Team mode: how long a silent worker keeps its jobs (None: the queue's default).
        self.lease = lease
        #: What every capture reads after sealing unless its request says otherwise.
        self.analysis_defaults = analysis_defaults
        self.analysis_settings = analysis or AnalysisSettings.for_data_dir(self.data_dir)
        self.analysis_workers = analysis_workers
        self._analysis: AnalysisWorkers | None = None
        self.events = CaptureEvents()
        self.workers = workers
        self.browser_args = browser_args
        self.tsa = tsa
        self.anchor_interval = anchor_interval
        self.recovered: list[str] = []
        self._archive: Archive | None = None
        self._browser: Browser | None = None
        self._browser_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.cookies = LentCookies()
        self._running: set[str] = set()
        self._scheduler: Scheduler | None = None
        self._guard: scheduler.Guard | None = None
        self._closing: list[Callable[[], Awaitable[None]]] = []
        self.queue: CaptureQueue = CatalogQueue(lambda: self.archive.catalog)
        #: Whether the queue is the team's (set by :meth:`start` from the settings).
        self.team = False

    @property
    def archive(self) -> Archive:
        """The data directory's archive, opened by :meth:`start`."""
        if self._archive is None:
            raise RuntimeError("the capture service is not started")
        return self._archive

    async def start(self) -> None:
        self._archive = Archive.open(self.data_dir)
        self.team = self.archive.settings.queue == "postgresql"
        # A crash between a custody line's fsync and its head update is settled here.
        self.archive.custody.reconcile_head()
        self.archive.signing_key()
        if self.team:
            await self._open_team()
        else:
            self.recovered = await asyncio.to_thread(recover_interrupted, self.archive)
            # Target runs that ended (or were failed above) without a timeline event get one.
            await asyncio.to_thread(scheduler.settle_timeline, self.archive)
        if self.workers:
            await self._ensure_browser()
            work = self.queue.run_workers(self._run, self.workers)
            self._tasks.append(asyncio.create_task(work, name="capture-workers"))
        if not self.team:
            self._start_embedded_duties()
        self._analysis = AnalysisWorkers(
            self.archive,
            self.events,
            self.analysis_settings,
            workers=self.analysis_workers if self.workers else 0,
            tsa=self.tsa,
        )
        if not self.team:  # team mode: other workers' runs are running; none is recovered
            await asyncio.to_thread(self._analysis.recover)
        self._analysis.start()

    def _start_embedded_duties(self) -> None:
        """The scheduler's loop and the trusted-time loops, in this process."""
        self._scheduler = Scheduler(
            self.archive, on_queued=self.queue.wake, default_timeout=DEFAULT_TIMEOUT
        )
        self._tasks.append(asyncio.create_task(self._scheduler.run(), name="scheduler"))
        if self.tsa is not None and self.tsa.tsas:
            retry = upkeep.retry_timestamps(self.archive, self.tsa)
            anchor = upkeep.anchor_custody(self.archive, self.tsa, self.anchor_interval)
            self._tasks.append(asyncio.create_task(retry, name="timestamps"))
            self._tasks.append(asyncio.create_task(anchor, name="anchors"))

    async def _open_team(self) -> None:
        """The team's queue (with the duties its workers run once per tick), lent cookies
        sealed to cross machines, and events relayed between the team's processes."""
        from capture.teamqueue.opening import open_team

        team = await open_team(
            lambda: self.archive,
            self.events,
            tsa=self.tsa,
            anchor_interval=self.anchor_interval,
            lease=self.lease,
            listen=self.listen_events,
        )
        self.queue, self._guard, self.cookies = team.queue, team.guard, team.lending
        self._closing += [team.relay.stop, team.queue.aclose]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._scheduler = None
        if self._analysis is not None:
            await self._analysis.stop()
            self._analysis = None
        await asyncio.to_thread(self.queue.close)
        for close in self._closing:
            await close()
        self._closing = []
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    # -- requests ---------------------------------------------------------------------

    async def submit(
        self, who: Principal, request: CaptureRequest, upload: AsSeenUpload | None = None
    ) -> tuple[CaptureRow, bool]:
        """Queue a capture asked for by ``who``; an identical URL already queued or running
        for the same case (of no case: for ``who``) is returned instead.

        ``who`` must be allowed to capture in the request's case: a member of it, or the
        one naming a case that does not exist yet, who becomes its first member
        (:func:`archive.people.admit`); a case of others is ``Denied``. The capture is
        theirs (its collector), asked through their device.

        As-seen files are staged (and hashed) before the capture is queued, so what
        the investigator's browser sent is kept the moment the request is accepted.
        An ``analysis`` the request does not give is the server's defaults. Lent
        cookies that could not reach the capture are refused before anything is kept
        (team mode without a lending key: :class:`~capture.lending.LendingKeyMissing`).
        """
        url = validate_url(request.url)
        who.require(Permission.CAPTURE)
        if request.case is not None:
            case = validate_case_name(request.case)  # here: a bad name fails only its request
            if case not in who.cases:  # members pass without a hop to a thread
                await asyncio.to_thread(admit, self.archive, who, Permission.CAPTURE, case)
            else:
                who.require_case(Permission.CAPTURE, case)  # a sensitive one: second factor
        cookies = upload.cookies if upload is not None else None
        self.cookies.refuse_unless_able(cookies)
        request = replace(request, collector=who.user, device=who.device)
        capture_id = str(uuid.uuid4())
        as_seen = None
        if upload is not None and upload.sends_anything:
            # In a thread: the files are written and fsynced before the request is accepted.
            # Only then: 200 plain requests at once each took a hop through the shared
            # thread pool for nothing, ahead of their own commit (make bench ONLY=api).
            as_seen = await asyncio.to_thread(stage_as_seen, self.archive, capture_id, upload)
        analysis = request.analysis or self.analysis_defaults
        request = replace(
            request, url=url, as_seen=as_seen, analysis=analysis if analysis.wanted else None
        )
        # Before the commit: a worker may claim the capture as soon as it is committed
        # (team mode: sealed, and kept in the row's own transaction).
        lent = self.cookies.lend(capture_id, cookies)
        row, created = await self.queue.put(request.to_queue(capture_id, lent_cookies=lent))
        if not created:
            self.cookies.take(capture_id)
            await asyncio.to_thread(asseen.discard_incoming, self.archive, capture_id)
            return row, False
        self.events.publish(capture_id, Queued())
        self.queue.wake()
        return row, True

    def schedule_changed(self) -> None:
        """A target was added or resumed: let the scheduler look at the catalog now."""
        if self._scheduler is not None:
            self._scheduler.wake()

    def live_state(self, capture_id: str) -> dict[str, Any] | None:
        return self.events.state(capture_id)

    def health(self) -> dict[str, Any]:
        counts = self.archive.reader.count_captures()  # on the loop: never behind a commit
        alive = self._browser is not None and self._browser.alive
        # A team server that only enqueues has no browser: workers run the captures.
        browser = ("up" if alive else "down") if self.workers else "none (workers capture)"
        return {"queued": counts["queued"], "running": counts["running"], "browser": browser}

    # -- workers ----------------------------------------------------------------------

    async def _run(self, row: CaptureRow) -> None:
        capture_id = row.id
        self._running.add(capture_id)
        cookies = self.cookies.take(capture_id)

        def progress(event: Event) -> None:
            self.events.publish(capture_id, event)

        try:
            # In the try: a row whose request cannot be read fails with why, like a
            # browser that cannot start, and the worker goes on to the next.
            request = claimed(row, cookies, self.tsa, lost=self.cookies.lost(capture_id))
            if request.as_seen is not None:  # on this machine's disk: fetched in team mode
                request = await asyncio.to_thread(fetched, self.archive.store, capture_id, request)
            browser = await self._ensure_browser()
            manifest = await capture_page(
                request, self.archive, browser=browser, progress=progress, capture_id=capture_id
            )
        except CaptureFailed as failure:
            await self._ended_unsealed(row, failure.manifest.reasons)
        except Exception as exc:  # the browser could not even start, or the request is unreadable
            log.exception("capture %s could not run", capture_id)
            reasons = [f"capture could not run: {exc}"]
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    sealing.record_failure,
                    self.archive,
                    capture_id,
                    reasons=reasons,
                    finished_at=now_rfc3339(),
                    actor=acting(row.collector, row.operator),
                    stage="start",
                    quarantined=False,
                    device=row.device,
                )
            await self._ended_unsealed(row, reasons)
        else:
            await self._sealed(row, request, manifest)
        finally:
            self._running.discard(capture_id)

    async def _ended_unsealed(self, row: CaptureRow, reasons: list[str]) -> None:
        """Nothing was sealed: what the browser sent stays set aside; followers hear why."""
        await asyncio.to_thread(keep_incoming_with_quarantine, self.archive, row.id)
        await self._after_target_run(row)
        self.events.publish(row.id, CaptureFailedEvent(tuple(reasons)))

    async def _sealed(self, row: CaptureRow, request: CaptureRequest, manifest: Manifest) -> None:
        """Sealed: the received copies go, the timeline and any analysis follow, then
        followers hear ``done`` (so whoever sees it finds both already there)."""
        await asyncio.to_thread(asseen.discard_incoming, self.archive, row.id)
        await self._after_target_run(row)
        sealed = await asyncio.to_thread(self.archive.catalog.get_capture, row.id)
        analysis = await self._queue_requested_analysis(row, request)
        self.events.publish(
            row.id,
            CaptureDone(
                status=manifest.status,
                reasons=tuple(manifest.reasons),
                manifest_sha256=sealed.manifest_sha256 if sealed else None,
                analysis=analysis,
            ),
        )

    async def _after_target_run(self, row: CaptureRow) -> None:
        """A target's run ended: its timeline says how it compares with the run before.

        Done before the capture's last event is published, so whoever sees ``done``
        finds the timeline already written. A failure here is logged; the next start
        writes the missing event (:func:`capture.scheduler.settle_timeline`).
        """
        if row.target_id is None:
            return
        try:
            event = await asyncio.to_thread(
                scheduler.record_run, self.archive, row.id, guard=self._guard
            )
        except Exception:
            log.exception("capture %s: its target's timeline was not updated", row.id)
            return
        if event is not None:
            self.events.publish(row.id, TimelineWritten(row.target_id, event.kind))

    async def _ensure_browser(self) -> Browser:
        """The shared browser, started again if it died."""
        async with self._browser_lock:
            if self._browser is not None and not self._browser.alive:
                log.warning("the browser died; starting a new one")
                with contextlib.suppress(Exception):
                    await self._browser.close()
                self._browser = None
            if self._browser is None:
                self._browser = await Browser.launch(extra_args=self.browser_args)
            return self._browser
