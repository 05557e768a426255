"""The capture service: a queue in the catalog, a pool of workers, one shared browser.

The HTTP server is a thin layer over this. Requests are queued in the catalog, so
they survive a restart; a worker claims the oldest, runs the pipeline with the
shared Chromium, and publishes progress to :class:`~capture.events.CaptureEvents`.
On start, captures a crash left ``running`` have their unsealed files moved to
quarantine and are retried once, or failed with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog import (
    AnalysisRow,
    CaptureRow,
    Catalog,
    QueuedRequest,
    validate_case_name,
)
from archive.datadir import Archive
from archive.evidence import sealing, trustedtime
from archive.evidence.anchoring import anchor_if_due
from archive.evidence.custody import SYSTEM_ACTOR
from archive.evidence.trustedtime import ANCHOR_INTERVAL_SECONDS, TimestampConfig
from archive.timeutil import now_rfc3339
from capture import asseen, scheduler
from capture.analysis.engines import AnalysisSettings
from capture.analysis.options import AnalysisOptions
from capture.analysis.worker import DEFAULT_ANALYSIS_WORKERS, AnalysisWorkers
from capture.analysis.worker import stream_id as analysis_stream
from capture.asseen import AsSeen
from capture.browser import Browser
from capture.events import CaptureEvents
from capture.pipeline import (
    DEFAULT_TIMEOUT,
    CaptureFailed,
    CaptureRequest,
    capture_page,
)
from capture.queries import ArchiveQueries
from capture.scheduler import Scheduler
from capture.urls import validate_url

log = logging.getLogger(__name__)

#: A capture interrupted by a crash is tried this many times in all.
MAX_ATTEMPTS = 2
#: Workers look at the queue at least this often, even without a wake-up.
POLL_SECONDS = 2.0
#: Captures read nothing after sealing unless asked (the server's --ocr etc. change that).
NO_ANALYSIS = AnalysisOptions()
#: How often pending time-stamps are looked at (each has its own backoff).
TIMESTAMP_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Submission:
    """A capture request as the API received it (URL not yet checked)."""

    url: str
    case: str | None = None
    note: str | None = None
    operator: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    screenshot_png: bytes | None = None
    dom_html: str | None = None
    as_seen_info: dict[str, Any] | None = None
    cookies: list[dict[str, Any]] | None = None
    #: What to read once the capture is sealed; ``None``: the server's defaults.
    analysis: AnalysisOptions | None = None


class CaptureService(ArchiveQueries):
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
    ) -> None:
        self.data_dir = Path(data_dir)
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
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._cookies: dict[str, list[dict[str, Any]]] = {}  # memory only, per capture
        self._running: set[str] = set()
        self._scheduler: Scheduler | None = None
        self._enqueuer = _Enqueuer(lambda: self.archive.catalog)

    @property
    def archive(self) -> Archive:
        """The data directory's archive, opened by :meth:`start`."""
        if self._archive is None:
            raise RuntimeError("the capture service is not started")
        return self._archive

    async def start(self) -> None:
        self._archive = Archive.open(self.data_dir)
        # A crash between a custody line's fsync and its head update is settled here.
        self.archive.custody.reconcile_head()
        self.archive.signing_key()
        self.recovered = await asyncio.to_thread(self._recover)
        # Target runs that ended (or were failed above) without a timeline event get one.
        await asyncio.to_thread(scheduler.settle_timeline, self.archive)
        await self._ensure_browser()
        self._tasks = [
            asyncio.create_task(self._work(), name=f"capture-worker-{n}")
            for n in range(self.workers)
        ]
        self._scheduler = Scheduler(
            self.archive, on_queued=self._wake.set, default_timeout=DEFAULT_TIMEOUT
        )
        self._tasks.append(asyncio.create_task(self._scheduler.run(), name="scheduler"))
        self._analysis = AnalysisWorkers(
            self.archive,
            self.events,
            self.analysis_settings,
            workers=self.analysis_workers,
            tsa=self.tsa,
        )
        await asyncio.to_thread(self._analysis.recover)
        self._analysis.start()
        if self.tsa is not None and self.tsa.tsas:
            self._tasks.append(asyncio.create_task(self._retry_timestamps(), name="timestamps"))
            self._tasks.append(asyncio.create_task(self._anchor_custody(), name="anchors"))

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
        await asyncio.to_thread(self._enqueuer.close)
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    # -- requests ---------------------------------------------------------------------

    async def submit(self, submission: Submission) -> tuple[CaptureRow, bool]:
        """Queue a capture; an identical URL already queued or running is returned instead.

        As-seen files are written (and hashed) before the capture is queued, so what
        the investigator's browser sent is on disk the moment the request is accepted.
        """
        url = validate_url(submission.url)
        if submission.case is not None:
            validate_case_name(submission.case)  # here, so a bad name fails only its request
        capture_id = str(uuid.uuid4())
        as_seen = None
        if _sends_as_seen(submission):
            # In a thread: the files are written and fsynced before the request is accepted.
            # Only then: 200 plain requests at once each took a hop through the shared
            # thread pool for nothing, ahead of their own commit (make bench ONLY=api).
            as_seen = await asyncio.to_thread(self._stage_as_seen, capture_id, submission)
        request: dict[str, Any] = {"timeout": submission.timeout}
        analysis = submission.analysis or self.analysis_defaults
        if analysis.wanted:
            request["analysis"] = analysis.to_request()
        if as_seen is not None:
            as_seen.cookies = submission.cookies  # so the catalog row says they were sent
            request["as_seen"] = as_seen.to_request()
        row, created = await self._enqueuer.enqueue(
            QueuedRequest(
                capture_id, url, submission.case, submission.note, submission.operator, request
            )
        )
        if not created:
            asseen.discard_incoming(self.archive, capture_id)
            return row, False
        if submission.cookies:
            self._cookies[capture_id] = submission.cookies
        self.events.publish(capture_id, "state", {"stage": "queued"})
        self._wake.set()
        return row, True

    def _stage_as_seen(self, capture_id: str, submission: Submission) -> AsSeen:
        info = dict(submission.as_seen_info or {})
        info["received_at"] = now_rfc3339()
        as_seen = AsSeen(info=info)
        if submission.screenshot_png is not None:
            as_seen.screenshot = asseen.stage_file(
                self.archive,
                capture_id,
                "as-seen-view.png",
                submission.screenshot_png,
                "image/png",
            )
        if submission.dom_html is not None:
            as_seen.dom = asseen.stage_file(
                self.archive,
                capture_id,
                "as-seen-dom.html",
                submission.dom_html.encode("utf-8"),
                "text/html; charset=utf-8",
            )
        return as_seen

    def schedule_changed(self) -> None:
        """A target was added or resumed: let the scheduler look at the catalog now."""
        if self._scheduler is not None:
            self._scheduler.wake()

    def live_state(self, capture_id: str) -> dict[str, Any] | None:
        return self.events.state(capture_id)

    def health(self) -> dict[str, Any]:
        counts = self.archive.reader.count_captures()  # on the loop: never behind a commit
        alive = self._browser is not None and self._browser.alive
        return {
            "queued": counts["queued"],
            "running": counts["running"],
            "browser": "up" if alive else "down",
        }

    # -- workers ----------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            row = await asyncio.to_thread(
                self.archive.catalog.claim_next_queued, started_at=now_rfc3339()
            )
            if row is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                continue
            self._wake.set()  # another worker may take the next one
            await self._run(row)

    async def _run(self, row: CaptureRow) -> None:
        capture_id = row.id
        self._running.add(capture_id)
        cookies = self._cookies.pop(capture_id, None)
        as_seen_request = row.request.get("as_seen")
        as_seen = AsSeen.from_request(as_seen_request) if as_seen_request else None
        notes: list[str] = []
        if as_seen is not None:
            as_seen.cookies = cookies
            if as_seen_request.get("cookies_sent") and not cookies:
                notes.append(
                    "the cookies lent for this capture were lost when the server restarted "
                    "(they are never stored); captured without them"
                )
        request = CaptureRequest(
            url=row.url,
            case=row.case,
            note=row.note,
            operator=row.operator,
            timeout=float(row.request.get("timeout", DEFAULT_TIMEOUT)),
            as_seen=as_seen,
            tsa=self.tsa,
            notes=tuple(notes),
            history=tuple(row.reasons) if row.attempts > 1 else (),
            target_id=row.target_id,
            target_interval=_target_interval(row),
        )

        def progress(kind: str, data: dict[str, Any]) -> None:
            self.events.publish(capture_id, "state" if kind == "stage" else kind, data)

        try:
            browser = await self._ensure_browser()
            manifest = await capture_page(
                request, self.archive, browser=browser, progress=progress, capture_id=capture_id
            )
        except CaptureFailed as failure:
            await asyncio.to_thread(self._keep_incoming_with_quarantine, capture_id)
            await self._after_target_run(row)
            self.events.publish(capture_id, "failed", {"reasons": failure.manifest.reasons})
        except Exception as exc:  # the browser could not even start
            log.exception("capture %s could not run", capture_id)
            reasons = [f"capture could not run: {exc}"]
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    sealing.record_failure,
                    self.archive,
                    capture_id,
                    reasons=reasons,
                    finished_at=now_rfc3339(),
                    actor=row.operator,
                    stage="start",
                    quarantined=False,
                )
            await asyncio.to_thread(self._keep_incoming_with_quarantine, capture_id)
            await self._after_target_run(row)
            self.events.publish(capture_id, "failed", {"reasons": reasons})
        else:
            await asyncio.to_thread(asseen.discard_incoming, self.archive, capture_id)
            await self._after_target_run(row)
            sealed = await asyncio.to_thread(self.archive.catalog.get_capture, capture_id)
            analysis = await self._queue_requested_analysis(row)
            self.events.publish(
                capture_id,
                "done",
                {
                    "status": manifest.status,
                    "reasons": manifest.reasons,
                    "manifest_sha256": sealed.manifest_sha256 if sealed else None,
                    "analysis": analysis,
                },
            )
        finally:
            self._running.discard(capture_id)

    async def queue_analysis(
        self, capture_id: str, options: AnalysisOptions, *, operator: str | None
    ) -> tuple[AnalysisRow, bool]:
        """Queue an analysis run of a sealed capture (a run already queued is returned)."""
        row, created = await asyncio.to_thread(
            self.archive.catalog.queue_analysis,
            capture_id,
            request=options.to_request(),
            operator=operator,
        )
        key = analysis_stream(row.capture_id, row.number)
        if created:
            self.events.publish(key, "state", {"stage": "queued"})
        if self._analysis is not None:
            self._analysis.queued()
        return row, created

    async def _queue_requested_analysis(self, row: CaptureRow) -> dict[str, Any] | None:
        """The analysis the capture's request asked for, queued now that it is sealed.

        A watched target's scheduled run (queued by the scheduler, not through
        :meth:`submit`) is read as the server's defaults say.
        """
        wanted = row.request.get("analysis")
        if wanted is None and row.target_id is not None and self.analysis_defaults.wanted:
            wanted = self.analysis_defaults.to_request()
        if not wanted:
            return None
        try:
            options = AnalysisOptions.from_request(dict(wanted))
            queued, _ = await self.queue_analysis(row.id, options, operator=row.operator)
        except Exception:
            log.exception("capture %s: its analysis could not be queued", row.id)
            return None
        return {
            "number": queued.number,
            "href": f"/api/v1/captures/{row.id}/analyses/{queued.number}",
        }

    async def _after_target_run(self, row: CaptureRow) -> None:
        """A target's run ended: its timeline says how it compares with the run before.

        Done before the capture's last event is published, so whoever sees ``done``
        finds the timeline already written. A failure here is logged; the next start
        writes the missing event (:func:`capture.scheduler.settle_timeline`).
        """
        if row.target_id is None:
            return
        try:
            event = await asyncio.to_thread(scheduler.record_run, self.archive, row.id)
        except Exception:
            log.exception("capture %s: its target's timeline was not updated", row.id)
            return
        if event is not None:
            self.events.publish(
                row.id, "timeline", {"target_id": row.target_id, "kind": event.kind}
            )

    async def _retry_timestamps(self) -> None:
        """Captures sealed while no TSA answered get their tokens later, with backoff."""
        assert self.tsa is not None
        while True:
            await asyncio.sleep(TIMESTAMP_RETRY_SECONDS)
            try:
                await asyncio.to_thread(
                    trustedtime.stamp_pending,
                    self.archive,
                    config=self.tsa,
                    due_only=True,
                )
            except Exception:
                log.exception("retrying pending time-stamps failed; trying again later")

    async def _anchor_custody(self) -> None:
        """Every ``anchor_interval``, the custody head time-stamped by the TSAs, when
        events were added since the newest anchor: what the log holds is then proven
        outside this machine within the hour. A failure is logged and retried next time.
        """
        assert self.tsa is not None
        while True:
            await asyncio.sleep(self.anchor_interval)
            try:
                anchoring = self.tsa.anchoring()
                custody = self.archive.custody
                run = await asyncio.to_thread(anchor_if_due, custody, anchoring, actor=SYSTEM_ACTOR)
            except Exception:
                log.exception("anchoring the custody head failed; trying again later")
                continue
            if run is None:
                continue
            for anchor in run.anchors:
                log.info(
                    "custody seq %d anchored by %s at %s", run.seq, anchor.tsa, anchor.gen_time
                )
            for error in run.errors:
                log.warning("custody seq %d not anchored: %s", run.seq, error)

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

    # -- recovery ---------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """Captures a crash left ``running``: quarantine their files, retry once or fail.

        Each move to quarantine is a custody event (``quarantined``) before the
        capture is queued again or failed, so the chain shows it whatever comes next.
        """
        messages = []
        for row in self.archive.catalog.list_captures(status="running"):
            moved = self.archive.store.quarantine(row.id)
            self.archive.store.clear_work(row.id)  # scratch (spooled bodies, cut downloads)
            where = f"; unsealed files moved to {moved}" if moved else ""
            if moved is not None:
                sealing.record_quarantine(
                    self.archive,
                    row.id,
                    moved,
                    reason=f"the server stopped while this capture was running"
                    f" (attempt {row.attempts})",
                )
            if row.attempts < MAX_ATTEMPTS:
                reason = (
                    f"the server stopped while this capture was running "
                    f"(attempt {row.attempts}){where}; retried"
                )
                self.archive.catalog.requeue_capture(row.id, reason=reason)
            else:
                reason = (
                    f"the server stopped while this capture was running, "
                    f"attempt {row.attempts} of {MAX_ATTEMPTS}{where}; not retried again"
                )
                sealing.record_failure(
                    self.archive,
                    row.id,
                    reasons=[*row.reasons, reason],
                    finished_at=now_rfc3339(),
                    actor=row.operator,
                    stage="interrupted by a server crash",
                    quarantined=moved is not None,
                )
                self._keep_incoming_with_quarantine(row.id)
            messages.append(f"{row.id}: {reason}")
        return messages

    def _keep_incoming_with_quarantine(self, capture_id: str) -> None:
        """Received as-seen files of a capture that never sealed stay, set aside with it."""
        incoming = self.archive.incoming_dir(capture_id)
        if not incoming.exists():
            return
        target = self.archive.store.quarantine_root / f"{capture_id}-as-seen-{uuid.uuid4().hex[:8]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(incoming), str(target))


def _sends_as_seen(submission: Submission) -> bool:
    """Whether the request carries anything of the investigator's own view."""
    return not (
        submission.screenshot_png is None
        and submission.dom_html is None
        and not submission.cookies
        and not submission.as_seen_info
    )


