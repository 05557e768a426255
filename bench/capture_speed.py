"""Benchmark ``capture``: how fast the product keeps a 20-page site whole, against a
person's script in one browser tab, in the same run (issue 16).

The site is bench/site.py's ``/site/{n}``: three images, a stylesheet, a script that
adds a block and an image 200 ms after load, a lazy image 3,000 px down. The baseline
(:mod:`bench.bare_tab`) keeps the 20 pages one after another in one tab (networkidle,
scroll, full-page screenshot), once before the product's runs and once after, so a
change in the machine's load falls on both. The product is ``osint-capture serve
--workers N`` (N = 1 to 4, a fresh data directory each, :mod:`bench.servers`): one
warm-up capture per worker (not counted), then the 20 pages submitted at once through
the API; the wall time runs from the first ``POST`` until the API lists the last one
as ended (sealed), and each page's own time is its ``started_at`` to ``finished_at``.
Every capture's WARC is then read back (:mod:`bench.fidelity`): a fast capture that
lost part of the page says ``MISSED``.

The article pages' per-stage costs at concurrency 1, 2 and 4
(:mod:`bench.capture_cost`, ``--pages``) follow in the same table.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from archive.timeutil import parse_rfc3339
from bench import capture_cost
from bench.bare_tab import BareRun, bare_tab
from bench.bare_tab import summary as bare_summary
from bench.fidelity import page_fidelity, print_tally, tally
from bench.runner import Row
from bench.servers import Processes, capture_detail, embedded_env, ended, submit
from bench.site import BenchSite

NAME = capture_cost.NAME
SITE_PAGES = 20
WORKERS = (1, 2, 3, 4)
#: The issue's goal: the 20 pages whole within this many seconds at this many workers.
TARGET_WORKERS = 2
TARGET_WALL = 10.0
#: One page at one worker may take at most this many times the bare tab's page.
TARGET_PAGE_RATIO = 1.0
#: Seconds between two listings while the 20 captures run (the wall time's resolution).
POLL = 0.1


async def measure(pages: int) -> tuple[list[Row], dict[str, Any]]:
    """The 20-page site's rows, then the article pipeline's (``pages`` articles)."""
    started = time.perf_counter()
    site_rows, site_details = await _site()
    site_details["seconds"] = round(time.perf_counter() - started, 1)
    article_rows, article_details = await capture_cost.measure(pages)
    return site_rows + article_rows, {"site": site_details, "articles": article_details}


async def _site() -> tuple[list[Row], dict[str, Any]]:
    names = [str(n) for n in range(SITE_PAGES)]
    work = Path(tempfile.mkdtemp(prefix="bench-capture-site-"))
    runs: dict[int, dict[str, Any]] = {}
    try:
        async with BenchSite() as site:
            before = await bare_tab(site, names, warm="warm-bare-before")
            for workers in WORKERS:
                runs[workers] = await _served(work, site, names, workers)
            after = await bare_tab(site, names, warm="warm-bare-after")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bare = _bare_figures(before, after)
    details = {
        "pages": SITE_PAGES,
        "bare": bare,
        "runs": runs,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    _print_fidelity(bare, runs)
    return _rows(bare, runs), details


async def _served(work: Path, site: BenchSite, names: list[str], workers: int) -> dict[str, Any]:
    """One ``serve --workers N`` run of the site: times, statuses and what each WARC kept."""
    run = Processes(work / f"serve-{workers}" / "data", embedded_env())
    try:
        await run.serve(workers)
        async with aiohttp.ClientSession() as http:
            warm = [site.url(f"/site/warm-{workers}-{k}") for k in range(workers)]
            await ended(http, run, await submit(http, run, warm))
            started = time.perf_counter()
            ids = await submit(http, run, [site.url(f"/site/{n}") for n in names])
            summaries = await ended(http, run, ids, poll=POLL)
            wall = time.perf_counter() - started
            files = {i: (await capture_detail(http, run, i))["files"] for i in ids}
    finally:
        await run.stop()
    per_page = [_seconds(summaries[i]) for i in ids]
    fidelity = [
        page_fidelity(site.origin, n, _warcs(run.data, i, files[i]), summaries[i])
        for n, i in zip(names, ids, strict=True)
    ]
    return {
        "wall_s": round(wall, 3),
        "pages_per_minute": round(len(names) / wall * 60, 1),
        "per_page_median_s": round(statistics.median(per_page), 3),
        "per_page_s": [round(s, 3) for s in per_page],
        # Worker-seconds of the wall not inside any capture, per page: the queue's
        # hand-over, the API's answer, the last workers' idle tail (at N > 1).
        "outside_captures_per_page_s": round((wall * workers - sum(per_page)) / len(names), 3),
        "statuses": sorted({summaries[i]["status"] for i in ids}),
        "fidelity": tally(fidelity),
    }


def _seconds(summary: dict[str, Any]) -> float:
    """A capture's own time, from the catalog: started (a worker took it) to finished."""
    if not summary.get("started_at") or not summary.get("finished_at"):
        raise RuntimeError(f"capture {summary['id']} has no start or end time: {summary}")
    delta = parse_rfc3339(summary["finished_at"]) - parse_rfc3339(summary["started_at"])
    return delta.total_seconds()


