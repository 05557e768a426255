"""Benchmark 4: latency of the API on the loopback while captures run.

The real server (``osint-capture serve``, via the tests' :class:`RunningServer`)
with two workers. Two captures are started first so the workers are busy; then
N ``POST /api/v1/captures`` (distinct pages, so none is deduplicated) are sent at
once, then N ``GET /api/v1/captures/{id}`` at once. The baseline is N
``GET /api/v1/health`` at once on the same server in the same state: the cheapest
authenticated request, so the ratio is what enqueuing and reading a capture add.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.runner import Row, percentile
from bench.site import BenchSite
from tests.server import RunningServer

NAME = "api"
#: p99 latency of enqueuing, in milliseconds.
ENQUEUE_P99_MS = 50.0
BUSY_TIMEOUT = 60.0


async def _burst(
    http: aiohttp.ClientSession,
    server: RunningServer,
    requests: list[tuple[str, str, dict[str, Any] | None]],
) -> tuple[list[float], list[Any]]:
    """Send every request at once; each one's latency in ms and its JSON body."""
    start = asyncio.Event()

    async def one(method: str, path: str, body: dict[str, Any] | None) -> tuple[float, Any]:
        await start.wait()
        began = time.perf_counter()
        async with http.request(method, server.base + path, json=body, headers=server.auth) as r:
            payload = await r.json()
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status} {payload}")
        return (time.perf_counter() - began) * 1000, payload

    tasks = [asyncio.create_task(one(*request)) for request in requests]
    await asyncio.sleep(0.05)  # every task is waiting at the gate
    start.set()
    done = await asyncio.gather(*tasks)
    return [ms for ms, _ in done], [payload for _, payload in done]


async def _wait_running(server: RunningServer, http: aiohttp.ClientSession, ids: list[str]) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT
    while time.monotonic() < deadline:
        for capture_id in ids:
            async with http.get(
                f"{server.base}/api/v1/captures/{capture_id}", headers=server.auth
            ) as r:
                if (await r.json())["status"] == "running":
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError("no capture started running within a minute: is the browser installed?")


async def measure(count: int) -> tuple[list[Row], dict[str, Any]]:
    os.environ["OSINT_CAPTURE_TSA"] = ""  # the server inherits it: no TSA beyond the loopback
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = RunningServer(work / "data", workers=2)
    rows: list[Row] = []
    details: dict[str, Any] = {"requests": count}
    try:
        async with BenchSite() as site:
            await server.start()
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                busy = [
                    ("POST", "/api/v1/captures", {"url": site.url(f"/article/busy{n}")})
                    for n in range(2)
                ]
                _, started = await _burst(http, server, busy)
                await _wait_running(server, http, [c["id"] for c in started])
                # Open the connections once, uncounted, so no figure includes TCP set-up.
                await _burst(http, server, [("GET", "/api/v1/health", None)] * count)
                health, _ = await _burst(http, server, [("GET", "/api/v1/health", None)] * count)
                posts = [
                    ("POST", "/api/v1/captures", {"url": site.url(f"/article/{n}")})
                    for n in range(count)
                ]
                enqueue, created = await _burst(http, server, posts)
                gets = [("GET", f"/api/v1/captures/{c['id']}", None) for c in created]
                read, _ = await _burst(http, server, gets)
                health_after, _ = await _burst(
                    http, server, [("GET", "/api/v1/health", None)] * count
                )
            details["distinct_ids"] = len({c["id"] for c in created})
    finally:
        await server.stop(kill=True)
        shutil.rmtree(work, ignore_errors=True)
    baseline = health + health_after
    for label, values in (("POST /captures", enqueue), ("GET /captures/{id}", read)):
        for p in (50, 99):
            value, base = percentile(values, p), percentile(baseline, p)
            is_enqueue_p99 = label.startswith("POST") and p == 99
            rows.append(
                Row(
                    NAME,
                    f"{label} p{p} ({count} at once)",
                    value,
                    "ms",
                    baseline=base,
                    baseline_what=f"GET /health p{p}",
                    ratio=value / base,
                    target=f"< {ENQUEUE_P99_MS:g} ms" if is_enqueue_p99 else "",
                    met=value < ENQUEUE_P99_MS if is_enqueue_p99 else None,
                )
            )
    details["max_ms"] = {"post": max(enqueue), "get": max(read), "health": max(baseline)}
    return rows, details
