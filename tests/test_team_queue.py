"""The team queue on a real PostgreSQL: one job per capture, a target's runs one at a time,
procrastinate's tables made once by many processes, a dead attempt settled by its job."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from archive.catalog import CaptureRow, QueuedRequest
from archive.datadir import Archive
from archive.settings import load_settings
from archive.timeutil import now_rfc3339, utc_now
from capture.scheduler import next_run_at
from capture.teamqueue import TeamQueue
from capture.teamqueue.queue import CAPTURE_TASK
from capture.teamqueue.schema import ensure_schema


def _archive(data: Path, url: str) -> Archive:
    env = {"OSINT_CAPTURE_CATALOG": url, "OSINT_CAPTURE_QUEUE": "postgresql"}
    return Archive.open(data, settings=load_settings(data, environ=env))


def _jobs(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT queueing_lock, lock, status FROM procrastinate_jobs WHERE task_name = %s"
            " ORDER BY id",
            (CAPTURE_TASK,),
        ).fetchall()
    return [tuple(row) for row in rows]


async def test_the_schema_is_made_once_by_many_openers_at_once(postgres_url: str) -> None:
    made = await asyncio.gather(*(ensure_schema(postgres_url) for _ in range(6)))
    assert sorted(made) == [False] * 5 + [True]
    assert await ensure_schema(postgres_url) is False


async def test_a_capture_put_twice_has_one_job(tmp_path: Path, postgres_url: str) -> None:
    with _archive(tmp_path / "data", postgres_url) as archive:
        queue = TeamQueue(postgres_url, lambda: archive)
        await queue.open()
        try:
            item = QueuedRequest("c-1", "https://example.org/a", None, None, "amal", {})
            first, created = await queue.put(item)
            again, created_again = await queue.put(
                QueuedRequest("c-2", "https://example.org/a", None, None, "amal", {})
            )
            assert created and not created_again and again.id == first.id == "c-1"
            await queue.adopt([first])  # another path announcing it: still one job
            await queue._sweep()
            assert _jobs(postgres_url) == [("c-1", "capture c-1", "todo")]
        finally:
            queue.close()
            await queue.aclose()


async def test_a_queued_row_without_a_job_gets_one_from_the_sweep(
    tmp_path: Path, postgres_url: str
) -> None:
    with _archive(tmp_path / "data", postgres_url) as archive:
        # Queued behind the queue's back (a process gone between commit and defer).
        archive.catalog.enqueue_capture(
            "lost", "https://example.org/lost", case=None, note=None, operator=None, request={}
        )
        queue = TeamQueue(postgres_url, lambda: archive)
        await queue.open()
        try:
            await queue._sweep()
            await queue._sweep()
            assert _jobs(postgres_url) == [("lost", "capture lost", "todo")]
        finally:
            queue.close()
            await queue.aclose()


async def test_a_targets_runs_never_overlap_across_workers(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two runs of one target, each with its job, on two queues' workers (two 'machines'):
    the second starts only after the first has ended, though workers are free."""
    with _archive(tmp_path / "data", postgres_url) as archive:
        catalog = archive.catalog
        target = catalog.add_target(
            "https://example.org/t", interval_seconds=60, case=None, operator=None,
            note=None, next_run_at=now_rfc3339(),
        )  # fmt: skip
        queues = [TeamQueue(postgres_url, lambda: archive, lease=3) for _ in range(2)]
        for queue in queues:
            await queue.open()
        spans: list[tuple[str, float, float]] = []

        async def run(row: CaptureRow) -> None:
            start = asyncio.get_running_loop().time()
            await asyncio.sleep(0.8)
            catalog.fail_capture(row.id, reasons=["test run"], finished_at=now_rfc3339())
            spans.append((row.id, start, asyncio.get_running_loop().time()))

        workers = [asyncio.create_task(q.run_workers(run, 3)) for q in queues]
        try:
            for n in range(2):
                # The catalog refuses a second run while one is queued: each waits its turn
                # in the catalog, but both jobs are made at once to test the job lock.
                row = catalog.claim_due_targets(
                    now=now_rfc3339(),
                    plans={target.id: _plan(f"run-{n}", target)},
                )
                if not row:  # the first is still queued: queue the second as a plain row
                    catalog.enqueue_capture(
                        f"run-{n}", "https://example.org/t2", case=None, note=None,
                        operator=None, request={},
                    )  # fmt: skip
                    row = [catalog.get_capture(f"run-{n}")]
                await queues[n].adopt([_as_target_run(row[0], target.id)])
            await _until(lambda: len(spans) == 2, 20)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for queue in queues:
                queue.close()
                await queue.aclose()
        (a, _, a1), (b, b0, _) = sorted(spans, key=lambda span: span[1])
        assert a1 <= b0, f"runs {a} and {b} of one target overlapped"


