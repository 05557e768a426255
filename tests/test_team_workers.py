"""Team mode with real processes: an API server that runs no capture, worker processes on
one PostgreSQL (catalog and queue) and one S3 bucket with Object Lock (SeaweedFS),
captures and watched targets, and a worker killed with SIGKILL in the middle of a capture.

Every process gets the bucket's keys in its environment (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, as an operator's service would) and the catalog, store and
queue from one settings file. At the end ``osint-capture fsck --deep`` runs as a process
of its own: every sealed file of every capture is in the bucket as its recorded version,
and the killed attempt's objects are set aside (explained by their listing), not orphans.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from archive.catalog import CaptureRow
from archive.datadir import Archive
from archive.evidence.custody_events import SEALING_ACTIONS
from archive.evidence.trust import TrustedKeys
from archive.evidence.tsa_roots import TrustStore
from archive.objectstore import ObjectStore
from archive.settings import load_settings
from archive.wacz.export import export_wacz
from archive.wacz.verify import verify_package
from capture.teamqueue.capture_job import WORKER_GONE
from tests.s3_gate import S3Gate
from tests.seaweed import Seaweed, use_bucket
from tests.server import CLI, RunningServer
from tests.site import TestSite

pytestmark = pytest.mark.slow

#: The lease the workers run with: short, so a killed worker's capture moves on soon.
LEASE = 4
SUBMITTED = 20
TARGETS = 5


@pytest.fixture
def team_store(monkeypatch: pytest.MonkeyPatch, seaweed: Seaweed) -> str:
    """A new locked bucket's store URL; its keys in this process's environment, which
    every process the test starts is given (:func:`_environment`)."""
    return use_bucket(monkeypatch, seaweed)


async def _gated(
    monkeypatch: pytest.MonkeyPatch, store: str, seaweed: Seaweed
) -> tuple[str, S3Gate]:
    """The store URL reached through an :class:`S3Gate`, which the test uses to stop the
    slow capture between two uploads (``OSINT_CAPTURE_STORE`` names it too)."""
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    gate = S3Gate((host, int(port)))
    gated = store.replace(seaweed.endpoint, await gate.start())
    monkeypatch.setenv("OSINT_CAPTURE_STORE", gated)
    return gated, gate


def _environment() -> dict[str, str]:
    """What each process is started with: the keys of the bucket (set by ``use_bucket``)
    and no time-stamp authority (only 127.0.0.1 is reachable)."""
    env = {**os.environ, "OSINT_CAPTURE_TSA": ""}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env.get(name), f"{name} is not set: the processes could not reach the bucket"
    return env


class TeamServer(RunningServer):
    """``osint-capture serve`` in team mode, given no --workers: it runs no capture."""

    async def _start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data.parent / f"server-{self.port}.log", "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                CLI, "serve", "--port", str(self.port), "--data", str(self.data),
                *self.extra_args, stdout=log, stderr=log, env=_environment(),
            )  # fmt: skip
        token = await asyncio.create_subprocess_exec(
            CLI, "token", "--data", str(self.data), *self.extra_args,
            stdout=asyncio.subprocess.PIPE,
            env=_environment(),
        )  # fmt: skip
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
                stdout=log, stderr=log, env=_environment(),
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
    tmp_path: Path,
    postgres_url: str,
    team_store: str,
    seaweed: Seaweed,
    site: TestSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, gate = await _gated(monkeypatch, team_store, seaweed)
    data = tmp_path / "data"
    config = tmp_path / "team.toml"
    settings_text = 'catalog = "{}"\nstore = "{}"\nqueue = "postgresql"\n'
    config.write_text(settings_text.format(postgres_url, store))
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

        # Whichever worker took the slow capture is killed in the middle of sealing it:
        # its WARC uploaded, the upload's check (and every later file) held at the gate.
        gate.hold_after_first_upload(slow)
        holder = await _until(lambda: _job_worker(postgres_url, slow), 120, "the slow capture")
        await asyncio.wait_for(gate.holding.wait(), 120)
        victim, survivor = (first, second) if holder in first_ids else (second, first)
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
        await victim.process.wait()
        gate.release()
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
        await gate.close()
    # From here the test's own blocking reads (and fsck) go to the bucket directly: the
    # gate runs on this event loop, which they would hold.
    config.write_text(settings_text.format(postgres_url, team_store))
    monkeypatch.setenv("OSINT_CAPTURE_STORE", team_store)

    logged = first.log.read_text() + second.log.read_text() + spare.log.read_text()
    settings = load_settings(data, config_file=config)
    with Archive.open(data, settings=settings) as archive:
        _check_sealed_once(archive, ids, logged)
        _check_killed_capture(archive, slow)
        _check_no_overlap(archive, targets)
        _check_compared(archive, targets)
        report = archive.custody.verify()
        assert report.ok, report
        set_aside = _check_in_bucket(archive, seaweed, slow)
        out = tmp_path / "team.wacz"
        await asyncio.to_thread(export_wacz, archive, ids[:3], out, actor="amal")
        fingerprint = archive.signing_key().fingerprint
    await _check_fsck(data, config, set_aside)
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


def _check_compared(archive: Archive, targets: list[int]) -> None:
    """Every run after a target's first was compared with the one before, its files
    read back from the bucket (not from a data directory that holds none of them)."""
    for target in targets:
        for event in archive.catalog.timeline(target):
            assert "comparison_error" not in event.details, (target, event.details)


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


def _bucket_versions(seaweed: Seaweed, bucket: str) -> dict[tuple[str, str], int]:
    """Every version the bucket holds, as the plain S3 client lists it: its size."""
    found: dict[tuple[str, str], int] = {}
    pages = seaweed.client().get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        for version in page.get("Versions", []):
            found[(version["Key"], version["VersionId"])] = int(version["Size"])
        assert not page.get("DeleteMarkers"), page["DeleteMarkers"]
    return found


def _check_in_bucket(archive: Archive, seaweed: Seaweed, slow: str) -> int:
    """Every file of every sealed capture is in the bucket as its recorded version, locked;
    the killed attempt's objects are all named by its set-aside listing. Returns how many
    objects were set aside."""
    store = archive.store
    assert isinstance(store, ObjectStore), type(store)
    bucket, client = store.location.bucket, seaweed.client()
    versions = _bucket_versions(seaweed, bucket)
    checked = 0
    for row in archive.catalog.list_captures():
        if row.status not in ("complete", "partial"):
            continue
        for artifact in archive.catalog.artifacts(row.id):
            recorded = store.sealed_version(row.id, artifact.path)
            assert recorded.sha256 == artifact.sha256, (row.id, artifact.path)
            assert versions.get((recorded.key, recorded.version_id)) == artifact.size, recorded
            head = client.head_object(
                Bucket=bucket, Key=recorded.key, VersionId=recorded.version_id
            )
            assert head["ObjectLockMode"] == "GOVERNANCE", (recorded.key, head)
            checked += 1
    assert checked > SUBMITTED * 3, f"only {checked} sealed files found"
    # The killed attempt uploaded its WARC and died before recording it: that object
    # stays under captures/SLOW/, named with its version by the listing sealed when the
    # attempt was set aside; the retry's files are under captures/SLOW/attempt-2/.
    first = store.location.capture_prefix(slow)
    left = {(k, v) for k, v in versions if k.startswith(first) and "/" not in k[len(first) :]}
    assert left == {(f"{first}{slow}.warc.gz", v) for k, v in left}, left
    assert len(left) == 1, f"the gate let one upload of {slow} through, the bucket has {left}"
    listing_key = f"{first}set-aside/attempt-1.json"
    listings = [v for k, v in versions if k == listing_key]
    assert len(listings) == 1, f"attempt 1 of {slow} left {sorted(left)} but no listing"
    body = client.get_object(Bucket=bucket, Key=listing_key, VersionId=listings[0])["Body"]
    listing = json.loads(body.read())
    assert listing["objects"] == [], listing  # its record was never written
    named = {(o["key"], o["version_id"]) for o in listing["unrecorded"]}
    assert left == named, f"the listing names {named}, the bucket holds {left}"
    retried = store.sealed_version(slow, f"{slow}.warc.gz")
    assert retried.key == f"{first}attempt-2/{slow}.warc.gz", retried
    return _set_aside_objects(client, bucket, versions)


def _set_aside_objects(client: Any, bucket: str, versions: dict[tuple[str, str], int]) -> int:
    """How many objects all set-aside listings in the bucket name (and the bucket holds):
    the killed worker may have had another capture in flight besides the gated one."""
    count = 0
    for key, version_id in versions:
        if "/set-aside/attempt-" not in key or not key.endswith(".json"):
            continue
        body = client.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"]
        listing = json.loads(body.read())
        named = [*listing["objects"], *listing["unrecorded"]]
        count += sum((o["key"], o["version_id"]) in versions for o in named)
    return count


async def _check_fsck(data: Path, config: Path, set_aside: int) -> None:
    """``osint-capture fsck --deep`` as its own process: every recorded version read back
    and hashed, nothing in the bucket unexplained, the killed attempt's objects set aside."""
    process = await asyncio.create_subprocess_exec(
        CLI, "fsck", "--deep", "--json", "--data", str(data), "--config", str(config),
        "--operator", "amal", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=_environment(),
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, (out.decode(), err.decode())
    result = json.loads(out)
    assert result["ok"] and result["deep"] and result["problems"] == [], result
    assert result["files_checked"] > SUBMITTED * 3, result
    assert result["set_aside"] == set_aside, result
