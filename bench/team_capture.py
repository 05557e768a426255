"""Benchmark: captures per minute in team mode (1, 2, 4 worker processes) against embedded
mode, in the same run on the same machine.

Embedded mode is ``osint-capture serve --workers N`` on its data directory (SQLite, local
files, captures in the server's process, one shared Chromium); the baseline is
``--workers 2``, the default, and 1 and 4 are measured beside it. Team mode is a
``serve`` that only enqueues plus 1, 2 or 4 ``osint-capture worker`` processes, each
``--concurrency 1`` (so K processes run K captures at once, and 2 processes run as many
as the baseline: that row is what team mode costs at equal concurrency), on a throwaway
PostgreSQL (catalog and queue, :func:`tests.pgcluster.running_cluster`) and SeaweedFS
(a locked bucket, :func:`tests.seaweed.start`). Each configuration gets a fresh data
directory, database and bucket.

Each configuration first runs one warm-up capture per slot (Chromium started, pools
open; not counted), then N distinct article pages (bench/site.py) are submitted at
once through the API, and the time runs until the API lists every one as ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from bench.runner import Row
from bench.servers import START_TIMEOUT, Processes, embedded_env, ended, submit
from bench.site import BenchSite
from tests import seaweed
from tests.pgcluster import create_database, running_cluster

NAME = "team"
EMBEDDED = (1, 2, 4)
BASELINE_WORKERS = 2
TEAM = (1, 2, 4)
#: Captures each team worker process runs at once.
CONCURRENCY = 1
#: Team mode with as many captures at once as the baseline may cost this much at most.
TEAM_TARGET = 0.75


@dataclass(frozen=True)
class Team:
    """Where a team configuration keeps its catalog and sealed files, and its keys."""

    catalog: str
    store: str
    keys: dict[str, str]


async def _captures_per_minute(
    run: Processes, site: BenchSite, label: str, slots: int, pages: int
) -> tuple[float, dict[str, Any]]:
    """Warm every slot, then time ``pages`` captures submitted at once."""
    async with aiohttp.ClientSession() as http:
        warm = [site.url(f"/article/warm-{label}-{n}") for n in range(slots)]
        await ended(http, run, await submit(http, run, warm))
        urls = [site.url(f"/article/{label}-{n}") for n in range(pages)]
        started = time.perf_counter()
        summaries = await ended(http, run, await submit(http, run, urls))
        wall = time.perf_counter() - started
    not_complete = sorted(
        f"{i}: {c['status']}" for i, c in summaries.items() if c["status"] != "complete"
    )
    return pages / wall * 60, {"wall_s": round(wall, 2), "not_complete": not_complete}


async def _embedded(
    work: Path, site: BenchSite, workers: int, pages: int
) -> tuple[float, dict[str, Any]]:
    run = Processes(work / f"embedded-{workers}" / "data", embedded_env(), None)
    try:
        await run.serve(workers)
        return await _captures_per_minute(run, site, f"e{workers}", workers, pages)
    finally:
        await run.stop()


async def _team(
    work: Path, site: BenchSite, team: Team, workers: int, pages: int
) -> tuple[float, dict[str, Any]]:
    folder = work / f"team-{workers}"
    folder.mkdir()
    config = folder / "team.toml"
    config.write_text(f'catalog = "{team.catalog}"\nstore = "{team.store}"\nqueue = "postgresql"\n')
    run = Processes(folder / "data", embedded_env() | team.keys, config)
    try:
        await run.serve(None)
        for n in range(workers):
            await run.worker(n, CONCURRENCY)
        await _registered(team.catalog, workers, run)
        return await _captures_per_minute(run, site, f"t{workers}", workers * CONCURRENCY, pages)
    finally:
        await run.stop()


def _worker_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        table = conn.execute("SELECT to_regclass('procrastinate_workers')").fetchone()
        if table is None or table[0] is None:
            return 0
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        return int(row[0]) if row else 0


async def _registered(url: str, workers: int, run: Processes) -> None:
    """Until every worker has registered with the queue (its Chromium is up)."""
    deadline = time.monotonic() + START_TIMEOUT
    while await asyncio.to_thread(_worker_count, url) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers did not register: {run.logs()}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _engines(work: Path):  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL and SeaweedFS, stopped by their PIDs at the end."""
    weed_root = work / "seaweed"
    weed_root.mkdir()
    with running_cluster(prefix="bench-team-pg-") as server:
        process, running = seaweed.start(weed_root)
        try:
            yield server, running
        finally:
            seaweed.stop(process)