def _plan(capture_id: str, target: object):  # type: ignore[no-untyped-def]
    from archive.catalog import RunPlan

    return RunPlan(capture_id, next_run_at(target, utc_now()), {})  # type: ignore[arg-type]


def _as_target_run(row: CaptureRow | None, target_id: int) -> CaptureRow:
    """The row as its job sees it: a run of ``target_id`` (its job's lock)."""
    from dataclasses import replace

    assert row is not None
    return replace(row, target_id=target_id)


async def _until(done, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not done():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("timed out")
        await asyncio.sleep(0.1)


async def test_a_dead_workers_rounds_stop_neither_the_duties_nor_its_capture(
    tmp_path: Path, postgres_url: str
) -> None:
    """What a worker killed with SIGKILL leaves: its capture running, its capture job and
    two duty rounds ``doing`` (one of them the retry of stalled jobs itself, one beside
    the next round already waiting). A live worker moves the capture on and every duty
    runs again."""
    with _archive(tmp_path / "data", postgres_url) as archive:
        catalog = archive.catalog
        queue = TeamQueue(postgres_url, lambda: archive, lease=3)
        await queue.open()
        ran: list[str] = []

        async def run(row: CaptureRow) -> None:
            catalog.fail_capture(row.id, reasons=["test run"], finished_at=now_rfc3339())
            ran.append(row.id)

        try:
            item = QueuedRequest("killed", "https://example.org/k", None, None, "amal", {})
            await queue.put(item)
            assert catalog.claim_queued("killed", started_at=now_rfc3339()) is not None
            tasks = queue.app.tasks
            dead = [
                await tasks[f"osint-capture.{name}"].defer_async(timestamp=1)
                for name in ("stalled", "sweep")
            ]
            _dead_worker(postgres_url, dead, "killed")
            rounds = [*dead, await tasks["osint-capture.sweep"].defer_async(timestamp=2)]
            worker = asyncio.create_task(queue.run_workers(run, 1))
            try:
                await _until(lambda: ran == ["killed"], 30)
                await _until(lambda: _ended(postgres_url, rounds), 30)
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
        finally:
            queue.close()
            await queue.aclose()
        assert _statuses(postgres_url, dead) == set()  # ended and deleted, as rounds are
        row = catalog.get_capture("killed")
        assert row is not None and row.attempts == 2, row  # the dead attempt, then this one


def _dead_worker(url: str, jobs: list[int], capture_id: str) -> None:
    """A worker silent for an hour, made the holder of ``jobs`` and of the capture's job."""
    with psycopg.connect(url, autocommit=True) as conn:
        (worker,) = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - interval '1 hour') RETURNING id"
        ).fetchone()  # type: ignore[misc]
        taken = conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s"
            " WHERE id = ANY(%s) OR queueing_lock = %s RETURNING id",
            (worker, jobs, capture_id),
        ).fetchall()
    assert len(taken) == len(jobs) + 1


def _statuses(url: str, jobs: list[int]) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = ANY(%s)", (jobs,)
        ).fetchall()
    return {row[0] for row in rows}


def _ended(url: str, jobs: list[int]) -> bool:
    """No job of ``jobs`` waiting or running (a round that succeeded is deleted)."""
    return not _statuses(url, jobs) & {"todo", "doing"}


async def test_stopping_workers_end_only_once_their_running_capture_has(
    tmp_path: Path, postgres_url: str
) -> None:
    """Cancelled (a worker told to stop), ``run_workers`` lets the capture that is running
    finish before it returns: the service closes the archive and the app after it."""
    with _archive(tmp_path / "data", postgres_url) as archive:
        queue = TeamQueue(postgres_url, lambda: archive, lease=3)
        await queue.open()
        started, finished = asyncio.Event(), asyncio.Event()

        async def run(row: CaptureRow) -> None:
            started.set()
            await asyncio.sleep(1.5)
            archive.catalog.fail_capture(row.id, reasons=["test run"], finished_at=now_rfc3339())
            finished.set()

        try:
            await queue.put(QueuedRequest("c-1", "https://example.org/s", None, None, "amal", {}))
            worker = asyncio.create_task(queue.run_workers(run, 1))
            await asyncio.wait_for(started.wait(), 30)
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            assert finished.is_set(), "run_workers returned while its capture was running"
        finally:
            queue.close()
            await queue.aclose()
