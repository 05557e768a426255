"""Faults an evidence store must survive, on the real server, browser and files.

Each test breaks something underneath a running ``osint-capture serve`` (the
process itself, its Chromium, its disk, its capacity) and then checks what a
court would ask: the catalog is sound, the chain of custody verifies, nothing
is left half-done or presented as complete, and every sealed capture still
exports and verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from archive.catalog import Catalog
from archive.evidence.checks import ExitStatus
from tests.server import CLI, RunningServer
from tests.site import TestSite

SEALED = ("complete", "partial")


async def cli(*args: str | Path, timeout: float = 120) -> tuple[int, str, str]:
    """Run ``osint-capture ARGS`` to the end; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        CLI, *map(str, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def submit(server: RunningServer, url: str, **fields: object) -> str:
    status, _, body = await server.request(
        "POST", "/api/v1/captures", json={"url": url, "case": "faults", **fields}
    )
    assert status == 202, body
    return body["id"]


def sealed_hashes(data: Path) -> dict[Path, str]:
    """SHA-256 of every sealed file under ``captures/``, read from disk now."""
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((data / "captures").rglob("*"))
        if path.is_file() and not path.name.endswith(".partial")
    }


async def check_custody_intact(data: Path) -> None:
    """``custody verify`` finds every event and link sound. No TSA answers in these
    tests, so nothing anchors the log: intact, but unproven (exit 4)."""
    code, out, err = await cli("custody", "verify", "--data", data)
    assert code == ExitStatus.UNPROVEN, out + err
    assert "intact" in out.splitlines()[0] and "not anchored" in out.splitlines()[0], out


async def check_archive(data: Path, out_dir: Path) -> list[str]:
    """Everything a restarted archive must satisfy; the sealed capture ids it holds."""
    with Catalog.open(data / "catalog.sqlite3") as catalog:
        assert catalog.integrity_check() == "ok"
        assert not catalog.list_captures(status="running"), "a capture is stuck running"
        sealed = [row.id for row in catalog.list_captures() if row.status in SEALED]
    await check_custody_intact(data)
    assert sealed, "nothing sealed to check"
    package = out_dir / f"check-{len(list(out_dir.glob('check-*')))}.wacz"
    code, out, err = await cli("export", "--data", data, *sealed, "--out", package)
    assert code == 0, out + err
    assert_intact(await cli("verify", "--data", data, package))
    return sealed


def assert_intact(run: tuple[int, str, str]) -> None:
    """Verified but for trusted time, which these archives never had (no TSA here)."""
    code, out, err = run
    assert code == 4, out + err
    first = out.splitlines()[0]
    assert "INTACT, NOT AUTHENTICATED" in first and "when captures were made" in first, out
    assert "whose key" not in first and "FAIL " not in out, out


# -- kill -9 ---------------------------------------------------------------------------------


