"""The catalog's contract, on a real SQLite file and a real PostgreSQL database (the
``cat`` fixture runs each test on both): transactions, rows and their rules. SQLite's
own file, pragmas and migrations are tested on SQLite alone, PostgreSQL's own in
tests/test_catalog_postgres.py."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive import timeutil
from archive.catalog import (
    MAX_CLAIM,
    MIGRATIONS,
    BadCaseName,
    BadFilter,
    Catalog,
    CatalogError,
    Migration,
    QueuedRequest,
    RunPlan,
    open_catalog,
    validate_case_name,
)
from archive.catalog import schema as catalog_schema
from archive.hashing import sha256_bytes
from archive.store import Artifact

STARTED = "2026-11-26T12:00:00.000000Z"
FINISHED = "2026-11-26T12:01:30.500000Z"
WARC = Artifact("c1.warc.gz", sha256_bytes(b"warc"), 4, "warc")
SCREENSHOT = Artifact("screenshot.png", sha256_bytes(b"png"), 3, "screenshot")
MANIFEST = Artifact("manifest.json", sha256_bytes(b"{}"), 2, "manifest")

#: The number a migration added after the shipped ones would have.
NEXT = len(MIGRATIONS) + 1


@pytest.fixture
def ticking_clock() -> Iterator[None]:
    """Every reading of the clock is one second after the last, so order is certain."""
    moment = [datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)]

    def tick() -> datetime:
        moment[0] += timedelta(seconds=1)
        return moment[0]

    timeutil.set_clock(tick)
    yield
    timeutil.set_clock(None)


@pytest.fixture
def cat(catalog_url: str) -> Iterator[Catalog]:
    """A new catalog: a SQLite file, then a PostgreSQL database."""
    with open_catalog(catalog_url) as opened:
        yield opened


def start(cat: Catalog, capture_id: str, case: str | None = None) -> None:
    cat.start_capture(
        capture_id,
        f"https://example.org/{capture_id}",
        case=case,
        note=None,
        operator=None,
        started_at=STARTED,
    )


def finish(cat: Catalog, capture_id: str, status: str = "complete", **overrides: object) -> None:
    arguments: dict[str, object] = {
        "status": status,
        "reasons": [],
        "final_url": None,
        "finished_at": FINISHED,
        "warc": None,
        "manifest_sha256": None,
        "artifacts": [],
    }
    arguments.update(overrides)
    cat.finish_capture(capture_id, **arguments)  # type: ignore[arg-type]


def schema_objects(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return set(rows.fetchall())


# -- opening and migrations -------------------------------------------------------------


def test_open_migrates_an_empty_file_and_sets_the_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.touch()
    with Catalog.open(path) as cat:
        assert cat.schema_version == len(MIGRATIONS)
        with cat._read() as conn:
            pragmas = {
                name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            }
    assert pragmas["journal_mode"] == "wal" and pragmas["foreign_keys"] == 1
    assert pragmas["synchronous"] == 2  # FULL
    assert pragmas["busy_timeout"] >= 1000
    assert {
        ("table", "cases"),
        ("table", "captures"),
        ("table", "artifacts"),
        ("index", "captures_case_id"),
        ("index", "captures_status"),
        ("index", "captures_url"),
    } <= schema_objects(path)


def test_open_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "catalog.sqlite3"
    Catalog.open(path).close()
    assert path.is_file()


def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with Catalog.open(path) as cat:
        start(cat, "c1", case="Harbour")
        finish(cat, "c1", artifacts=[WARC])
    before = schema_objects(path)
    for _ in range(2):
        with Catalog.open(path) as cat:
            assert cat.schema_version == len(MIGRATIONS)
            row = cat.get_capture("c1")
            assert row is not None and row.status == "complete" and row.case == "Harbour"
            assert cat.artifacts("c1") == [WARC]
            assert [case.name for case in cat.list_cases()] == ["Harbour"]
    assert schema_objects(path) == before


def test_reopening_applies_only_the_missing_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite3"
    with Catalog.open(path) as cat:
        start(cat, "c1")
    step = Migration(NEXT, "tags", ("CREATE TABLE tags (name TEXT PRIMARY KEY)",))
    # Migration 1's CREATE TABLE would fail if it ran again.
    monkeypatch.setattr(catalog_schema, "MIGRATIONS", (*MIGRATIONS, step))
    with Catalog.open(path) as cat:
        assert cat.schema_version == NEXT
        assert cat.get_capture("c1") is not None
    assert ("table", "tags") in schema_objects(path)


def test_a_failing_migration_rolls_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite3"
    Catalog.open(path).close()
    broken = Migration(
        NEXT, "broken", ("CREATE TABLE tags (name TEXT PRIMARY KEY)", "THIS IS NOT SQL")
    )
    monkeypatch.setattr(catalog_schema, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(CatalogError, match=rf"migration {NEXT} \(broken\) failed"):
        Catalog.open(path)
    monkeypatch.setattr(catalog_schema, "MIGRATIONS", MIGRATIONS)
    with Catalog.open(path) as cat:
        assert cat.schema_version == len(MIGRATIONS)
    assert ("table", "tags") not in schema_objects(path)


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    newer = len(MIGRATIONS) + 1
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    message = (
        f"catalog schema version {newer} is newer than this osint-capture understands"
        f" ({len(MIGRATIONS)});"
        " upgrade osint-capture"
    )
    with pytest.raises(CatalogError) as raised:
        Catalog.open(path)
    assert str(raised.value) == message
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == newer
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        assert raw.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_file_that_is_not_a_database_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(b"this is not sqlite, just sixteen+ bytes of text" * 4)
    with pytest.raises(CatalogError, match="cannot open catalog"):
        Catalog.open(path)


def test_a_closed_catalog_says_so(catalog_url: str) -> None:
    cat = open_catalog(catalog_url)
    cat.close()
    cat.close()  # twice is fine
    with pytest.raises(CatalogError, match="closed"):
        cat.list_captures()


# -- captures ---------------------------------------------------------------------------


def test_start_and_finish_round_trip_with_artifacts(cat: Catalog) -> None:
    started = cat.start_capture(
        "c1",
        "https://example.org/a",
        case="Harbour",
        note="first look",
        operator="analyst-7",
        started_at=STARTED,
    )
    assert started.status == "running" and started.reasons == []
    assert started.case == "Harbour" and started.note == "first look"
    assert started.operator == "analyst-7" and started.started_at == STARTED
    assert started.finished_at is None and started.warc is None
    assert cat.artifacts("c1") == []

    finished = cat.finish_capture(
        "c1",
        status="partial",
        reasons=["still loading at the deadline: https://example.org/feed"],
        final_url="https://example.org/a/",
        finished_at=FINISHED,
        warc="c1.warc.gz",
        manifest_sha256=MANIFEST.sha256,
        artifacts=[WARC, SCREENSHOT, MANIFEST],
    )
    assert finished.status == "partial"
    assert finished.reasons == ["still loading at the deadline: https://example.org/feed"]
    assert finished.final_url == "https://example.org/a/"
    assert finished.finished_at == FINISHED and finished.warc == "c1.warc.gz"
    assert finished.manifest_sha256 == MANIFEST.sha256
    assert finished.created_at == started.created_at
    assert cat.get_capture("c1") == finished
    assert cat.artifacts("c1") == sorted([WARC, SCREENSHOT, MANIFEST], key=lambda a: a.path)
    assert cat.get_capture("nope") is None


def test_fail_capture_records_why(cat: Catalog) -> None:
    start(cat, "c1")
    row = cat.fail_capture("c1", reasons=["DNS lookup failed", "مهلة"], finished_at=FINISHED)
    assert row.status == "failed" and row.reasons == ["DNS lookup failed", "مهلة"]
    assert row.finished_at == FINISHED and row.warc is None and row.manifest_sha256 is None
    assert cat.artifacts("c1") == []


def test_finish_of_an_unknown_or_finished_capture_raises(cat: Catalog) -> None:
    with pytest.raises(CatalogError, match="no capture nope"):
        finish(cat, "nope")
    start(cat, "c1")
    finish(cat, "c1", artifacts=[WARC])
    with pytest.raises(CatalogError, match="cannot finish capture c1: it is complete"):
        finish(cat, "c1", status="partial", artifacts=[SCREENSHOT])
    with pytest.raises(CatalogError, match="cannot fail capture c1: it is complete"):
        cat.fail_capture("c1", reasons=["late"], finished_at=FINISHED)
    with pytest.raises(CatalogError, match="no capture nope"):
        cat.fail_capture("nope", reasons=[], finished_at=FINISHED)
    row = cat.get_capture("c1")
    assert row is not None and row.status == "complete"
    assert cat.artifacts("c1") == [WARC]


def test_starting_the_same_capture_twice_raises(cat: Catalog) -> None:
    start(cat, "c1")
    with pytest.raises(CatalogError, match="already exists"):
        start(cat, "c1")


def test_list_captures_by_case_and_status_newest_first(cat: Catalog, ticking_clock: None) -> None:
    start(cat, "a", case="Harbour")
    start(cat, "b", case="Bridge")
    start(cat, "c", case="Harbour")
    start(cat, "d")
    finish(cat, "a")
    cat.fail_capture("b", reasons=["refused"], finished_at=FINISHED)
    finish(cat, "c", status="partial", reasons=["cut"])

    assert [row.id for row in cat.list_captures()] == ["d", "c", "b", "a"]
    assert [row.id for row in cat.list_captures(case="Harbour")] == ["c", "a"]
    assert [row.id for row in cat.list_captures(status="running")] == ["d"]
    assert [row.id for row in cat.list_captures(case="Harbour", status="complete")] == ["a"]
    assert cat.list_captures(case="Nowhere") == []
    with pytest.raises(BadFilter, match="status must be one of"):
        cat.list_captures(status="done")


def test_list_captures_breaks_created_at_ties_by_id(cat: Catalog) -> None:
    fixed = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    timeutil.set_clock(lambda: fixed)
    try:
        for capture_id in ("z", "m", "a"):
            start(cat, capture_id)
    finally:
        timeutil.set_clock(None)
    assert [row.id for row in cat.list_captures()] == ["a", "m", "z"]


# -- cases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Harbour",
        "op.north_2024-b",
        "Case 12",
        "قضية الميناء ٢٠٢٤",
        "تحقيقٌ",  # with a vowel mark
        "हिन्दी",  # Devanagari vowel signs and virama are marks
        "x" * 100,
    ],
)
def test_valid_case_names(cat: Catalog, name: str) -> None:
    row = cat.ensure_case(name)
    assert row.name == name
    assert cat.ensure_case(name) == row  # get, not create again
    start(cat, "c1", case=name)
    assert [capture.id for capture in cat.list_captures(case=name)] == ["c1"]


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("", "got 0 characters"),
        ("x" * 101, "got 101 characters"),
        ("a/b", "'/'"),
        ("semi;colon", "';'"),
        ("tab\there", "'\\t'"),
        ("new\nline", "'\\n'"),
        ("rlo\u202egnp", "U+202E"),
        (" leading", "' leading'"),
        ("trailing ", "'trailing '"),
    ],
)
def test_invalid_case_names_name_the_rule(cat: Catalog, name: str, detail: str) -> None:
    with pytest.raises(BadCaseName) as raised:
        cat.ensure_case(name)
    message = str(raised.value)
    assert "letters, digits, '-', '_', '.' or space" in message and "1-100" in message
    assert detail in message
    with pytest.raises(BadCaseName):
        start(cat, "c1", case=name)
    assert cat.list_cases() == [] and cat.list_captures() == []


def test_case_names_are_normalised_to_nfc() -> None:
    decomposed = "Cafe\u0301"
    assert validate_case_name(decomposed) == "Caf\u00e9"


def test_list_cases(cat: Catalog) -> None:
    cat.ensure_case("Harbour")
    start(cat, "c1", case="Bridge")
    cases = cat.list_cases()
    assert [case.name for case in cases] == ["Bridge", "Harbour"]
    assert all(case.created_at.endswith("Z") for case in cases)


# -- transactions and integrity ---------------------------------------------------------


def test_finish_with_a_bad_status_changes_nothing(cat: Catalog) -> None:
    start(cat, "c1")
    with pytest.raises(ValueError, match="finishes as one of"):
        finish(cat, "c1", status="running", artifacts=[WARC])
    row = cat.get_capture("c1")
    assert row is not None and row.status == "running" and row.finished_at is None
    assert cat.artifacts("c1") == []


def test_a_write_that_fails_half_way_rolls_back_whole(cat: Catalog) -> None:
    start(cat, "c1")
    # The row is updated, then the second artifact breaks the primary key.
    with pytest.raises(CatalogError, match=r"UNIQUE constraint failed|duplicate key value"):
        finish(cat, "c1", warc="c1.warc.gz", artifacts=[WARC, WARC])
    row = cat.get_capture("c1")
    assert row is not None and row.status == "running"
    assert row.warc is None and row.finished_at is None
    assert cat.artifacts("c1") == []
    finish(cat, "c1", artifacts=[WARC])  # the connection is usable again
    assert cat.artifacts("c1") == [WARC]


def test_foreign_keys_and_checks_are_enforced(cat: Catalog) -> None:
    """By the database itself, below the catalog's methods."""
    foreign_key = r"FOREIGN KEY|foreign key constraint"
    with pytest.raises(CatalogError, match=foreign_key), cat._write() as conn:
        conn.execute(
            "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
            " VALUES ('ghost', 'x', 'warc', 'ab', 1, ?)",
            (STARTED,),
        )
    with pytest.raises(CatalogError, match=foreign_key), cat._write() as conn:
        conn.execute(
            "INSERT INTO captures (id, url, case_id, status, created_at)"
            " VALUES ('c9', 'https://example.org', 999, 'running', ?)",
            (STARTED,),
        )
    with pytest.raises(CatalogError, match=r"CHECK|check constraint"), cat._write() as conn:
        conn.execute(
            "INSERT INTO captures (id, url, status, created_at)"
            " VALUES ('c9', 'https://example.org', 'done', ?)",
            (STARTED,),
        )
    assert cat.list_captures() == []


