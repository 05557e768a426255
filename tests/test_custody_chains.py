"""Team mode's custody chains: many writers at once on PostgreSQL, a catalog change and its
event committed together or not at all, one chain per case, and a chain that names itself."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.catalog import Catalog, open_catalog
from archive.evidence.chain_check import ChainsReport
from archive.evidence.chain_names import INSTALLATION_CHAIN, case_chain
from archive.evidence.custody import CustodyError, CustodyTampered, verify_slice
from archive.evidence.custody_db import DbCustodyLog
from archive.store import FileStore
from archive.timeutil import now_rfc3339

#: Events each writer process appends.
PER_WRITER = 25


def start(catalog: Catalog, capture_id: str, case: str | None) -> None:
    catalog.start_capture(
        capture_id,
        "https://example.org/",
        case=case,
        note=None,
        operator="amal",
        started_at=now_rfc3339(),
    )


@pytest.fixture
def db(catalog_url: str, tmp_path: Path) -> Iterator[DbCustodyLog]:
    with open_catalog(catalog_url) as catalog:
        yield DbCustodyLog(catalog, FileStore(tmp_path))


def _writer(url: str, root: str, capture_id: str) -> None:
    """One process appending to the chain of ``capture_id``'s case, as a worker would."""
    with open_catalog(url) as catalog:
        log = DbCustodyLog(catalog, FileStore(Path(root)))
        for number in range(PER_WRITER):
            log.append("verified", actor="worker", captures=[capture_id], details={"n": number})


def test_four_processes_append_to_one_chain_and_to_others_without_gap_or_fork(
    postgres_url: str, tmp_path: Path
) -> None:
    with open_catalog(postgres_url) as catalog:
        start(catalog, "a-1", "alpha")
        start(catalog, "a-2", "alpha")
        start(catalog, "b-1", "beta")
        start(catalog, "n-1", None)
    writers = ["a-1", "a-2", "b-1", "n-1"]  # two on alpha's chain, one each on two others
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(postgres_url, str(tmp_path), capture_id))
        for capture_id in writers
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    with open_catalog(postgres_url) as catalog:
        log = DbCustodyLog(catalog, FileStore(tmp_path))
        report = log.verify()
        assert isinstance(report, ChainsReport)
        assert report.ok, report.summary()
        expected = {case_chain("alpha"): 2, case_chain("beta"): 1, INSTALLATION_CHAIN: 1}
        assert log.chains() == sorted(expected)
        for chain, writers_on_it in expected.items():
            events = log.chain(chain).intact_events("to test")
            assert [e["seq"] for e in events] == list(range(1, 2 + writers_on_it * PER_WRITER))
            verify_slice(events)
            heads = catalog.custody_chain_heads()
            assert heads[chain] == (events[-1]["seq"], events[-1]["hash"])


def test_a_failing_catalog_change_leaves_no_event(db: DbCustodyLog) -> None:
    def change() -> None:
        start(db.catalog, "cap-1", "alpha")
        raise RuntimeError("the change failed half-way")

    with pytest.raises(RuntimeError):
        db.append("captured", actor="amal", captures=["cap-1"], together_with=change)
    assert db.catalog.get_capture("cap-1") is None
    assert db.chains() == []
    assert db.catalog.custody_chain_events(case_chain("alpha")) == []


def test_a_failing_append_leaves_no_catalog_change(db: DbCustodyLog) -> None:
    start(db.catalog, "cap-1", "alpha")
    db.append("captured", actor="amal", captures=["cap-1"])
    with db.catalog._write() as conn:  # someone moves alpha's head back by hand
        conn.execute("UPDATE custody_chains SET seq = 1 WHERE chain = ?", (case_chain("alpha"),))

    def seal() -> None:
        db.catalog.fail_capture("cap-1", reasons=["x"], finished_at=now_rfc3339())

    with pytest.raises(CustodyTampered):
        db.append("capture-failed", actor="amal", captures=["cap-1"], together_with=seal)
    row = db.catalog.get_capture("cap-1")
    assert row is not None and row.status == "running"  # the change was rolled back with it


def test_each_case_has_its_own_chain_and_an_export_one(db: DbCustodyLog) -> None:
    start(db.catalog, "a-1", "alpha")
    start(db.catalog, "b-1", "beta")
    db.append("captured", actor="amal", captures=["a-1"])
    db.append("captured", actor="amal", captures=["b-1"])
    db.append("key-created", actor="system", details={"fingerprint": "x"})
    alpha = db.slice_for(["a-1"])
    assert [e["action"] for e in alpha] == ["chain-opened", "captured"]
    assert alpha[0]["details"] == {"chain": case_chain("alpha")}
    assert all("b-1" not in e["captures"] for e in alpha)
    verify_slice(alpha)
    with pytest.raises(CustodyError, match="2 custody chains"):
        db.slice_for(["a-1", "b-1"])
    assert db.verify(case="alpha").ok
    assert [e.action for e in db.events("b-1")] == ["captured"]


def test_events_of_another_chain_are_found(db: DbCustodyLog) -> None:
    start(db.catalog, "a-1", "alpha")
    start(db.catalog, "b-1", "beta")
    for _ in range(2):
        db.append("captured", actor="amal", captures=["a-1"])
        db.append("captured", actor="amal", captures=["b-1"])
    # beta's chain replaced, row for row, by alpha's events (hashes and links all sound)
    alpha = db.catalog.custody_chain_events(case_chain("alpha"))
    with db.catalog._write() as conn:
        for stored in alpha:
            conn.execute(
                "UPDATE custody_events SET line = ?, hash = ? WHERE chain = ? AND seq = ?",
                (stored.line, stored.hash, case_chain("beta"), stored.seq),
            )
        conn.execute(
            "UPDATE custody_chains SET hash = ? WHERE chain = ?",
            (alpha[-1].hash, case_chain("beta")),
        )
    report = db.verify(case="beta")
    assert [p.kind for p in report.problems] == ["chain"], report.summary()
    assert "names 'case:alpha'" in report.summary()
