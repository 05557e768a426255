"""The custody log on real files: the chain, every way of breaking it, crashes and races."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.catalog import MIGRATIONS, Catalog, CatalogError
from archive.catalog import schema as catalog_schema
from archive.datadir import Archive
from archive.evidence.custody import (
    GENESIS,
    LOG_NAME,
    TORN_PREFIX,
    CustodyError,
    CustodyLog,
    CustodyReport,
    TornLogError,
    canonical_json,
    verify_slice,
)
from archive.store import locked
from archive.timeutil import CLOCK_SOURCE


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cat(data: Path) -> Iterator[Catalog]:
    with Catalog.open(data / "catalog.sqlite3") as opened:
        yield opened


@pytest.fixture
def log(data: Path, cat: Catalog) -> CustodyLog:
    return Archive(data, cat).custody


def fill(log: CustodyLog, count: int = 4) -> None:
    """``count`` events, each about its own capture ``c1``, ``c2``, ..."""
    for n in range(1, count + 1):
        log.append("captured", actor="amal", captures=[f"c{n}"], details={"n": n})


def lines(log: CustodyLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def write_lines(log: CustodyLog, new: list[bytes]) -> None:
    """What someone with a text editor does to the file (tests only)."""
    log.path.write_bytes(b"".join(new))


def kinds(report: CustodyReport) -> list[tuple[str, int | None, int | None]]:
    return [(problem.kind, problem.line, problem.seq) for problem in report.problems]


def rehash(event: dict[str, object]) -> bytes:
    """An event line with its hash recomputed, as a careful forger would write it."""
    body = {k: v for k, v in event.items() if k != "hash"}
    event = {**body, "hash": hashlib.sha256(canonical_json(body)).hexdigest()}
    return canonical_json(event) + b"\n"


# -- appending and verifying ------------------------------------------------------------------


def test_append_writes_linked_canonical_lines_and_records_the_head(
    log: CustodyLog, cat: Catalog
) -> None:
    first = log.append("key-created", actor="system", details={"fingerprint": "sha256:ab"})
    second = log.append(
        "captured", actor="Amal Haddad", captures=["c1"], details={"url": "https://x.org/ü"}
    )
    raw = lines(log)
    assert len(raw) == 2
    previous = GENESIS
    for seq, line in enumerate(raw, start=1):
        event = json.loads(line)
        assert set(event) == {
            "seq", "time", "clock", "action", "actor", "captures", "details", "prev", "hash"
        }  # fmt: skip
        assert event["seq"] == seq
        assert event["clock"] == CLOCK_SOURCE == "system clock, UTC"
        assert event["time"].endswith("Z")
        assert event["prev"] == previous
        # The hash, computed here from the brief's definition and nothing of custody.py.
        body = {k: v for k, v in event.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert event["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
        assert line == json.dumps(event, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode() + b"\n"  # fmt: skip
        previous = event["hash"]
    assert "ü".encode() in raw[1]  # UTF-8, not \u escapes
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev == first.hash
    assert cat.custody_head() == (2, second.hash)
    report = log.verify()
    assert report.ok, report.summary()
    assert (report.events, report.last, report.catalog_head) == (
        2,
        (2, second.hash),
        (2, second.hash),
    )
    assert "2 events, intact" in report.summary()


def test_the_change_an_event_records_and_the_event_are_one_step_under_the_lock(
    log: CustodyLog, cat: Catalog
) -> None:
    """A live backup copies the catalog and the log while it holds the log's lock: it
    must find a capture sealed with its event, or neither (never the row alone)."""
    with locked(log.lock_path, exclusive=True):  # the backup holds the lock
        appending = threading.Thread(
            target=log.append,
            args=("captured",),
            kwargs={
                "actor": "amal",
                "captures": ["c1"],
                "together_with": lambda: cat.ensure_case("sealed-while-copying"),
            },
        )
        appending.start()
        appending.join(timeout=0.5)
        assert appending.is_alive(), "the append must wait for the lock"
        assert [c.name for c in cat.list_cases()] == [], "the catalog changed before the lock"
        # Read past the lock (events() would wait for it): nothing written yet.
        assert not log.path.exists() or log.path.read_bytes() == b""
    appending.join(timeout=10)
    assert [c.name for c in cat.list_cases()] == ["sealed-while-copying"]
    assert [e.action for e in log.events()] == ["captured"]


def test_an_empty_log_verifies_and_events_filter_by_capture(log: CustodyLog) -> None:
    assert log.verify().ok
    assert list(log.events()) == []
    log.append("captured", actor="amal", captures=["c1"])
    log.append("exported", actor="amal", captures=["c1", "c2"], details={"to": "x.wacz"})
    log.append("captured", actor="amal", captures=["c3"])
    assert [e.seq for e in log.events()] == [1, 2, 3]
    assert [e.seq for e in log.events("c1")] == [1, 2]
    assert [e.seq for e in log.events("c2")] == [2]
    assert [e.action for e in log.events("c3")] == ["captured"]


def test_append_refuses_what_it_cannot_record(log: CustodyLog) -> None:
    with pytest.raises(ValueError, match="custody action must be one of"):
        log.append("edited", actor="amal")
    with pytest.raises(ValueError, match="actor"):
        log.append("captured", actor=" ")
    with pytest.raises(ValueError, match="list of capture ids"):
        log.append("captured", actor="amal", captures="c1")
    with pytest.raises(ValueError, match="plain JSON"):
        log.append("captured", actor="amal", details={"size": float("nan")})
    with pytest.raises(ValueError, match="repair only"):
        log.append("log-repaired", actor="amal")
    assert not log.path.exists()


def test_details_are_copied_at_append(log: CustodyLog) -> None:
    details = {"reasons": ["cut"]}
    event = log.append("captured", actor="amal", captures=["c1"], details=details)
    details["reasons"].append("later")
    assert event.details == {"reasons": ["cut"]}
    assert log.verify().ok


# -- tampering, each named --------------------------------------------------------------------


def test_an_edited_event_is_named(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    raw[1] = raw[1].replace(b'"n":2', b'"n":9')
    write_lines(log, raw)
    report = log.verify()
    assert kinds(report) == [("hash-mismatch", 2, 2)]
    assert "line 2 (seq 2)" in report.summary() and "edited" in report.summary()


def test_an_edited_event_with_its_hash_recomputed_breaks_the_next_link(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    event = json.loads(raw[1])
    event["details"] = {"n": 9}
    raw[1] = rehash(event)
    write_lines(log, raw)
    assert kinds(log.verify()) == [("prev-mismatch", 3, 3)]


def test_a_reformatted_line_is_named(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    raw[2] = json.dumps(json.loads(raw[2]), indent=1).replace("\n", " ").encode() + b"\n"
    write_lines(log, raw)
    assert kinds(log.verify()) == [("not-canonical", 3, 3)]


def test_a_removed_middle_event_is_named(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    del raw[1]
    write_lines(log, raw)
    report = log.verify()
    assert kinds(report) == [("seq", 2, 3), ("prev-mismatch", 2, 3)]
    assert "seq 2 missing" in report.summary()


def test_a_removed_last_event_is_a_head_mismatch(log: CustodyLog) -> None:
    fill(log)
    write_lines(log, lines(log)[:-1])
    report = log.verify()
    assert kinds(report) == [("head-mismatch", 3, 3)]
    assert "ends at seq 3 but the catalog's head is seq 4" in report.summary()
    assert "truncated" in report.summary()
    with pytest.raises(CustodyError, match="does not end at the catalog's head"):
        log.append("captured", actor="amal", captures=["c5"])


def test_a_deleted_log_is_a_head_mismatch(log: CustodyLog) -> None:
    fill(log, 2)
    log.path.unlink()
    report = log.verify()
    assert kinds(report) == [("head-mismatch", None, None)]
    assert "the log has no events but the catalog's head is seq 2" in report.summary()
    with pytest.raises(CustodyError, match="deleted, emptied or replaced"):
        log.append("captured", actor="amal")


def test_swapped_events_are_named(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    raw[1], raw[2] = raw[2], raw[1]
    write_lines(log, raw)
    report = log.verify()
    assert kinds(report) == [
        ("seq", 2, 3),
        ("prev-mismatch", 2, 3),
        ("seq", 3, 2),
        ("prev-mismatch", 3, 2),
        ("seq", 4, 4),
        ("prev-mismatch", 4, 4),
    ]
    assert "out of order" in report.summary()


def test_a_rewritten_tail_is_a_head_mismatch(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    last = json.loads(raw[-1])
    last["details"] = {"n": "forged"}
    raw[-1] = rehash(last)  # a perfectly linked, perfectly hashed forgery
    write_lines(log, raw)
    report = log.verify()
    assert kinds(report) == [("head-mismatch", 4, 4)]
    assert "the tail of the log was rewritten" in report.summary()


def test_events_added_behind_the_catalogs_back_are_named(log: CustodyLog) -> None:
    fill(log, 2)
    raw = lines(log)
    for seq in (3, 4):
        previous = json.loads(raw[-1])
        raw.append(
            rehash({**previous, "seq": seq, "prev": previous["hash"], "details": {"n": seq}})
        )
    write_lines(log, raw)
    report = log.verify()
    assert kinds(report) == [("head-mismatch", 4, 4)]
    assert "2 events past the catalog's head" in report.summary()
    with pytest.raises(CustodyError, match="2 events past"):
        log.append("captured", actor="amal")


# -- crashes ------------------------------------------------------------------------------------


class Crash(Exception):
    """The process dies here."""


def crash_before_head_update(cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    def die(seq: int, hash: str) -> None:
        raise Crash

    monkeypatch.setattr(cat, "set_custody_head", die)


@pytest.mark.parametrize("before", [0, 3])
def test_a_crash_between_log_fsync_and_head_update_is_accepted_and_repaired(
    data: Path, monkeypatch: pytest.MonkeyPatch, before: int
) -> None:
    with Catalog.open(data / "catalog.sqlite3") as cat:
        log = Archive(data, cat).custody
        fill(log, before)
        crash_before_head_update(cat, monkeypatch)
        with pytest.raises(Crash):
            log.append("captured", actor="amal", captures=["lost?"])
    monkeypatch.undo()
    assert len(lines(log)) == before + 1  # the event was written and fsynced

    with Catalog.open(data / "catalog.sqlite3") as cat:  # the restart
        # The head is still the event before the crash (none, when the log was empty).
        expected = (before, json.loads(lines(log)[-2])["hash"]) if before else None
        assert cat.custody_head() == expected
        log = Archive(data, cat).custody
        report = log.verify()
        assert report.ok, report.summary()
        assert "one event behind" in report.summary()
        event = log.append("captured", actor="amal", captures=["next"])
        assert event.seq == before + 2
        assert cat.custody_head() == (event.seq, event.hash)
        report = log.verify()
        assert report.ok and not report.warnings
        assert [e.captures for e in log.events("lost?")] == [("lost?",)]


def test_reconcile_head_records_an_interrupted_append(
    log: CustodyLog, cat: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(log, 2)
    crash_before_head_update(cat, monkeypatch)
    with pytest.raises(Crash):
        log.append("captured", actor="amal")
    monkeypatch.undo()
    head = log.reconcile_head()
    assert head is not None and head[0] == 3 and cat.custody_head() == head
    assert not log.verify().warnings


def test_a_catalog_head_update_that_fails_says_the_event_is_written(
    log: CustodyLog, cat: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(seq: int, hash: str) -> None:
        raise CatalogError("disk full")

    monkeypatch.setattr(cat, "set_custody_head", fail)
    with pytest.raises(CustodyError, match=r"seq 1 is written .* next append will record it"):
        log.append("captured", actor="amal")


@pytest.mark.parametrize(
    "torn",
    [b'{"seq":5,"time":"2026-', b"\x00" * 40, b'{"action":"capt\n'],
    ids=["cut", "nul", "nl"],
)
def test_a_torn_last_line_is_named_refused_and_repaired(log: CustodyLog, torn: bytes) -> None:
    fill(log)
    before = log.path.read_bytes()
    with log.path.open("ab") as fh:
        fh.write(torn)
    report = log.verify()
    assert kinds(report) == [("torn", 5, None)]
    assert "repair()" in report.summary()
    with pytest.raises(TornLogError, match=r"torn .*repair\(\)"):
        log.append("captured", actor="amal")
    if torn.endswith(b"\n"):
        with pytest.raises(CustodyError, match="line 5 is not an event"):
            list(log.events())
    else:
        assert len(list(log.events())) == 4  # an unfinished line is not an event yet

    event = log.repair(actor="amal")
    assert event is not None and event.action == "log-repaired" and event.seq == 5
    kept = sorted(log.data_dir.glob(TORN_PREFIX + "*"))
    assert len(kept) == 1
    assert kept[0].read_bytes() == torn
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o444
    assert event.details["torn_file"] == kept[0].name
    assert event.details["torn_sha256"] == hashlib.sha256(torn).hexdigest()
    assert event.details["torn_line"] == 5
    # Nothing was lost: the old file is the sound lines plus the kept bytes.
    assert log.path.read_bytes() == before + event.line()
    assert log.verify().ok
    assert log.append("captured", actor="amal").seq == 6
    assert log.repair() is None  # nothing torn any more
    assert log.verify().ok


def test_repair_refuses_a_log_with_other_problems(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    raw[1] = raw[1].replace(b'"n":2', b'"n":9')
    write_lines(log, [*raw, b'{"torn'])
    with pytest.raises(CustodyError, match=r"cannot repair .*line 2 \(seq 2\)"):
        log.repair()
    assert not list(log.data_dir.glob(TORN_PREFIX + "*"))


def test_a_damaged_last_event_is_not_mistaken_for_a_torn_one(log: CustodyLog) -> None:
    fill(log)
    raw = lines(log)
    raw[-1] = raw[-1].replace(b'"n":4', b'"n":5')
    write_lines(log, raw)
    with pytest.raises(CustodyError, match="seq 4 does not match its hash") as raised:
        log.append("captured", actor="amal")
    assert not isinstance(raised.value, TornLogError)
    assert log.repair() is None


# -- races --------------------------------------------------------------------------------------


def append_from_process(data: str, worker: int, count: int) -> None:
    """One process appending ``count`` events (module level, so ``spawn`` can import it)."""
    with Catalog.open(Path(data) / "catalog.sqlite3") as cat:
        log = Archive(Path(data), cat).custody
        for n in range(count):
            log.append("verified", actor=f"w{worker}", captures=[f"w{worker}"], details={"n": n})


def check_race(log: CustodyLog, workers: int, count: int) -> None:
    report = log.verify()
    assert report.ok, report.summary()
    events = list(log.events())
    assert [e.seq for e in events] == list(range(1, workers * count + 1))
    for worker in range(workers):
        mine = [e.details["n"] for e in events if e.actor == f"w{worker}"]
        assert mine == list(range(count))  # none lost, none doubled, each in its order


def test_concurrent_appends_from_processes_make_one_valid_chain(
    data: Path, cat: Catalog, log: CustodyLog
) -> None:
    workers, count = 4, 25
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=append_from_process, args=(str(data), worker, count))
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    check_race(log, workers, count)
    assert cat.custody_head() == log.verify().last


def test_concurrent_appends_from_threads_make_one_valid_chain(log: CustodyLog) -> None:
    workers, count = 4, 25

    def work(worker: int) -> None:
        for n in range(count):
            log.append("verified", actor=f"w{worker}", captures=[f"w{worker}"], details={"n": n})

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_race(log, workers, count)


# -- slices for export -------------------------------------------------------------------------


def test_slice_for_runs_from_the_first_relevant_event_to_the_head(
    log: CustodyLog, cat: Catalog
) -> None:
    fill(log, 5)
    log.append("exported", actor="amal", captures=["c2", "c4"])
    piece = log.slice_for(["c2"])
    assert [e["seq"] for e in piece] == [2, 3, 4, 5, 6]
    verify_slice(piece, head=cat.custody_head())
    json.dumps(piece)  # ready for an export as it is
    assert log.slice_for(["nobody"]) == []
    assert [e["seq"] for e in log.slice_for(["c5", "c1"])] == [1, 2, 3, 4, 5, 6]


def test_verify_slice_names_what_is_wrong(log: CustodyLog, cat: Catalog) -> None:
    fill(log, 5)
    piece = log.slice_for(["c2"])
    edited = [dict(e) for e in piece]
    edited[1]["details"] = {"n": 99}
    with pytest.raises(CustodyError, match=r"line 2 \(seq 3\).*edited"):
        verify_slice(edited)
    with pytest.raises(CustodyError, match=r"seq 3 missing"):
        verify_slice([piece[0], *piece[2:]])
    with pytest.raises(CustodyError, match="does not end at the expected head"):
        verify_slice(piece[:-1], head=cat.custody_head())


def test_slice_for_refuses_a_log_that_does_not_verify(log: CustodyLog) -> None:
    fill(log)
    write_lines(log, lines(log)[:-1])
    with pytest.raises(CustodyError, match="refusing to export"):
        log.slice_for(["c1"])


# -- the catalog's side: migration 3 ------------------------------------------------------------


def test_migration_3_applies_on_an_existing_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite3"
    monkeypatch.setattr(catalog_schema, "MIGRATIONS", MIGRATIONS[:2])
    with Catalog.open(path) as cat:
        assert cat.schema_version == 2
    with sqlite3.connect(path) as raw:  # a row as version 2 code wrote it
        raw.execute(
            "INSERT INTO captures (id, url, status, created_at) VALUES ('c1', 'https://x.org/',"
            " 'running', 't')"
        )
    monkeypatch.setattr(catalog_schema, "MIGRATIONS", MIGRATIONS)
    with Catalog.open(path) as cat:
        assert cat.schema_version == len(MIGRATIONS) >= 3
        assert cat.get_capture("c1") is not None
        assert cat.custody_head() is None
        cat.set_custody_head(1, "a" * 64)
        cat.set_custody_head(2, "b" * 64)
        assert cat.custody_head() == (2, "b" * 64)
        with pytest.raises(CatalogError, match="from seq 2 to seq 2"):
            cat.set_custody_head(2, "c" * 64)
        with pytest.raises(CatalogError, match="only moves forward"):
            cat.set_custody_head(1, "a" * 64)
        assert cat.custody_head() == (2, "b" * 64)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM custody_head").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("INSERT INTO custody_head VALUES (2, 1, 'x', 't')")


def test_the_log_file_is_named_as_documented(log: CustodyLog, data: Path) -> None:
    log.append("captured", actor="amal")
    assert log.path == data / LOG_NAME == data / "custody.jsonl"