def _target_interval(row: CaptureRow) -> int | None:
    """The interval a target's run was scheduled with, as the scheduler queued it."""
    target = row.request.get("target")
    if isinstance(target, dict) and isinstance(target.get("interval_seconds"), int):
        return target["interval_seconds"]
    return None


class _Enqueuer:
    """Group commit for the queue: requests that arrive while one commit is being
    written are queued together by the next, in one transaction.

    Each request is still answered only once its capture is committed. Without
    this, 200 requests at once waited for 200 fsyncs in a row (p99 771 ms with
    captures running, ``make bench ONLY=api``).

    The commits run on a thread of their own, not the shared default executor:
    there a batch waited up to ~460 ms to start, queued behind captures' blocking
    work (sealing, fsyncs) and other requests' hops. They go through the archive's
    one writer; the server's reads on the event loop (``GET /captures/{id}``) use
    the archive's reader instead, since waiting on the writer's lock made the loop
    wait out every commit (WAL lets the reader go on while a commit is written).
    """

    def __init__(self, catalog: Callable[[], Catalog]) -> None:
        self._catalog = catalog
        self._waiting: list[tuple[QueuedRequest, asyncio.Future[tuple[CaptureRow, bool]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Let the commit being written finish; a later enqueue starts a new thread."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _commit(self, items: list[QueuedRequest]) -> list[tuple[CaptureRow, bool]]:
        return self._catalog().enqueue_captures(items)

    async def enqueue(self, item: QueuedRequest) -> tuple[CaptureRow, bool]:
        future: asyncio.Future[tuple[CaptureRow, bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="catalog-enqueue")
            try:
                results = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self._commit, [item for item, _ in batch]
                )
            except Exception as exc:  # the catalog refused: every request of the batch says so
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
