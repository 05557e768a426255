"""Benchmark 1: what a full capture costs per page against a bare load and screenshot.

The baseline is the same Chromium (one shared :class:`capture.browser.Browser`)
doing only what a screenshot tool does: a fresh context, ``goto`` until the load
event, a full-page screenshot. The capture is the real pipeline
(:func:`capture.pipeline.capture_page`, no media stage, no TSA) over the same
pages, at the same concurrency, in the same run. Each stage's wall time is
summed from the pipeline's own progress events, which is where the time goes.
"""

from __future__ import annotations

import asyncio
import collections
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from archive.datadir import Archive
from bench.runner import Row
from bench.site import BenchSite
from capture.browser import Browser
from capture.pipeline import capture_page
from capture.progress_events import Event, Progress, StageEntered
from capture.requests import CaptureRequest

NAME = "capture"
CONCURRENCY = (1, 2, 4)
#: A full capture may cost at most this many times the bare load + screenshot.
TARGET_RATIO = 1.5
TIMEOUT = 60.0


async def _bare(browser: Browser, url: str) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url, wait_until="load", timeout=TIMEOUT * 1000)
        await page.screenshot(full_page=True, timeout=TIMEOUT * 1000)
    finally:
        await context.close()


class _Stages:
    """Wall seconds spent in each pipeline stage, summed over captures."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)

    def progress(self) -> Progress:
        state: dict[str, Any] = {"stage": None, "since": time.perf_counter()}

        def on(event: Event) -> None:
            if not isinstance(event, StageEntered):
                return
            now = time.perf_counter()
            if state["stage"] is not None:
                self.seconds[state["stage"]] += now - state["since"]
            state["stage"], state["since"] = event.stage, now

        return on


async def _in_parallel(
    urls: list[str], concurrency: int, one: Callable[[str], Awaitable[None]]
) -> float:
    """Wall seconds to run ``one`` over every URL, at most ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(url: str) -> None:
        async with gate:
            await one(url)

    started = time.perf_counter()
    await asyncio.gather(*(gated(url) for url in urls))
    return time.perf_counter() - started


async def measure(pages: int) -> tuple[list[Row], dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    rows: list[Row] = []
    details: dict[str, Any] = {"pages": pages, "stages": {}}
    failures: list[str] = []
    try:
        async with BenchSite() as site:
            urls = [site.url(f"/article/{n}") for n in range(pages)]
            browser = await Browser.launch()
            try:
                await _bare(browser, urls[0])  # warm the browser once, not counted
                throughput: dict[int, float] = {}
                for concurrency in CONCURRENCY:
                    row, stages = await _at_concurrency(
                        browser, urls, concurrency, work / f"data-{concurrency}", failures
                    )
                    rows.append(row)
                    throughput[concurrency] = row.extra["pages_per_second"]
                    details["stages"][concurrency] = stages
                rows.extend(_gains(throughput))
            finally:
                await browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    details["not_complete"] = failures[:10]
    details["not_complete_count"] = len(failures)
    return rows, details


async def _at_concurrency(
    browser: Browser, urls: list[str], concurrency: int, data: Path, failures: list[str]
) -> tuple[Row, dict[str, float]]:
    """The bare browser and full captures of ``urls``, ``concurrency`` at a time: the row
    (seconds per page against the bare browser's) and the seconds per page of each stage."""
    pages = len(urls)
    bare = await _in_parallel(urls, concurrency, lambda u: _bare(browser, u))
    stages = _Stages()
    archive = Archive.open(data)

    async def full(url: str) -> None:
        manifest = await capture_page(
            CaptureRequest(url, timeout=TIMEOUT, media=None, tsa=None),
            archive,
            browser=browser,
            progress=stages.progress(),
        )
        if manifest.status != "complete":
            failures.append(f"{url}: {manifest.status} {manifest.reasons}")

    try:
        wall = await _in_parallel(urls, concurrency, full)
    finally:
        archive.close()
    ratio = wall / bare
    row = Row(
        NAME,
        f"per page, concurrency {concurrency}",
        wall / pages,
        "s",
        baseline=bare / pages,
        baseline_what="goto+screenshot",
        ratio=ratio,
        target=f"<= {TARGET_RATIO}x",
        met=ratio <= TARGET_RATIO,
        extra={"pages_per_second": pages / wall, "bare_wall": bare},
    )
    per_stage = {
        stage: round(seconds / pages, 3)
        for stage, seconds in sorted(stages.seconds.items(), key=lambda s: -s[1])
    }
    return row, per_stage


def _gains(throughput: dict[int, float]) -> list[Row]:
    """Throughput at each concurrency above 1 against sequential captures."""
    return [
        Row(
            NAME,
            f"throughput, concurrency {concurrency}",
            throughput[concurrency],
            "pages/s",
            baseline=throughput[1],
            baseline_what="sequential",
            ratio=throughput[concurrency] / throughput[1],
            target="> 1x (grows)",
            met=throughput[concurrency] / throughput[1] > 1.0,
        )
        for concurrency in CONCURRENCY[1:]
    ]
