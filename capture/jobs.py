"""The job queues: where work waits and where workers take it from.

One interface per kind of work (:class:`CaptureQueue` for captures,
:class:`AnalysisQueue` for analysis runs), so the workers do not care where a queue
lives. Today both are the catalog: a job is a ``queued`` row, committed before the
request is answered, so it survives a restart; a worker claims the oldest
(:class:`Claims`: a claim in a thread, then a wait for a wake-up or the next poll).
A team installation puts the capture queue on its PostgreSQL
(:class:`capture.teamqueue.TeamQueue`) behind the same calls: the queue drives the
workers (:meth:`CaptureQueue.run_workers`), so the service never knows which it has.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

from archive.catalog import AnalysisRow, CaptureRow, Catalog, QueuedRequest
from archive.timeutil import now_rfc3339

#: Workers look at the queue at least this often, even without a wake-up.
POLL_SECONDS = 2.0

_Job = TypeVar("_Job")

#: What a worker does with a claimed capture (the service's ``_run``).
Runner = Callable[[CaptureRow], Awaitable[None]]


class Claims(Generic[_Job]):
    """Workers taking jobs: ``claim()`` (blocking, in a thread) returns the next job or
    ``None``; with none, a worker waits for :meth:`wake` or the next poll."""

    def __init__(self, claim: Callable[[], _Job | None], *, poll: float = POLL_SECONDS) -> None:
        self._claim = claim
        self._poll = poll
        self._wake = asyncio.Event()

    async def take(self) -> _Job:
        while True:
            job = await asyncio.to_thread(self._claim)
            if job is not None:
                self._wake.set()  # another worker may take the next one
                return job
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    def wake(self) -> None:
        self._wake.set()


class CaptureQueue(Protocol):
    async def put(self, item: QueuedRequest) -> tuple[CaptureRow, bool]:
        """Queue a capture, answering once it is durable; an identical one waiting is
        returned instead (``created`` false)."""
        ...

    async def adopt(self, rows: Sequence[CaptureRow]) -> None:
        """Captures queued in the catalog by another path (the scheduler, recovery):
        make sure workers take them."""
        ...

    async def run_workers(self, run: Runner, count: int) -> None:
        """Claim captures and ``run`` each, ``count`` at a time, until cancelled; a
        capture is given to ``run`` already claimed (``running``)."""
        ...

    def wake(self) -> None:
        """Something was queued behind the queue's back: look now."""
        ...

    def close(self) -> None:
        """Let the commit being written finish (blocking)."""
        ...


class CatalogQueue:
    """The queue as capture rows of the catalog, written by group commit.

    Requests that arrive while one commit is being written are queued together by
    the next, in one transaction; each is still answered only once its capture is
    committed. Without this, 200 requests at once waited for 200 fsyncs in a row
    (p99 771 ms with captures running, ``make bench ONLY=api``).

    The commits run on a thread of their own, not the shared default executor:
    there a batch waited up to ~460 ms to start, queued behind captures' blocking
    work (sealing, fsyncs) and other requests' hops. They go through the archive's
    one writer; the server's reads on the event loop (``GET /captures/{id}``) use
    the archive's reader instead, since waiting on the writer's lock made the loop
    wait out every commit (WAL lets the reader go on while a commit is written).
    """

    def __init__(self, catalog: Callable[[], Catalog], *, poll: float = POLL_SECONDS) -> None:
        self._catalog = catalog
        self._claims = Claims(
            lambda: catalog().claim_next_queued(started_at=now_rfc3339()), poll=poll
        )
        self._waiting: list[tuple[QueuedRequest, asyncio.Future[tuple[CaptureRow, bool]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def put(self, item: QueuedRequest) -> tuple[CaptureRow, bool]:
        future: asyncio.Future[tuple[CaptureRow, bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def take(self) -> CaptureRow:
        """The oldest waiting capture, claimed (``running``); waits until there is one."""
        return await self._claims.take()

    async def adopt(self, rows: Sequence[CaptureRow]) -> None:
        """The rows are in the catalog already: the workers only need to look."""
        if rows:
            self._claims.wake()

    async def run_workers(self, run: Runner, count: int) -> None:
        """``count`` loops, each taking the oldest capture and running it."""

        async def work() -> None:
            while True:
                await run(await self.take())

        async with asyncio.TaskGroup() as group:
            for n in range(count):
                group.create_task(work(), name=f"capture-worker-{n}")

    def wake(self) -> None:
        self._claims.wake()

    def close(self) -> None:
        """Let the commit being written finish; a later put starts a new thread."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _commit(self, items: list[QueuedRequest]) -> list[tuple[CaptureRow, bool]]:
        return self._catalog().enqueue_captures(items)

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


class AnalysisQueue:
    """Analysis runs of sealed captures, as rows of the catalog's ``analyses`` table."""

    def __init__(self, catalog: Callable[[], Catalog], *, poll: float = POLL_SECONDS) -> None:
        self._catalog = catalog
        self._claims = Claims(
            lambda: catalog().claim_next_analysis(started_at=now_rfc3339()), poll=poll
        )

    async def put(
        self,
        capture_id: str,
        request: dict[str, object],
        *,
        operator: str | None,
        requested_by: str | None = None,
        device: str | None = None,
    ) -> tuple[AnalysisRow, bool]:
        """Queue a run of a sealed capture, asked for by the account ``requested_by``
        through ``device``; a run of it already queued is returned instead (``created``
        false). Workers are woken by :meth:`wake`."""
        return await asyncio.to_thread(
            lambda: self._catalog().queue_analysis(
                capture_id,
                request=request,
                operator=operator,
                requested_by=requested_by,
                device=device,
            )
        )

    async def take(self) -> AnalysisRow:
        """The oldest queued run, claimed (``running``); waits until there is one."""
        return await self._claims.take()

    def wake(self) -> None:
        self._claims.wake()
