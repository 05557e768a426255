"""What only the PostgreSQL catalog has: its own migrations, writers on many connections at
once, row locks and SKIP LOCKED claims, its errors. Each test has an empty database of
a throwaway server (tests/postgres.py); the shared contract is in tests/test_catalog.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from archive.catalog import (
    BadCatalogURL,
    Catalog,
    CatalogBusy,
    CatalogError,
    CatalogUnavailable,
    Migration,
    QueuedRequest,
    RunPlan,
    StateConflict,
    open_catalog,
    pg_schema,
)
from archive.catalog.pg_engine import pg_sql
from archive.catalog.pg_steps import PG_MIGRATIONS
from tests.pgcluster import free_port

T0 = "2026-11-26T12:00:00.000000Z"
T1 = "2026-11-26T12:01:00.000000Z"
LATER = "2026-11-26T13:00:00.000000Z"
NEXT = len(PG_MIGRATIONS) + 1


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as raw:
        rows = raw.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def applied(url: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as raw:
        return [
            (int(v), str(d), str(a))
            for v, d, a in raw.execute(
                "SELECT version, description, applied_at FROM schema_migrations ORDER BY version"
            )
        ]


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(0..count-1)`` in as many threads, started together; their results in order."""
    start = threading.Barrier(count)

    def run(n: int) -> Any:
        start.wait(10)
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@contextmanager
def held(url: str, sql: str, params: tuple[object, ...] = ()) -> Iterator[None]:
    """Another session's transaction holding the locks ``sql`` takes, until the block ends."""
    with psycopg.connect(url) as other:
        other.execute(sql, params)
        yield
        other.rollback()


# -- migrations ---------------------------------------------------------------------------


def test_migrations_make_an_empty_database_a_catalog_and_a_second_open_changes_nothing(
    postgres_url: str,
) -> None:
    assert tables(postgres_url) == set()
    with open_catalog(postgres_url) as cat:
        assert cat.schema_version == len(PG_MIGRATIONS)
        assert cat.integrity_check() == "ok"
        cat.ensure_case("Harbour")
    made = tables(postgres_url)
    assert {"cases", "captures", "artifacts", "targets", "timeline", "custody_head"} <= made
    assert {"capture_text", "analyses", "analysis_text", "object_versions", "case_holds"} <= made
    steps = applied(postgres_url)
    assert [(v, d) for v, d, _ in steps] == [(m.version, m.description) for m in PG_MIGRATIONS]
    with open_catalog(postgres_url) as again:
        assert again.schema_version == len(PG_MIGRATIONS)
        assert [c.name for c in again.list_cases()] == ["Harbour"]
    assert tables(postgres_url) == made and applied(postgres_url) == steps


