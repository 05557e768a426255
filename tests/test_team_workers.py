"""Team mode with real processes: an API server that runs no capture, worker processes on
one PostgreSQL (catalog and queue) and one store, captures and watched targets, and a
worker killed with SIGKILL in the middle of a capture.

The store is a fixture (``team_store``) so the same test can run on the S3 store once
it is finished; today it is the data directory's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import psycopg
import pytest

from archive.catalog import CaptureRow
from archive.datadir import Archive
from archive.evidence.custody_events import SEALING_ACTIONS
from archive.evidence.trust import TrustedKeys
from archive.evidence.tsa_roots import TrustStore
from archive.settings import load_settings
from archive.wacz.export import export_wacz
from archive.wacz.verify import verify_package
from capture.teamqueue.capture_job import WORKER_GONE
from tests.server import CLI, RunningServer
from tests.site import TestSite

pytestmark = pytest.mark.slow

#: The lease the workers run with: short, so a killed worker's capture moves on soon.
LEASE = 4
SUBMITTED = 20
TARGETS = 5


@pytest.fixture
def team_store(tmp_path: Path) -> str:
    """The store URL the installation uses (file:// today; s3:// once that store is done)."""
    return f"file://{tmp_path / 'data'}"


class TeamServer(RunningServer):
    """``osint-capture serve`` in team mode, given no --workers: it runs no capture."""

    async def _start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data.parent / f"server-{self.port}.log", "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                CLI, "serve", "--port", str(self.port), "--data", str(self.data),
                *self.extra_args, stdout=log, stderr=log,
            )  # fmt: skip
        token = await asyncio.create_subprocess_exec(
            CLI, "token", "--data", str(self.data), stdout=asyncio.subprocess.PIPE
        )
        self.token = (await token.communicate())[0].decode().strip()
        for _ in range(300):
            assert self.process.returncode is None, f"serve exited with {self.process.returncode}"
            with contextlib.suppress(aiohttp.ClientConnectionError):
                if (await self.request("GET", "/api/v1/health"))[0] == 200:
                    return
            await asyncio.sleep(0.1)
        pytest.fail("serve did not answer within 30 s")


class Worker:
    """One ``osint-capture worker`` process, its stderr in a file."""

    def __init__(self, data: Path, config: Path, name: str) -> None:
        self.data, self.config, self.log = data, config, data.parent / f"worker-{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                CLI, "worker", "--data", str(self.data), "--config", str(self.config),
                "--concurrency", "2", "--lease", str(LEASE),
                stdout=log, stderr=log,
            )  # fmt: skip

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), 180)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode  # type: ignore[return-value]


def _procrastinate_workers(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('procrastinate_workers')").fetchone()
        if exists is None or exists[0] is None:
            return []
        return [row[0] for row in conn.execute("SELECT id FROM procrastinate_workers ORDER BY id")]


def _job_worker(url: str, capture_id: str) -> int | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT worker_id FROM procrastinate_jobs WHERE queueing_lock = %s"
            " AND status = 'doing'",
            (capture_id,),
        ).fetchone()
    return row[0] if row is not None else None


