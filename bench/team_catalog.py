"""Benchmark 6: the PostgreSQL catalog at a million captures (team mode).

A throwaway PostgreSQL 15 cluster (:mod:`tests.pgcluster`: loopback, fsync off, the
server's other settings at their defaults) holds two catalogs made by
``open_catalog`` and filled by :mod:`bench.catalog_rows`: the baseline with 10,000
captures, then one with N (default 1,000,000), each with 1,000 cases (two of them of
exactly 100 and 1,000 captures), 10,000 watched targets (a few hundred due) and the
text of one sealed capture in five. On each, the same operations through the
catalog's public methods, each repeated and timed as its caller sees it (the query
and the rows made into Python objects): listing a case, one capture by id, a search
for a word in nearly every page, one in about one page in eight and one in 20 pages,
the scheduler's due targets and its claim of them. Each operation runs once before
it is timed, so both catalogs are measured warm.

Ratios are the big catalog's figure over the baseline's: what a hundred times more
rows costs. The bounds are on the big catalog's p99 (``MISSED`` when exceeded).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import psycopg

from archive.catalog import Catalog, RunPlan, open_catalog
from archive.timeutil import rfc3339, utc_now
from bench import catalog_rows
from bench.runner import Row, percentile
from tests.pgcluster import create_database, drop_database, running_cluster

NAME = "catalog"
#: Captures in the baseline catalog.
BASELINE_CAPTURES = 10_000
#: Room for the generated rows' write-ahead log without a checkpoint every few seconds.
SERVER_SETTINGS = {"max_wal_size": "4GB"}
#: Bounds on the p99 at N captures, in ms, from the first runs with headroom for this
#: shared machine (docs/performance.md, section 6): listing a case of 100 and of 1,000
#: (a dashboard page), a capture by id, a search for a common word (an investigator
#: waits for it) and for a rare one, the due targets, and the claim of up to a few
#: hundred (the scheduler ticks once a second: a claim must not take longer).
LIST_SMALL_P99_MS = 50.0
LIST_LARGE_P99_MS = 200.0
GET_P99_MS = 10.0
SEARCH_COMMON_P99_MS = 1000.0
SEARCH_RARE_P99_MS = 50.0
DUE_P99_MS = 100.0
CLAIM_P99_MS = 1000.0
#: Ids looked up by get_capture (drawn once, the same in both catalogs' ranges).
LOOKUPS = 500


@dataclass(frozen=True)
class Operation:
    """One measured call: how many times, its p99 bound in ms (``None``: none), and a
    check of what it returned (a call that returns the wrong thing is not timed)."""

    what: str
    call: Callable[[], object]
    check: Callable[[Any], bool]
    repeat: int
    bound_ms: float | None = None
    reset: Callable[[Any], None] | None = None


def _operations(catalog: Catalog, url: str, made: catalog_rows.Made) -> list[Operation]:
    sizes = made.case_sizes
    largest = _largest_case(url)
    ids = _lookup_ids(made.captures)
    claim = _Claim(catalog, url, made.due)
    return [
        Operation(
            f"list_captures(case) of {sizes['probe_small']}",
            lambda: catalog.list_captures(case="case-0001"),
            lambda rows: len(rows) == sizes["probe_small"],
            100,
            bound_ms=LIST_SMALL_P99_MS,
        ),
        Operation(
            f"list_captures(case) of {sizes['probe_large']}",
            lambda: catalog.list_captures(case="case-0002"),
            lambda rows: len(rows) == sizes["probe_large"],
            50,
            bound_ms=LIST_LARGE_P99_MS,
        ),
        Operation(
            "list_captures(case) of the largest case",
            lambda: catalog.list_captures(case=largest[0]),
            lambda rows: len(rows) == largest[1],
            20,
        ),
        Operation(
            "get_capture(id)",
            lambda: catalog.get_capture(next(ids)),
            lambda row: row is not None,
            LOOKUPS,
            bound_ms=GET_P99_MS,
        ),
        *_searches(catalog, made),
        Operation(
            "due_targets(now)",
            lambda: catalog.due_targets(now=claim.now),
            lambda rows: len(rows) == made.due,
            50,
            bound_ms=DUE_P99_MS,
        ),
        Operation(
            f"claim_due_targets ({made.due} due)",
            claim.claim,
            lambda rows: len(rows) == made.due,
            30,
            bound_ms=CLAIM_P99_MS,
            reset=claim.undo,
        ),
    ]


def _searches(catalog: Catalog, made: catalog_rows.Made) -> list[Operation]:
    """A word in nearly every page, one in about one in eight, and one in RARE_DOCS."""
    return [
        Operation(
            f"search_text common word ({made.common_word})",
            lambda: catalog.search_text(made.common_word),
            lambda hits: len(hits) == 50,
            20,
            bound_ms=SEARCH_COMMON_P99_MS,
        ),
        Operation(
            f"search_text medium word ({made.medium_word})",
            lambda: catalog.search_text(made.medium_word),
            lambda hits: len(hits) == 50,
            20,
            bound_ms=SEARCH_COMMON_P99_MS,
        ),
        Operation(
            f"search_text rare word ({made.rare_docs} pages)",
            lambda: catalog.search_text(made.rare_word),
            lambda hits: len(hits) == made.rare_docs,
            100,
            bound_ms=SEARCH_RARE_P99_MS,
        ),
    ]


class _Claim:
    """The scheduler's claim of every due target, and its undoing between repeats (raw
    SQL, not timed): the queued runs deleted, each target's schedule put back."""

    def __init__(self, catalog: Catalog, url: str, due: int) -> None:
        self.catalog, self.url = catalog, url
        self.now = rfc3339(utc_now())
        with psycopg.connect(url) as conn:
            self.saved = conn.execute(
                "SELECT id, interval_seconds, next_run_at, last_run_at FROM targets"
                " WHERE state = 'active' AND next_run_at <= %s ORDER BY id",
                (self.now,),
            ).fetchall()
        if len(self.saved) != due:
            raise catalog_rows.GenerationFailed(f"{len(self.saved)} targets due, not {due}")

    def claim(self) -> list[Any]:
        """As ``Scheduler.tick`` does after ``due_targets``: one plan per due target."""
        moment = utc_now()
        plans = {
            target: RunPlan(str(uuid.uuid4()), rfc3339(moment + timedelta(seconds=every)), {})
            for target, every, _, _ in self.saved
        }
        return self.catalog.claim_due_targets(now=self.now, plans=plans)

    def undo(self, queued: list[Any]) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("DELETE FROM captures WHERE id = ANY(%s)", ([r.id for r in queued],))
            conn.cursor().executemany(
                "UPDATE targets SET next_run_at = %s, last_run_at = %s WHERE id = %s",
                [(due_at, last, target) for target, _, due_at, last in self.saved],
            )