def _warcs(data: Path, capture_id: str, files: list[dict[str, Any]]) -> list[Path]:
    """The sealed WARC files of a capture, in ``DATA/captures/ID/`` (the file store)."""
    names = [f["name"] for f in files if f["name"].endswith((".warc.gz", ".warc"))]
    return [data / "captures" / capture_id / name for name in names]


def _bare_figures(before: BareRun, after: BareRun) -> dict[str, Any]:
    both = before.seconds + after.seconds
    return {
        "per_page_median_s": round(statistics.median(both), 3),
        "wall_s": round((sum(before.seconds) + sum(after.seconds)) / 2, 3),
        "checked": before.checked + after.checked,
        "missed_count": sum(len(m) for m in (*before.missed.values(), *after.missed.values())),
        "before": bare_summary(before),
        "after": bare_summary(after),
    }


def _print_fidelity(bare: dict[str, Any], runs: dict[int, dict[str, Any]]) -> None:
    seen = bare["checked"] - bare["missed_count"]
    verdict = "ok" if bare["checked"] and not bare["missed_count"] else "MISSED"
    print(f"bare tab saw {seen}/{bare['checked']} items (URLs answered 200, late text) {verdict}")
    for when in ("before", "after"):
        for url, missing in bare[when]["missed"].items():
            print(f"    MISSED ({when}) {url}: {', '.join(missing)}")
    for workers, run in runs.items():
        print_tally(f"serve --workers {workers}", run["fidelity"])


def _rows(bare: dict[str, Any], runs: dict[int, dict[str, Any]]) -> list[Row]:
    """Per page against the bare tab's page, wall and pages per minute against the bare
    tab's 20 pages, and each run's items found against those expected."""
    page, wall = bare["per_page_median_s"], bare["wall_s"]
    bare_rate = SITE_PAGES / wall * 60
    seen = bare["checked"] - bare["missed_count"]
    rows = [
        Row(NAME, "site: bare tab, per page median", page, "s", target="saw every item",
            met=bool(bare["checked"]) and not bare["missed_count"],
            extra={"items_seen": seen, "items_checked": bare["checked"]}),
    ]  # fmt: skip
    for workers in (1, 2):
        value = runs[workers]["per_page_median_s"]
        judged = workers == 1
        rows.append(
            Row(NAME, f"site: per page median, --workers {workers}", value, "s",
                baseline=page, baseline_what="bare tab page", ratio=value / page,
                target=f"<= {TARGET_PAGE_RATIO:g}x" if judged else "",
                met=value / page <= TARGET_PAGE_RATIO if judged else None)
        )  # fmt: skip
    for workers, run in runs.items():
        judged = workers == TARGET_WORKERS
        rows.append(
            Row(NAME, f"site: {SITE_PAGES} pages wall, --workers {workers}", run["wall_s"], "s",
                baseline=wall, baseline_what="bare tab", ratio=run["wall_s"] / wall,
                target=f"<= {TARGET_WALL:g} s, every item" if judged else "",
                met=run["wall_s"] <= TARGET_WALL and run["fidelity"]["whole"] if judged else None)
        )  # fmt: skip
    for workers, run in runs.items():
        rate = run["pages_per_minute"]
        rows.append(
            Row(NAME, f"site: pages/min, --workers {workers}", rate, "pages/min",
                baseline=bare_rate, baseline_what="bare tab", ratio=rate / bare_rate)
        )  # fmt: skip
    for workers, run in runs.items():
        counted = run["fidelity"]
        rows.append(
            Row(NAME, f"site: fidelity, --workers {workers}", counted["found"], "items",
                baseline=counted["expected"], baseline_what="expected",
                ratio=counted["found"] / counted["expected"] if counted["expected"] else None,
                target="every item", met=counted["whole"], extra={"missed": counted["missed"]})
        )  # fmt: skip
    return rows
