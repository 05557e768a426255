"""Sealing and what start-up recovery does around it, on the real server and files.

A capture a crash left ``running`` has its unsealed leftovers moved to
``DATA/quarantine/`` before it is retried. That move is an action on evidence, so
the chain of custody must record it (``quarantined``): which capture, how many
files, where they went, and why, before the retry's own ``captured`` event.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import zipfile
from pathlib import Path

from archive.catalog import Catalog
from archive.evidence.checks import ExitStatus
from archive.wacz.layout import CUSTODY_PATH
from tests.server import CLI, RunningServer
from tests.site import TestSite


async def cli(*args: str | Path, timeout: float = 120) -> tuple[int, str]:
    """Run ``osint-capture ARGS`` to the end; its exit code and everything it printed."""
    process = await asyncio.create_subprocess_exec(
        CLI, *map(str, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode()


def files_under(directory: Path) -> dict[str, int]:
    """Every file under ``directory`` (relative name -> size)."""
    return {
        path.relative_to(directory).as_posix(): path.stat().st_size
        for path in directory.rglob("*")
        if path.is_file()
    }


async def test_a_capture_quarantined_after_a_crash_is_a_custody_event_before_its_retry(
    tmp_path: Path, site: TestSite
) -> None:
    data = tmp_path / "data"
    first = RunningServer(data, workers=1)
    await first.start()
    try:
        status, _, body = await first.request(
            "POST",
            "/api/v1/captures",
            json={"url": site.url("/never-finishes?crash=1"), "case": "sealing", "timeout": 12},
        )
        assert status == 202, body
        capture_id = body["id"]
        await first.reach_stage(capture_id, "behaviours")
    finally:
        await first.stop(kill=True)
    left = files_under(data / "captures" / capture_id)
    assert any(name.endswith(".partial") for name in left), left

    second = RunningServer(data, workers=1, port=first.port)
    await second.start()
    try:
        outcome = await second.wait_done(capture_id)
    finally:
        await second.stop()
    assert outcome["event"] == "done", outcome

    custody = [json.loads(line) for line in (data / "custody.jsonl").read_text().splitlines()]
    about = [event for event in custody if capture_id in event["captures"]]
    assert [event["action"] for event in about] == ["quarantined", "captured"], about
    quarantined = about[0]
    assert quarantined["actor"] == "system"
    details = quarantined["details"]
    moved = data / details["to"]
    assert moved.parent == data / "quarantine" and moved.name.startswith(capture_id), details
    # Exactly the files the killed server left, moved whole and counted.
    assert files_under(moved) == left
    assert details["files"] == len(left)
    assert details["bytes"] == sum(left.values())
    assert "server stopped" in details["reason"] and "attempt 1" in details["reason"], details
    assert str(tmp_path) not in json.dumps(quarantined), "a path outside the data directory"

    with Catalog.open(data / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(capture_id)
    assert row is not None and row.status == "partial", row
    code, out = await cli("custody", "verify", "--data", data)
    assert code == ExitStatus.UNPROVEN and "intact" in out.splitlines()[0], out  # no TSA here
    # The export carries the quarantine with the capture, and verifies offline.
    package = tmp_path / "retried.wacz"
    code, out = await cli("export", "--data", data, capture_id, "--out", package)
    assert code == 0, out
    with zipfile.ZipFile(package) as wacz:
        exported = [json.loads(line) for line in wacz.read(CUSTODY_PATH).splitlines()]
    assert exported[0]["action"] == "quarantined" and exported[0]["captures"] == [capture_id]
    code, out = await cli("verify", "--data", data, package)
    # Its own key, trusted through --data; no TSA here, so not authenticated in time.
    assert code == 4 and "FAIL " not in out, out
    assert "when captures were made" in out.splitlines()[0], out
