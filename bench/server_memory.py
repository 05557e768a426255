"""Benchmark 5: peak RSS of the server process while it works through a big load.

The real server (``osint-capture serve``, two workers) is given one capture of a
page whose ``<video>`` of SIZE the browser plays (so the recorder streams what
the browser fetched) and the media stage downloads whole, plus N article pages
queued behind it. The server's own RSS (its pid only: Chromium is a separate
process and not counted) is polled every 50 ms until every capture has finished.
The baseline is the same server's RSS once started and idle.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runner import MiB, Row, RssSampler, human_size, make_random_file
from bench.site import BenchSite
from tests.server import RunningServer

NAME = "memory"
TARGET_MIB = 300
FINISHED = ("complete", "partial", "failed")
#: The whole load must finish within this many seconds.
LOAD_TIMEOUT = 3600.0


async def measure(size: int, queued: int) -> tuple[list[Row], dict[str, Any]]:
    os.environ["OSINT_CAPTURE_TSA"] = ""  # the server inherits it: no TSA beyond the loopback
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    server = RunningServer(work / "data", workers=2)
    details: dict[str, Any] = {"video_bytes": size, "queued": queued}
    try:
        video = await asyncio.to_thread(make_random_file, work / "video.mp4", size)
        async with BenchSite(video=video) as site:
            await server.start()
            assert server.process is not None
            sampler = RssSampler(server.process.pid)
            await asyncio.sleep(1.0)
            sampler.sample()
            idle = sampler.peak
            polling = asyncio.create_task(sampler.run())
            started = time.perf_counter()
            bodies = [{"url": site.url("/video-played"), "timeout": 1800}]
            bodies += [{"url": site.url(f"/article/{n}"), "timeout": 60} for n in range(queued)]
            ids = []
            for body in bodies:
                status, _, reply = await server.request("POST", "/api/v1/captures", json=body)
                if status != 202:
                    raise RuntimeError(f"POST /api/v1/captures: HTTP {status} {reply}")
                ids.append(reply["id"])
            statuses = await _wait_all(server, ids)
            details["seconds"] = time.perf_counter() - started
            polling.cancel()
            details["statuses"] = {s: statuses.count(s) for s in set(statuses)}
            details["samples"] = sampler.samples
    finally:
        await server.stop(kill=True)
        shutil.rmtree(work, ignore_errors=True)
    peak = sampler.peak / MiB
    row = Row(
        NAME,
        f"server peak RSS ({queued} queued + {human_size(size)} video)",
        peak,
        "MiB",
        baseline=idle / MiB,
        baseline_what="idle server MiB",
        ratio=peak / (idle / MiB),
        target=f"< {TARGET_MIB} MiB",
        met=peak < TARGET_MIB,
    )
    return [row], details


async def _wait_all(server: RunningServer, ids: list[str]) -> list[str]:
    deadline = time.monotonic() + LOAD_TIMEOUT
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for capture_id in ids:
            if capture_id in statuses:
                continue
            _, _, row = await server.request("GET", f"/api/v1/captures/{capture_id}")
            if row["status"] in FINISHED:
                statuses[capture_id] = row["status"]
        if len(statuses) == len(ids):
            return [statuses[i] for i in ids]
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{len(ids) - len(statuses)} captures still unfinished after an hour")