def test_reopening_applies_only_the_missing_step(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_catalog(postgres_url) as cat:
        cat.ensure_case("Harbour")
    step = Migration(NEXT, "tags", ("CREATE TABLE tags (name TEXT PRIMARY KEY)",))
    monkeypatch.setattr(pg_schema, "PG_MIGRATIONS", (*PG_MIGRATIONS, step))
    with open_catalog(postgres_url) as cat:  # step 1's CREATE TABLE would fail if run again
        assert cat.schema_version == NEXT
        assert [c.name for c in cat.list_cases()] == ["Harbour"]
    assert "tags" in tables(postgres_url) and applied(postgres_url)[-1][:2] == (NEXT, "tags")


def test_a_failing_step_rolls_back_whole(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_catalog(postgres_url).close()
    broken = Migration(NEXT, "broken", ("CREATE TABLE tags (name TEXT)", "THIS IS NOT SQL"))
    monkeypatch.setattr(pg_schema, "PG_MIGRATIONS", (*PG_MIGRATIONS, broken))
    with pytest.raises(CatalogError, match=rf"migration {NEXT} \(broken\) failed"):
        open_catalog(postgres_url)
    assert "tags" not in tables(postgres_url)
    assert [v for v, _, _ in applied(postgres_url)] == [m.version for m in PG_MIGRATIONS]


def test_a_newer_schema_is_refused_untouched(postgres_url: str) -> None:
    open_catalog(postgres_url).close()
    with psycopg.connect(postgres_url) as raw:
        raw.execute("INSERT INTO schema_migrations VALUES (%s, 'from the future', %s)", (NEXT, T0))
    before = tables(postgres_url), applied(postgres_url)
    for read_only in (False, True):
        with pytest.raises(CatalogError) as raised:
            open_catalog(postgres_url, read_only=read_only)
        assert str(raised.value) == (
            f"catalog schema version {NEXT} is newer than this osint-capture understands"
            f" ({len(PG_MIGRATIONS)}); upgrade osint-capture"
        )
    assert (tables(postgres_url), applied(postgres_url)) == before


def test_processes_opening_one_empty_database_at_once_migrate_it_once(postgres_url: str) -> None:
    catalogs = in_threads(4, lambda _: open_catalog(postgres_url))
    try:
        assert {cat.schema_version for cat in catalogs} == {len(PG_MIGRATIONS)}
    finally:
        for cat in catalogs:
            cat.close()
    assert [v for v, _, _ in applied(postgres_url)] == [m.version for m in PG_MIGRATIONS]


def test_a_reader_never_migrates_and_never_writes(postgres_url: str) -> None:
    with pytest.raises(CatalogError, match="open it for writing first"):
        open_catalog(postgres_url, read_only=True)
    assert tables(postgres_url) == set()
    with open_catalog(postgres_url) as writer, open_catalog(postgres_url, read_only=True) as reader:
        writer.ensure_case("Harbour")
        assert [c.name for c in reader.list_cases()] == ["Harbour"]
        with pytest.raises(CatalogError, match="read-only"):
            reader.ensure_case("Bridge")
    with open_catalog(postgres_url) as cat:
        assert [c.name for c in cat.list_cases()] == ["Harbour"]


# -- writers side by side ------------------------------------------------------------------


@pytest.fixture
def catalogs(postgres_url: str) -> Iterator[list[Catalog]]:
    """Four catalogs on one database: four processes' worth of connections."""
    opened = [open_catalog(postgres_url) for _ in range(4)]
    yield opened
    for cat in opened:
        cat.close()


def test_workers_claim_each_queued_capture_once(catalogs: list[Catalog]) -> None:
    catalogs[0].enqueue_captures(
        [
            QueuedRequest(f"q{n:03}", f"https://example.org/{n}", None, None, None, {})
            for n in range(60)
        ]
    )

    def drain(n: int) -> list[str]:
        taken = []
        while (row := catalogs[n].claim_next_queued(started_at=T1)) is not None:
            taken.append(row.id)
        return taken

    taken = in_threads(4, drain)
    every = [capture_id for worker in taken for capture_id in worker]
    assert sorted(every) == [f"q{n:03}" for n in range(60)], "a capture claimed twice or lost"
    assert all(row.attempts == 1 for row in catalogs[0].list_captures(status="running"))


def test_one_url_queued_by_many_at_once_is_one_capture(catalogs: list[Catalog]) -> None:
    def enqueue(n: int) -> tuple[str, bool]:
        row, created = catalogs[n].enqueue_capture(
            f"c{n}", "https://example.org/same", case="Race", note=None, operator=None, request={}
        )
        return row.id, created

    results = in_threads(4, enqueue)
    assert sum(created for _, created in results) == 1
    assert len({capture_id for capture_id, _ in results}) == 1
    assert len(catalogs[0].list_captures(url="https://example.org/same")) == 1


def test_a_capture_finished_twice_at_once_is_finished_once(catalogs: list[Catalog]) -> None:
    catalogs[0].start_capture(
        "c1", "https://example.org/", case=None, note=None, operator=None, started_at=T0
    )

    def finish(n: int) -> str:
        try:
            catalogs[n].fail_capture("c1", reasons=[f"worker {n}"], finished_at=T1)
        except StateConflict:
            return "refused"
        return "finished"

    assert sorted(in_threads(4, finish)) == ["finished", "refused", "refused", "refused"]
    row = catalogs[0].get_capture("c1")
    assert row is not None and row.status == "failed" and len(row.reasons) == 1


def test_one_target_run_by_many_schedulers_at_once_is_one_run(catalogs: list[Catalog]) -> None:
    target = catalogs[0].add_target(
        "https://example.org/t", interval_seconds=60, case=None, operator=None, note=None,
        next_run_at=T0,
    )  # fmt: skip

    def enqueue(n: int) -> str | None:
        row = catalogs[n].enqueue_target_run(
            target.id, f"run-{n}", now=T1, next_run_at=LATER, request={}
        )
        return row.id if row else None

    assert len([r for r in in_threads(4, enqueue) if r is not None]) == 1
    assert len(catalogs[0].list_captures(target_id=target.id)) == 1


def test_two_schedulers_claiming_at_once_never_claim_one_target_twice(
    catalogs: list[Catalog],
) -> None:
    ids = [
        catalogs[0].add_target(
            f"https://example.org/{n}", interval_seconds=60, case=None, operator=None,
            note=None, next_run_at=T0,
        ).id
        for n in range(150)
    ]  # fmt: skip

    def claim(n: int) -> list[int]:
        plans = {t: RunPlan(f"s{n}-t{t}", LATER, {}) for t in ids}
        return [row.target_id for row in catalogs[n].claim_due_targets(now=T1, plans=plans)]

    claimed = in_threads(2, claim)
    assert not set(claimed[0]) & set(claimed[1]), "a target claimed by both schedulers"
    assert sorted(claimed[0] + claimed[1]) == ids
    for target_id in ids:
        assert len(catalogs[0].list_captures(target_id=target_id)) == 1


def test_a_claim_passes_over_targets_another_transaction_holds(
    postgres_url: str, catalogs: list[Catalog]
) -> None:
    ids = [
        catalogs[0].add_target(
            f"https://example.org/{n}", interval_seconds=60, case=None, operator=None,
            note=None, next_run_at=T0,
        ).id
        for n in range(4)
    ]  # fmt: skip
    plans = {t: RunPlan(f"run-{t}", LATER, {}) for t in ids}
    with held(postgres_url, "SELECT id FROM targets WHERE id = ANY(%s) FOR UPDATE", (ids[:2],)):
        began = time.monotonic()
        claimed = catalogs[1].claim_due_targets(now=T1, plans=plans)
        waited = time.monotonic() - began
    assert [row.target_id for row in claimed] == ids[2:]
    assert waited < catalogs[1].busy_timeout_ms / 1000, "the claim waited for the held rows"
    assert [row.target_id for row in catalogs[1].claim_due_targets(now=T1, plans=plans)] == ids[:2]


# -- errors ---------------------------------------------------------------------------------


def test_a_row_held_too_long_is_busy_and_reads_go_on(postgres_url: str) -> None:
    with open_catalog(postgres_url, busy_timeout_ms=200) as cat:
        cat.start_capture(
            "c1", "https://example.org/", case=None, note=None, operator=None, started_at=T0
        )
        with held(postgres_url, "SELECT * FROM captures WHERE id = 'c1' FOR UPDATE"):
            with pytest.raises(CatalogBusy) as raised:
                cat.fail_capture("c1", reasons=["late"], finished_at=T1)
            assert cat.get_capture("c1").status == "running"  # type: ignore[union-attr]
        cat.fail_capture("c1", reasons=["late"], finished_at=T1)
    message = str(raised.value)
    assert "PostgreSQL: lock timeout" in message and "0.2 s" in message
    assert "try again" in message and "@127.0.0.1" in message
    assert raised.value.http_status == 503


def test_a_server_that_does_not_answer_is_unavailable() -> None:
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(CatalogUnavailable) as raised:
        open_catalog(url)
    message = str(raised.value)
    assert "cannot open catalog postgresql://postgres@127.0.0.1:" in message
    assert "secret" not in message and raised.value.http_status == 503


def test_integrity_check_names_an_invalid_index(postgres_url: str) -> None:
    with open_catalog(postgres_url) as cat:
        for name in ("a", "b"):
            cat.start_capture(
                name, "https://example.org/", case=None, note=None, operator=None, started_at=T0
            )
        with (
            psycopg.connect(postgres_url, autocommit=True) as raw,
            pytest.raises(psycopg.errors.UniqueViolation),
        ):
            raw.execute("CREATE UNIQUE INDEX CONCURRENTLY one_url ON captures(url)")
        assert "index one_url is not valid" in cat.integrity_check()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://relative/catalog.sqlite3",
        "sqlite:catalog.sqlite3",
        "mysql://amal:secret@x/y",
        "catalog.db",
        "postgresql://amal:secret@127.0.0.1:5432/db?sslmode",
    ],
)
def test_a_catalog_url_that_names_no_catalog_is_refused(url: str) -> None:
    with pytest.raises(BadCatalogURL) as raised:
        open_catalog(url)
    assert raised.value.exit_code == 2 and "secret" not in str(raised.value)


def test_a_database_not_in_utf8_is_refused(postgres_server: str) -> None:
    url = postgres_server.rsplit("/", 1)[0] + "/latin"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(
            "CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    try:
        with pytest.raises(CatalogError, match="encoded LATIN1, not UTF8"):
            open_catalog(url)
        assert tables(url) == set()
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute("DROP DATABASE latin WITH (FORCE)")


def test_placeholders_become_psycopgs_outside_quotes_only() -> None:
    assert pg_sql("SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE 'a%' AND z = ?") == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE 'a%%' AND z = %s"
    )
    assert pg_sql("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
