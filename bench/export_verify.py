"""Benchmark 3: exporting a case holding a big video, and verifying the package.

The case is made the way a user makes one: ``osint-capture capture`` of a local
page whose ``<video>`` the media stage downloads whole. A case of SIZE holds a
video of half that size twice (the sealed file and its WARC record), so the
video is made SIZE/2. Then ``osint-capture
export`` packages it and ``osint-capture verify`` checks the package offline,
each a separate process as users run them, each polled for its peak RSS. The
baselines are ``sha256sum`` over the same bytes: the case's sealed files for the
export, the ``.wacz`` for the verify.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runner import PRODUCT_ENV, MiB, Row, RssSampler, human_size, make_random_file
from bench.site import BenchSite

NAME = "export"
CLI = str(Path(sys.executable).with_name("osint-capture"))
#: Verify may take at most this many times sha256sum over the package.
VERIFY_TARGET = 1.5
CASE = "bench"


async def run_cli(*args: str, accept: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Run ``osint-capture ARGS``: wall seconds, peak RSS of that process, stdout.

    ``accept`` lists the exit codes that are not a failure of the run.
    """
    process = await asyncio.create_subprocess_exec(
        CLI,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=PRODUCT_ENV,
    )
    sampler = RssSampler(process.pid)
    polling = asyncio.create_task(sampler.run())
    started = time.perf_counter()
    out, err = await process.communicate()
    seconds = time.perf_counter() - started
    polling.cancel()
    if process.returncode not in accept:
        raise RuntimeError(
            f"osint-capture {args[0]} exited with {process.returncode}: {err.decode()[-2000:]}"
        )
    return seconds, sampler.peak, out.decode()


def sha256sum_all(paths: list[Path]) -> float:
    """Wall seconds of one ``sha256sum`` over every file (after a warming read)."""
    for path in paths:
        subprocess.run(["cat", str(path)], check=True, stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, paths)], check=True, capture_output=True)
    return time.perf_counter() - started


async def measure(size: int) -> tuple[list[Row], dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    details: dict[str, Any] = {}
    try:
        data = work / "data"
        details["capture"] = await _capture_video(work, data, size)
        sealed = sorted(p for p in (data / "captures").rglob("*") if p.is_file())
        details["case_bytes"] = sum(p.stat().st_size for p in sealed)
        export_base = await asyncio.to_thread(sha256sum_all, sealed)
        package = work / "case.wacz"
        export_s, export_peak, _ = await run_cli(
            "export", "--case", CASE, "--out", str(package), "--data", str(data)
        )
        verify_base = await asyncio.to_thread(sha256sum_all, [package])
        # No time-stamp authority here: intact but not authenticated in time (exit 4) is
        # the expected verdict; every check is still run, and none may fail.
        verify_s, verify_peak, verdict = await run_cli(
            "verify", str(package), "--json", "--data", str(data), accept=(0, 4)
        )
        details["package_bytes"] = package.stat().st_size
        details["verify_verdict"] = json.loads(verdict).get("verdict")
        label = human_size(size)
        rows = [
            Row(
                NAME,
                f"export {label} case",
                export_s,
                "s",
                baseline=export_base,
                baseline_what="sha256sum of case s",
                ratio=export_s / export_base,
                extra={"peak_rss_mib": export_peak / MiB},
            ),
            Row(
                NAME,
                f"verify {label} case",
                verify_s,
                "s",
                baseline=verify_base,
                baseline_what="sha256sum of .wacz s",
                ratio=verify_s / verify_base,
                target=f"<= {VERIFY_TARGET}x",
                met=verify_s / verify_base <= VERIFY_TARGET
                and details["verify_verdict"] != "failed",
                extra={"peak_rss_mib": verify_peak / MiB},
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, details


async def _capture_video(work: Path, data: Path, size: int) -> dict[str, Any]:
    """A capture of a page with a video of ``size // 2`` random bytes into case CASE
    (the source file removed after: the case holds its own copy); its figures."""
    video = await asyncio.to_thread(make_random_file, work / "video.mp4", size // 2)
    async with BenchSite(video=video) as site:
        seconds, peak, out = await run_cli(
            "capture",
            site.url("/video"),
            "--case",
            CASE,
            "--data",
            str(data),
            "--timeout",
            "1800",
            "--media-max-size",
            "8G",
            "--json",
        )
    manifest = json.loads(out)
    video.unlink()
    return {
        "video_bytes": size // 2,
        "seconds": seconds,
        "peak_rss_mib": peak / MiB,
        "status": manifest["status"],
        "reasons": manifest.get("reasons", []),
    }