def _largest_case(url: str) -> tuple[str, int]:
    """The name of the case with the most captures, and how many (setup, not timed)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT cases.name, count(*) FROM captures JOIN cases ON cases.id = captures.case_id"
            " GROUP BY cases.name ORDER BY count(*) DESC, cases.name LIMIT 1"
        ).fetchone()
    if row is None:
        raise catalog_rows.GenerationFailed("no case holds a capture")
    return str(row[0]), int(row[1])


def _lookup_ids(captures: int) -> Any:
    """An endless cycle through LOOKUPS ids of generated captures, drawn at random."""
    draw = random.Random(7)
    chosen = [catalog_rows.capture_id(draw.randrange(captures)) for _ in range(LOOKUPS)]
    while True:
        yield from chosen


def _time(operation: Operation) -> list[float]:
    """Milliseconds of each repeat, after one untimed warm-up call; every result checked."""
    timings = []
    for n in range(operation.repeat + 1):
        began = time.perf_counter()
        result = operation.call()
        elapsed = (time.perf_counter() - began) * 1000
        if not operation.check(result):
            raise catalog_rows.GenerationFailed(
                f"{operation.what} returned {len(result) if isinstance(result, list) else result!r}"
                " rows, not what was generated: the figure would measure the wrong thing"
            )
        if operation.reset is not None:
            operation.reset(result)
        if n:
            timings.append(elapsed)
    return timings


def _measure_catalog(server: str, captures: int) -> dict[str, Any]:
    """Make one catalog of ``captures``, time every operation on it, drop it."""
    url = create_database(server)
    try:
        catalog = open_catalog(url)
        try:
            began = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                made = catalog_rows.generate(conn, captures)
                checked = catalog_rows.check_words(conn)
                size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            generated_s = time.perf_counter() - began
            began = time.perf_counter()
            timings = {op.what: (op, _time(op)) for op in _operations(catalog, url, made)}
            measured_s = time.perf_counter() - began
        finally:
            catalog.close()
    finally:
        drop_database(server, url)
    return {
        "made": made,
        "timings": timings,
        "facts": asdict(made)
        | {"words_checked_against_pg_words": checked, "database_bytes": size[0] if size else 0}
        | {"generate_s": round(generated_s, 1), "measure_s": round(measured_s, 1)},
    }


def _rows(full: dict[str, Any], base: dict[str, Any], captures: int) -> list[Row]:
    rows = []
    for (what, (op, values)), (_, (_, base_values)) in zip(
        full["timings"].items(), base["timings"].items(), strict=True
    ):
        for p in (50, 99):
            value, baseline = percentile(values, p), percentile(base_values, p)
            judged = op.bound_ms is not None and p == 99
            rows.append(
                Row(
                    NAME,
                    f"{what} p{p} (n={len(values)})",
                    value,
                    "ms",
                    baseline=baseline,
                    baseline_what=f"same at {BASELINE_CAPTURES:,} captures",
                    ratio=value / baseline,
                    target=f"< {op.bound_ms:g} ms at {captures:,}" if judged else "",
                    met=value < op.bound_ms if judged and op.bound_ms is not None else None,
                )
            )
    return rows


def _run(captures: int) -> tuple[list[Row], dict[str, Any]]:
    with running_cluster(prefix="bench-catalog-", settings=SERVER_SETTINGS) as server:
        with psycopg.connect(server) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        base = _measure_catalog(server, BASELINE_CAPTURES)
        full = _measure_catalog(server, captures)
    details = {
        "postgresql": version[0] if version else "",
        "server_settings": SERVER_SETTINGS,
        "baseline": base["facts"],
        "full": full["facts"],
        "max_ms": {what: round(max(v), 2) for what, (_, v) in full["timings"].items()},
    }
    return _rows(full, base, captures), details


async def measure(captures: int) -> tuple[list[Row], dict[str, Any]]:
    """The benchmark's rows and details (run in a thread: it is all blocking I/O)."""
    return await asyncio.to_thread(_run, captures)