def test_integrity_check_is_ok(cat: Catalog) -> None:
    start(cat, "c1", case="Harbour")
    finish(cat, "c1", artifacts=[WARC, MANIFEST])
    assert cat.integrity_check() == "ok"


def test_one_catalog_shared_by_threads_and_a_second_connection(catalog_url: str) -> None:
    errors: list[BaseException] = []

    def work(cat: Catalog, prefix: str) -> None:
        try:
            for n in range(20):
                capture_id = f"{prefix}-{n}"
                start(cat, capture_id, case="Shared")
                finish(cat, capture_id, artifacts=[WARC])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with open_catalog(catalog_url) as first, open_catalog(catalog_url) as second:
        threads = [
            threading.Thread(target=work, args=(first if i % 2 else second, f"t{i}"))
            for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(first.list_captures(case="Shared", status="complete")) == 80
        assert len(first.list_cases()) == 1
        assert first.integrity_check() == "ok"


def test_a_batch_is_queued_in_one_transaction_once_per_url(cat: Catalog) -> None:
    a, b = "https://example.org/a", "https://example.org/b"
    results = cat.enqueue_captures(
        [
            QueuedRequest("b1", a, "Batch", None, None, {"timeout": 30}),
            QueuedRequest("b2", a, "Batch", None, None, {}),  # same URL, same batch
            QueuedRequest("b3", b, None, "note", "amal", {}),
            QueuedRequest("b4", a, None, None, None, {}),  # same URL, for no case: its own
        ]
    )
    assert [(row.id, created) for row, created in results] == [
        ("b1", True),
        ("b1", False),
        ("b3", True),
        ("b4", True),
    ]
    assert results[0][0].case == "Batch" and results[2][0].operator == "amal"
    # A case name the catalog refuses: nothing of the batch is written.
    with pytest.raises(BadCaseName):
        cat.enqueue_captures(
            [
                QueuedRequest("b5", "https://example.org/c", None, None, None, {}),
                QueuedRequest("b6", "https://example.org/d", " ", None, None, {}),
            ]
        )
    assert cat.get_capture("b5") is None and cat.get_capture("b2") is None


def test_the_queue_enqueues_once_per_active_url_and_claims_oldest_first(cat: Catalog) -> None:
    first, created = cat.enqueue_capture(
        "q1",
        "https://example.org/a",
        case="Q",
        note=None,
        operator=None,
        request={"timeout": 30},
    )
    assert created and first.status == "queued" and first.request == {"timeout": 30}
    again, created = cat.enqueue_capture(
        "q2", "https://example.org/a", case="Q", note=None, operator=None, request={}
    )
    assert not created and again.id == "q1"
    cat.enqueue_capture(
        "q3", "https://example.org/b", case=None, note=None, operator=None, request={}
    )
    claimed = cat.claim_next_queued(started_at="2026-01-01T00:00:00.000000Z")
    assert claimed is not None and claimed.id == "q1" and claimed.status == "running"
    assert claimed.attempts == 1
    # Running still counts as active for the same URL (in the same case).
    assert not cat.enqueue_capture(
        "q4", "https://example.org/a", case="Q", note=None, operator=None, request={}
    )[1]
    requeued = cat.requeue_capture("q1", reason="server stopped while running")
    assert requeued.status == "queued" and requeued.reasons == ["server stopped while running"]
    assert [c.id for c in cat.list_captures(url="https://example.org/b")] == ["q3"]
    assert cat.claim_next_queued(started_at="t").id == "q1"
    assert cat.claim_next_queued(started_at="t").id == "q3"
    assert cat.claim_next_queued(started_at="t") is None


def test_counts_by_status_include_the_empty_ones(cat: Catalog) -> None:
    cat.enqueue_capture(
        "a", "https://example.org/1", case=None, note=None, operator=None, request={}
    )
    counts = cat.count_captures()
    assert counts["queued"] == 1 and counts["running"] == 0 and set(counts) >= {"failed"}


# -- watched targets and their timeline ---------------------------------------------------

T0 = "2026-11-26T12:00:00.000000Z"
T1 = "2026-11-26T12:00:30.000000Z"
T2 = "2026-11-26T12:01:00.000000Z"
T3 = "2026-11-26T12:02:00.000000Z"


def add_target(cat: Catalog, url: str = "https://example.org/post", **kw: object) -> int:
    arguments: dict[str, object] = {
        "interval_seconds": 60,
        "case": "Watch",
        "operator": "analyst",
        "note": "followed since the tip",
        "next_run_at": T0,
        "request": {"timeout": 30},
    }
    arguments.update(kw)
    return cat.add_target(url, **arguments).id  # type: ignore[arg-type]


def test_a_target_run_is_a_queued_capture_linked_to_it(cat: Catalog) -> None:
    target_id = add_target(cat)
    target = cat.get_target(target_id)
    assert target is not None and target.state == "active" and target.case == "Watch"
    assert target.request == {"timeout": 30} and target.last_run_at is None
    assert [t.id for t in cat.due_targets(now=T0)] == [target_id]

    run = cat.enqueue_target_run(target_id, "r1", now=T1, next_run_at=T2, request={"timeout": 30})
    assert run is not None and run.status == "queued" and run.target_id == target_id
    assert (run.url, run.case, run.operator, run.note) == (
        "https://example.org/post",
        "Watch",
        "analyst",
        "followed since the tip",
    )
    moved = cat.get_target(target_id)
    assert moved is not None and (moved.next_run_at, moved.last_run_at) == (T2, T1)
    assert cat.due_targets(now=T1) == []
    assert [c.id for c in cat.list_captures(target_id=target_id)] == ["r1"]


def test_a_target_never_has_two_runs_at_once_and_a_run_not_due_is_refused(cat: Catalog) -> None:
    target_id = add_target(cat)
    assert cat.enqueue_target_run(target_id, "r1", now=T1, next_run_at=T2, request={})
    # Not due yet (a second scheduler, or a restart, racing for the same run).
    assert cat.enqueue_target_run(target_id, "r2", now=T1, next_run_at=T2, request={}) is None
    # Due again, but r1 is still queued: no second run; the schedule still moves on.
    assert cat.enqueue_target_run(target_id, "r3", now=T2, next_run_at=T3, request={}) is None
    assert cat.get_target(target_id).next_run_at == T3  # type: ignore[union-attr]
    assert [c.id for c in cat.list_captures(target_id=target_id)] == ["r1"]
    cat.claim_next_queued(started_at=T2)
    finish(cat, "r1")
    assert cat.enqueue_target_run(target_id, "r4", now=T3, next_run_at=T3, request={})


def test_paused_and_removed_targets_are_not_run_and_removal_is_final(cat: Catalog) -> None:
    target_id = add_target(cat)
    cat.set_target_state(target_id, "paused")
    assert cat.due_targets(now=T3) == []
    assert cat.enqueue_target_run(target_id, "r1", now=T3, next_run_at=T3, request={}) is None
    resumed = cat.set_target_state(target_id, "active", next_run_at=T2)
    assert resumed.state == "active" and resumed.next_run_at == T2
    cat.set_target_state(target_id, "removed")
    assert cat.list_targets() == []
    assert [t.id for t in cat.list_targets(include_removed=True)] == [target_id]
    with pytest.raises(CatalogError, match="was removed"):
        cat.set_target_state(target_id, "active")
    with pytest.raises(ValueError, match="target state"):
        cat.set_target_state(target_id, "sleeping")
    with pytest.raises(CatalogError, match="no target 99"):
        cat.set_target_state(99, "paused")
    with pytest.raises(ValueError, match="positive number of seconds"):
        add_target(cat, interval_seconds=0)


def test_due_targets_are_claimed_together_each_once(cat: Catalog) -> None:
    due = add_target(cat, "https://example.org/a")
    later = add_target(cat, "https://example.org/b", next_run_at=T2)
    paused = add_target(cat, "https://example.org/c")
    cat.set_target_state(paused, "paused")
    plans = {t: RunPlan(f"run-{t}", T3, {"timeout": 5}) for t in (due, later, paused)}
    runs = cat.claim_due_targets(now=T1, plans=plans)
    assert [(r.id, r.target_id, r.status, r.request) for r in runs] == [
        (f"run-{due}", due, "queued", {"timeout": 5})
    ]
    assert runs[0].url == "https://example.org/a" and runs[0].case == "Watch"
    claimed = cat.get_target(due)
    assert claimed is not None and (claimed.next_run_at, claimed.last_run_at) == (T3, T1)
    assert cat.get_target(later).next_run_at == T2  # type: ignore[union-attr]
    assert cat.claim_due_targets(now=T1, plans=plans) == []  # no longer due
    # Due again while its run is still queued: no second run; the schedule moves on.
    moved_to = "2026-11-26T12:03:00.000000Z"
    assert cat.claim_due_targets(now=T3, plans={due: RunPlan("again", moved_to, {})}) == []
    assert cat.get_target(due).next_run_at == moved_to  # type: ignore[union-attr]
    assert [c.id for c in cat.list_captures(target_id=due)] == [f"run-{due}"]
    assert cat.claim_due_targets(now=T3, plans={}) == []
    too_many = {n: RunPlan(f"x{n}", T3, {}) for n in range(MAX_CLAIM + 1)}
    with pytest.raises(ValueError, match="at most"):
        cat.claim_due_targets(now=T3, plans=too_many)


def test_the_timeline_and_the_alerts_after_a_given_event(cat: Catalog) -> None:
    target_id = add_target(cat)
    other = add_target(cat, "https://example.org/other")
    first = cat.add_timeline_event(target_id, "first", "First capture", capture_id=None)
    same = cat.add_timeline_event(target_id, "unchanged", "Unchanged", capture_id=None)
    change = cat.add_timeline_event(
        target_id, "changed", "Text changed", capture_id=None, details={"text": {"added": 2}}
    )
    gone = cat.add_timeline_event(other, "takedown", "HTTP 200 -> 404", capture_id=None)
    assert [e.kind for e in cat.timeline(target_id)] == ["first", "unchanged", "changed"]
    assert cat.timeline(target_id)[2].details == {"text": {"added": 2}}
    assert [e.id for e in cat.alerts()] == [change.id, gone.id]
    assert [e.id for e in cat.alerts(after=change.id)] == [gone.id]
    assert cat.alerts(after=gone.id) == []
    assert first.id < same.id < change.id
    with pytest.raises(ValueError, match="timeline kind"):
        cat.add_timeline_event(target_id, "vanished", "?", capture_id=None)


# -- full-text search ----------------------------------------------------------------------


def sealed(cat: Catalog, capture_id: str, text: str, title: str = "") -> None:
    start(cat, capture_id)
    finish(cat, capture_id)
    cat.index_text(capture_id, url=f"https://example.org/{capture_id}", title=title, text=text)


def test_search_finds_every_word_and_marks_it(cat: Catalog) -> None:
    sealed(cat, "s1", "Witnesses saw the convoy at the checkpoint.", title="Convoy report")
    sealed(cat, "s2", "The checkpoint was empty.")
    assert {hit.capture_id for hit in cat.search_text("checkpoint")} == {"s1", "s2"}
    [hit] = cat.search_text("convoy checkpoint")
    assert hit.capture_id == "s1" and hit.title == "Convoy report"
    assert "\x02convoy\x03" in hit.snippet
    assert [h.capture_id for h in cat.search_text("conv*")] == ["s1"]
    assert cat.search_text("tank") == [] and cat.search_text("   ") == []


def test_search_reads_query_syntax_as_words(cat: Catalog) -> None:
    sealed(cat, "s1", 'He said "NOT" OR -maybe- (then) left: col:umn')
    for query in ['"NOT"', "OR", "-maybe-", "(then)", "col:umn", 'unbalanced "quote']:
        hits = cat.search_text(query)  # never an FTS5 syntax error
        assert all(hit.capture_id == "s1" for hit in hits)
    assert cat.search_text("NOT OR") and cat.search_text("NEAR(") == []


def test_search_in_arabic_finds_words_with_or_without_vowel_marks(cat: Catalog) -> None:
    sealed(cat, "ar", "قَصَفَت الطائرات مَدْرَسَة في الحيّ صباحاً")
    assert [h.capture_id for h in cat.search_text("مدرسة")] == ["ar"]
    assert [h.capture_id for h in cat.search_text("مَدْرَسَة")] == ["ar"]
    assert [h.capture_id for h in cat.search_text("الطائرات")] == ["ar"]
    assert cat.search_text("مستشفى") == []


def test_index_text_replaces_and_unindexed_lists_the_rest(cat: Catalog) -> None:
    sealed(cat, "s1", "old words")
    cat.index_text("s1", url="https://example.org/s1", title="", text="new words")
    assert cat.search_text("old") == [] and len(cat.search_text("new")) == 1
    start(cat, "s2")
    finish(cat, "s2", status="partial")
    start(cat, "s3")  # running: not sealed, nothing to index yet
    assert [c.id for c in cat.unindexed_captures()] == ["s2"]
    with pytest.raises(CatalogError, match="no capture nope"):
        cat.index_text("nope", url="u", title="", text="")