async def _until(check, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _worker_registered(url: str, before: int) -> list[int]:
    ids = await _until(lambda: len(_procrastinate_workers(url)) >= before + 2 and
                       _procrastinate_workers(url), 60, "a worker to register")  # fmt: skip
    return list(ids)


async def test_two_workers_share_the_queue_and_a_killed_workers_capture_moves_on(
    tmp_path: Path, postgres_url: str, team_store: str, site: TestSite
) -> None:
    data = tmp_path / "data"
    config = tmp_path / "team.toml"
    config.write_text(f'catalog = "{postgres_url}"\nstore = "{team_store}"\nqueue = "postgresql"\n')
    server = TeamServer(data, extra_args=("--config", str(config)))
    first, second = Worker(data, config, "a"), Worker(data, config, "b")
    spare = Worker(data, config, "c")
    try:
        await server.start()
        await first.start()
        first_ids = await _worker_registered(postgres_url, 0)
        await second.start()
        await _worker_registered(postgres_url, len(first_ids))

        slow = await _submit(server, site.url("/slow-document"), timeout=12)
        ids = [await _submit(server, site.url(f"/rich?n={n}")) for n in range(SUBMITTED)]
        targets = [await _watch(server, site.url(f"/rich?target={n}")) for n in range(TARGETS)]

        # Whichever worker took the slow capture is killed in the middle of it.
        holder = await _until(lambda: _job_worker(postgres_url, slow), 120, "the slow capture")
        await asyncio.sleep(3)  # its files are being written
        victim, survivor = (first, second) if holder in first_ids else (second, first)
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
        await victim.process.wait()
        await spare.start()  # two workers again, as an orchestrator would restart one

        await _until(lambda: _all_ended(data, config, [slow, *ids]), 400, "every capture")
        await _until(lambda: _runs_each(data, config, targets, 2), 200, "two runs per target")
        for target in targets:
            status, _, _ = await server.request("DELETE", f"/api/v1/targets/{target}")
            assert status == 200
        await _until(lambda: _no_active(data, config), 200, "the last runs to end")
        assert await survivor.stop() == 0, survivor.log.read_text()
        assert await spare.stop() == 0, spare.log.read_text()
    finally:
        for worker in (first, second, spare):
            if worker.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    await worker.stop(signal.SIGKILL)
        await server.stop()

    logged = first.log.read_text() + second.log.read_text() + spare.log.read_text()
    settings = load_settings(data, config_file=config)
    with Archive.open(data, settings=settings) as archive:
        _check_sealed_once(archive, ids, logged)
        _check_killed_capture(archive, slow)
        _check_no_overlap(archive, targets)
        report = archive.custody.verify()
        assert report.ok, report
        out = tmp_path / "team.wacz"
        await asyncio.to_thread(export_wacz, archive, ids[:3], out, actor="amal")
        fingerprint = archive.signing_key().fingerprint
    verified = verify_package(out, trust=TrustStore.load(), keys=TrustedKeys.pinned(fingerprint))
    assert verified.failures == [], verified.summary()
    for capture_id in ids:  # one line per job: the capture and how it ended
        assert re.search(f"capture {capture_id}: .*complete", logged), f"no line for {capture_id}"


async def _submit(server: RunningServer, url: str, timeout: float = 60) -> str:
    status, _, body = await server.request(
        "POST", "/api/v1/captures", json={"url": url, "operator": "amal", "timeout": timeout}
    )
    assert status == 202, body
    return str(body["id"])


async def _watch(server: RunningServer, url: str) -> int:
    status, _, body = await server.request(
        "POST", "/api/v1/targets",
        json={"url": url, "every": "3s", "allow_fast": True, "operator": "amal", "timeout": 30},
    )  # fmt: skip
    assert status == 201, body
    return int(body["id"])


def _rows(data: Path, config: Path) -> list[CaptureRow]:
    with Archive.open(data, create=False, settings=load_settings(data, config_file=config)) as a:
        return a.catalog.list_captures()


def _all_ended(data: Path, config: Path, ids: list[str]) -> bool:
    ended = {row.id for row in _rows(data, config) if row.status not in ("queued", "running")}
    return set(ids) <= ended


def _runs_each(data: Path, config: Path, targets: list[int], runs: int) -> bool:
    sealed = Counter(
        row.target_id for row in _rows(data, config) if row.status in ("complete", "partial")
    )
    return all(sealed[target] >= runs for target in targets)


def _no_active(data: Path, config: Path) -> bool:
    return not [row for row in _rows(data, config) if row.status in ("queued", "running")]


def _check_sealed_once(archive: Archive, ids: list[str], logged: str) -> None:
    seals = Counter(
        capture
        for event in archive.custody.events()
        if event.action in SEALING_ACTIONS
        for capture in event.captures
    )
    for row in archive.catalog.list_captures():
        if row.status in ("complete", "partial"):
            assert seals[row.id] == 1, f"capture {row.id} sealed {seals[row.id]} times"
    for capture_id in ids:
        row = archive.catalog.get_capture(capture_id)
        assert row is not None and row.status == "complete", row
        # Run once, or twice when it too was running on the killed worker (its job says so).
        interrupted = f"capture {capture_id}: {WORKER_GONE}" in logged
        assert row.attempts == (2 if interrupted else 1), row


def _check_killed_capture(archive: Archive, capture_id: str) -> None:
    """Sealed by the second attempt; the first attempt's files set aside and recorded."""
    row = archive.catalog.get_capture(capture_id)
    assert row is not None and row.status in ("partial", "complete"), row
    assert row.attempts == 2, row
    quarantined = [e for e in archive.custody.events(capture_id) if e.action == "quarantined"]
    assert len(quarantined) == 1, quarantined
    assert WORKER_GONE in str(quarantined[0].details), quarantined[0]
    moved = list(archive.store.quarantine_root.glob(f"{capture_id}-*"))
    assert moved and any(path.is_file() for path in moved[0].rglob("*")), moved


def _check_no_overlap(archive: Archive, targets: list[int]) -> None:
    for target in targets:
        runs = sorted(
            (row for row in archive.catalog.list_captures(target_id=target) if row.started_at),
            key=lambda row: row.started_at or "",
        )
        assert len(runs) >= 2, f"target {target} ran {len(runs)} times"
        for before, after in itertools.pairwise(runs):
            assert before.finished_at is not None, before
            assert before.finished_at <= (after.started_at or ""), (
                f"target {target}: runs {before.id} and {after.id} overlapped"
            )