def _new_team(server: str, running: seaweed.Seaweed) -> Team:
    store = (
        f"s3://{running.make_bucket()}/bench?endpoint={running.endpoint}"
        "&region=us-east-1&retention=GOVERNANCE&days=1"
    )
    keys = {"AWS_ACCESS_KEY_ID": running.access_key, "AWS_SECRET_ACCESS_KEY": running.secret_key}
    return Team(create_database(server), store, keys)


async def measure(pages: int) -> tuple[list[Row], dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="bench-team-"))
    embedded: dict[int, float] = {}
    team: dict[int, float] = {}
    details: dict[str, Any] = {"pages": pages, "concurrency_per_worker": CONCURRENCY, "runs": {}}
    started = time.perf_counter()
    try:
        async with BenchSite() as site, _engines(work) as (server, running):
            # Interleaved (embedded 1, team 1, embedded 2, ...), so a change in the
            # machine's load during the run falls on both modes alike, not on one.
            for kind, workers in _interleaved():
                label = f"{kind} {workers}"
                details["order"] = [*details.get("order", []), label]
                if kind == "embedded":
                    embedded[workers], details["runs"][label] = await _embedded(
                        work, site, workers, pages
                    )
                else:
                    team[workers], details["runs"][label] = await _team(
                        work, site, _new_team(server, running), workers, pages
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    details["total_s"] = round(time.perf_counter() - started, 1)
    return _rows(embedded, team, details), details


def _interleaved() -> list[tuple[str, int]]:
    """Every configuration, embedded and team taking turns."""
    pairs = [(("embedded", e), ("team", t)) for e, t in zip(EMBEDDED, TEAM, strict=True)]
    return [run for pair in pairs for run in pair]


def _rows(embedded: dict[int, float], team: dict[int, float], details: dict[str, Any]) -> list[Row]:
    """Every configuration against the embedded baseline; team's growth with processes."""
    base = embedded[BASELINE_WORKERS]
    complete = {name: not run["not_complete"] for name, run in details["runs"].items()}
    what = f"embedded --workers {BASELINE_WORKERS}"
    rows = []
    for workers, value in embedded.items():
        rows.append(
            Row(NAME, f"embedded, serve --workers {workers}", value, "captures/min",
                baseline=base, baseline_what=what, ratio=value / base,
                met=complete[f"embedded {workers}"] if workers == BASELINE_WORKERS else None,
                target="all complete" if workers == BASELINE_WORKERS else "")
        )  # fmt: skip
    for workers, value in team.items():
        judged = workers * CONCURRENCY == BASELINE_WORKERS
        ok = complete[f"team {workers}"] and (value / base >= TEAM_TARGET if judged else True)
        rows.append(
            Row(NAME, f"team, {workers} worker process(es) x {CONCURRENCY}", value,
                "captures/min", baseline=base, baseline_what=what, ratio=value / base,
                target=f">= {TEAM_TARGET}x, all complete" if judged else "all complete", met=ok)
        )  # fmt: skip
    for workers in TEAM[1:]:
        gain = team[workers] / team[TEAM[0]]
        rows.append(
            Row(NAME, f"team scaling, {workers} processes", team[workers], "captures/min",
                baseline=team[TEAM[0]], baseline_what="team, 1 process", ratio=gain,
                target="> 1x (grows)", met=gain > 1.0)
        )  # fmt: skip
    return rows