async def test_kill_9_mid_captures_export_and_custody_writes(
    tmp_path: Path, site: TestSite
) -> None:
    data = tmp_path / "data"
    first = RunningServer(data, workers=3)
    await first.start()
    try:
        done = [await submit(first, site.url(f"/rich?before={n}")) for n in range(3)]
        for capture_id in done:
            assert (await first.wait_done(capture_id))["status"] == "complete"
        before = sealed_hashes(data)

        # Slow pages keep two workers busy; quick ones keep custody events coming.
        slow = [
            await submit(first, site.url("/never-finishes"), timeout=40),
            await submit(first, site.url("/slow-document"), timeout=40),
        ]
        for capture_id in slow:
            await first.reach_stage(capture_id, "behaviours")
        burst = [await submit(first, site.url(f"/gzip?burst={n}")) for n in range(4)]
        package = tmp_path / "killed.wacz"
        export = await asyncio.create_subprocess_exec(
            CLI, "export", "--data", str(data), "--case", "faults", "--out", str(package),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        partials: list[Path] = []
        for _ in range(600):  # the export has started writing its package
            partials = list(tmp_path.glob(".killed.wacz.*.partial"))
            if partials or export.returncode is not None:
                break
            await asyncio.sleep(0.02)
        assert partials, "the export finished before it could be killed"
        export.send_signal(signal.SIGKILL)
        await first.stop(kill=True)
        await export.wait()
    finally:
        await first.stop(kill=True)

    assert not package.exists(), "a killed export left a file that looks complete"
    with Catalog.open(data / "catalog.sqlite3") as catalog:
        interrupted = [row.id for row in catalog.list_captures(status="running")]
    assert set(slow) <= set(interrupted)

    second = RunningServer(data, workers=3, port=first.port)
    await second.start()
    try:
        outcomes = {cid: await second.wait_done(cid) for cid in [*slow, *burst]}
    finally:
        await second.stop()
    assert all(outcome["event"] == "done" for outcome in outcomes.values()), outcomes

    # The sealed files from before the kill are byte for byte what they were.
    after = sealed_hashes(data)
    assert {path: after.get(path) for path in before} == before
    sealed = await check_archive(data, tmp_path)
    assert set(done + slow + burst) <= set(sealed)
    quarantine = data / "quarantine"
    for capture_id in interrupted:
        manifest = json.loads((data / "captures" / capture_id / "manifest.json").read_bytes())
        said = [line for line in manifest["extra"]["history"] if "server stopped" in line]
        assert said and "unsealed files moved to" in said[0], manifest["extra"]["history"]
        assert [q for q in quarantine.iterdir() if q.name.startswith(capture_id)]
    # What the killed export wrote is a hidden .partial beside where the package would be.
    assert all(p.name.startswith(".") for p in tmp_path.glob("*.wacz*") if "check" not in p.name)


# -- Chromium dies -------------------------------------------------------------------------


def chromium_of(server: RunningServer) -> psutil.Process:
    """The browser process the server launched (its child with our profile flag)."""
    assert server.process is not None
    for child in psutil.Process(server.process.pid).children():
        if any("osint-capture-profile-" in arg for arg in child.cmdline()):
            return child
    raise AssertionError("the server has no Chromium child")


async def test_a_killed_browser_fails_its_capture_and_the_next_one_succeeds(
    tmp_path: Path, site: TestSite
) -> None:
    running = RunningServer(tmp_path / "data", workers=1)
    await running.start()
    try:
        first = chromium_of(running)
        victim = await submit(running, site.url("/never-finishes"), timeout=20)
        await running.reach_stage(victim, "behaviours")
        first.send_signal(signal.SIGKILL)
        outcome = await running.wait_done(victim)
        assert outcome["event"] == "failed" or outcome["status"] == "partial", outcome
        said = [r for r in outcome["reasons"] if r.startswith("the browser (Chromium) stopped")]
        assert said and "killed by signal 9" in said[0], outcome["reasons"]

        after = await submit(running, site.url("/rich?after-crash=1"))
        assert (await running.wait_done(after))["status"] == "complete"
        assert chromium_of(running).pid != first.pid
        status, _, health = await running.request("GET", "/api/v1/health")
        assert status == 200 and health["browser"] == "up", health
    finally:
        await running.stop()
    with Catalog.open(tmp_path / "data" / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(victim)
        assert row is not None and row.status in ("failed", "partial"), row
        assert any("killed by signal 9" in reason for reason in row.reasons), row.reasons
        assert catalog.integrity_check() == "ok"
    await check_custody_intact(tmp_path / "data")


# -- the disk fills --------------------------------------------------------------------------


@dataclass
class FullDisk:
    """A data directory whose storage refuses writes past a small size, and the words
    the capture's reasons must use for that refusal."""

    data: Path
    file_size_limit: int | None
    said: str


@pytest.fixture(params=["small-filesystem", "write-error"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FullDisk]:
    """Either a 24 MiB tmpfs as the data directory (needs mount rights), or an injected
    write error: the server runs under ``ulimit -f`` of 16 MiB, so the kernel fails any
    write that would make a file larger (EFBIG). The second runs wherever the first
    cannot."""
    data = tmp_path / "data"
    data.mkdir()
    if request.param == "write-error":
        yield FullDisk(data, 16 * 1024 * 1024, "reached the largest size")
        return
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(data)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.decode().strip()}")
    try:
        yield FullDisk(data, None, "is full")
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


async def test_a_full_disk_fails_the_capture_and_leaves_sealed_files_alone(
    full_disk: FullDisk, site: TestSite
) -> None:
    data = full_disk.data
    running = RunningServer(data, workers=1, file_size_limit=full_disk.file_size_limit)
    await running.start()
    try:
        kept = await submit(running, site.url("/rich?before-full=1"))
        assert (await running.wait_done(kept))["status"] == "complete"
        before = sealed_hashes(data)
        # /big.bin is 200 MiB: far more than the filesystem or the file-size limit allows.
        filling = await submit(running, site.url("/big"), timeout=60)
        outcome = await running.wait_done(filling)
        status, _, detail = await running.request("GET", f"/api/v1/captures/{filling}")
    finally:
        await running.stop()
    assert outcome.get("status") != "complete", outcome
    assert status == 200 and detail["status"] in ("failed", "partial"), detail
    said = [reason for reason in detail["reasons"] if full_disk.said in reason]
    assert said and str(data) in said[0], detail["reasons"]
    after = sealed_hashes(data)
    assert {path: after.get(path) for path in before} == before
    assert not (data / "captures" / filling).exists(), "unsealed bytes left as evidence"
    assert [q for q in (data / "quarantine").iterdir() if q.name.startswith(filling)]
    with Catalog.open(data / "catalog.sqlite3") as catalog:
        assert catalog.integrity_check() == "ok"
    await check_custody_intact(data)
    custody = [json.loads(line) for line in (data / "custody.jsonl").read_text().splitlines()]
    failed = [e for e in custody if e["action"] == "capture-failed" and filling in e["captures"]]
    assert failed and failed[0]["details"]["quarantined"] is True, failed


# -- many at once ----------------------------------------------------------------------------


async def test_twenty_captures_and_an_export_at_once_all_seal_and_verify(
    tmp_path: Path, site: TestSite
) -> None:
    data = tmp_path / "data"
    running = RunningServer(data, workers=4)
    await running.start()
    try:
        pages = ("/rich", "/gzip", "/arabic", "/", "/redirect/1")
        ids = await asyncio.gather(
            *(submit(running, site.url(f"{pages[n % 5]}?at-once={n}")) for n in range(20))
        )
        assert len(set(ids)) == 20
        waits = {cid: asyncio.create_task(running.wait_done(cid)) for cid in ids}
        first, _ = await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
        early = [cid for cid, task in waits.items() if task in first]
        package = tmp_path / "during.wacz"
        exported = await cli("export", "--data", data, *early, "--out", package)
        unfinished = sum(not task.done() for task in waits.values())
        outcomes = {cid: await task for cid, task in waits.items()}
    finally:
        await running.stop()
    assert exported[0] == 0, exported
    assert unfinished > 0, "every capture had ended before the export did"
    assert {o["event"] for o in outcomes.values()} == {"done"}, outcomes
    assert {o["status"] for o in outcomes.values()} == {"complete"}, outcomes
    assert_intact(await cli("verify", "--data", data, package))
    assert set(ids) == set(await check_archive(data, tmp_path))


# -- backup while running ----------------------------------------------------------------------

#: The live backup of docs/operations.md, word for word but for the two paths.
LIVE_BACKUP = """
flock "$DATA/custody.jsonl.lock" sh -c '
  sqlite3 "$DATA/catalog.sqlite3" ".backup $COPY/catalog.sqlite3" &&
  cp "$DATA/custody.jsonl" "$COPY/custody.jsonl"'
tar -C "$DATA" --exclude "./catalog.sqlite3*" --exclude ./custody.jsonl \\
    --exclude ./work -cf - . | tar -C "$COPY" -xf -
"""


async def test_a_live_backup_taken_mid_capture_restores_to_an_archive_that_verifies(
    tmp_path: Path, site: TestSite
) -> None:
    if not all(shutil.which(tool) for tool in ("flock", "sqlite3", "tar")):
        pytest.skip("the live backup needs flock, sqlite3 and tar")
    data, copy = tmp_path / "data", tmp_path / "copy"
    copy.mkdir()
    running = RunningServer(data, workers=2)
    await running.start()
    try:
        sealed = await submit(running, site.url("/rich?backup=1"))
        assert (await running.wait_done(sealed))["status"] == "complete"
        slow = await submit(running, site.url("/never-finishes"), timeout=12)
        for n in range(3):  # appending custody events while the copy is taken
            await submit(running, site.url(f"/gzip?backup={n}"))
        await running.reach_stage(slow, "behaviours")
        backup = await asyncio.create_subprocess_exec(
            "sh", "-ec", LIVE_BACKUP, env={**os.environ, "DATA": str(data), "COPY": str(copy)}
        )
        assert await backup.wait() == 0
    finally:
        await running.stop()

    # The copy caught the slow capture running: started, it is quarantined and retried.
    restored = RunningServer(copy, workers=2)
    await restored.start()
    try:
        with Catalog.open(copy / "catalog.sqlite3") as catalog:
            unfinished = [
                r.id for r in catalog.list_captures() if r.status in ("queued", "running")
            ]
        for capture_id in unfinished:
            await restored.wait_done(capture_id)
    finally:
        await restored.stop()
    assert slow in unfinished
    assert sealed in await check_archive(copy, tmp_path)
    assert [q for q in (copy / "quarantine").iterdir() if q.name.startswith(slow)]
