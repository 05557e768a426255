"""The custody contract, over every log that keeps it: the file log (embedded mode) and
the catalog's chains (team mode) on SQLite and on PostgreSQL. Each tamper is done to
the stored bytes as someone with the database or the disk would do it, and verify must
name it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.catalog import Catalog, open_catalog
from archive.evidence.chain_names import INSTALLATION_CHAIN, OPENING_ACTION
from archive.evidence.custody import CustodyLog, CustodyTampered, verify_slice
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_events import canonical_json
from archive.evidence.custody_interface import Custody
from archive.store import FileStore
from archive.timeutil import now_rfc3339


@dataclass
class Subject:
    """One log under test, and the hands to change what it stores."""

    kind: str
    log: Custody
    catalog: Catalog
    root: Path

    @property
    def is_db(self) -> bool:
        return self.kind != "file"

    def lines(self) -> list[bytes]:
        if not self.is_db:
            return (self.root / "custody.jsonl").read_bytes().splitlines(keepends=True)
        return [e.line for e in self.catalog.custody_chain_events(INSTALLATION_CHAIN)]

    def edit(self, seq: int, line: bytes) -> None:
        if not self.is_db:
            lines = self.lines()
            lines[seq - 1] = line
            (self.root / "custody.jsonl").write_bytes(b"".join(lines))
            return
        self._sql("UPDATE custody_events SET line = ? WHERE chain = ? AND seq = ?", line, seq)

    def delete(self, seq: int) -> None:
        if not self.is_db:
            lines = self.lines()
            del lines[seq - 1]
            (self.root / "custody.jsonl").write_bytes(b"".join(lines))
            return
        self._sql("DELETE FROM custody_events WHERE chain = ? AND seq = ?", seq)

    def swap(self, a: int, b: int) -> None:
        lines = self.lines()
        self.edit(a, lines[b - 1])
        self.edit(b, lines[a - 1])

    def set_head(self, seq: int, hash_: str) -> None:
        with self.catalog._write() as conn:
            if self.is_db:
                conn.execute(
                    "UPDATE custody_chains SET seq = ?, hash = ? WHERE chain = ?",
                    (seq, hash_, INSTALLATION_CHAIN),
                )
            else:
                conn.execute("UPDATE custody_head SET seq = ?, hash = ? WHERE id = 1", (seq, hash_))

    def _sql(self, sql: str, *params: object) -> None:
        # The chain's own column order: (line?, chain, seq) as each statement names them.
        values = list(params)
        values.insert(len(values) - 1, INSTALLATION_CHAIN)
        with self.catalog._write() as conn:
            assert conn.execute(sql, values).rowcount == 1


@pytest.fixture(params=["file", "db-sqlite", "db-postgresql"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "db-postgresql":
        catalog = open_catalog(request.getfixturevalue("postgres_url"))
    else:
        catalog = Catalog.open(tmp_path / "catalog.sqlite3")
    store = FileStore(tmp_path)
    log: Custody = (
        CustodyLog(tmp_path, catalog, store)
        if request.param == "file"
        else DbCustodyLog(catalog, store)
    )
    with catalog:
        yield Subject(request.param, log, catalog, tmp_path)


def fill(subject: Subject, count: int = 5) -> list[dict[str, object]]:
    """``count`` events about no capture; each as stored."""
    for number in range(count):
        subject.log.append("verified", actor="amal", details={"n": number})
    return [json.loads(line) for line in subject.lines()]


def problems(subject: Subject) -> list[tuple[str, int | None]]:
    report = subject.log.verify()
    chains = getattr(report, "chains", None)
    found = [p for _c, r in chains for p in r.problems] if chains else list(report.problems)
    return [(p.kind, p.seq) for p in found]


def test_appends_link_into_one_chain_and_verify(subject: Subject) -> None:
    stored = fill(subject)
    first = 2 if subject.is_db else 1  # team mode: seq 1 names the chain
    assert [e["seq"] for e in stored] == list(range(1, 5 + first))
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(stored))
    assert [line for line in subject.lines()] == [canonical_json(e) + b"\n" for e in stored]
    if subject.is_db:
        assert stored[0]["action"] == OPENING_ACTION
        assert stored[0]["details"] == {"chain": INSTALLATION_CHAIN}
    report = subject.log.verify()
    assert report.ok, report.summary()
    assert problems(subject) == []
    verify_slice(subject.log.intact_events("to test"))


def test_an_edited_stored_line_is_named(subject: Subject) -> None:
    stored = fill(subject)
    edited = dict(stored[2], actor="mallory")
    subject.edit(3, canonical_json(edited) + b"\n")
    assert ("hash-mismatch", 3) in problems(subject)
    with pytest.raises(CustodyTampered):
        subject.log.intact_events("to export")


def test_a_deleted_event_is_named(subject: Subject) -> None:
    fill(subject)
    subject.delete(3)
    found = problems(subject)
    assert ("seq", 4) in found and ("prev-mismatch", 4) in found, found


def test_a_reordered_pair_is_named(subject: Subject) -> None:
    fill(subject)
    subject.swap(3, 4)
    found = problems(subject)
    assert ("seq", 4) in found and ("seq", 3) in found, found


def test_a_head_moved_back_is_named(subject: Subject) -> None:
    stored = fill(subject)
    back = stored[-3]
    subject.set_head(int(back["seq"]), str(back["hash"]))  # type: ignore[arg-type]
    assert [kind for kind, _seq in problems(subject)] == ["head-mismatch"]
    with pytest.raises(CustodyTampered):
        subject.log.append("verified", actor="amal")


def test_events_of_a_capture_and_its_slice(subject: Subject) -> None:
    subject.catalog.start_capture(
        "cap-1",
        "https://example.org/",
        case=None,
        note=None,
        operator="amal",
        started_at=now_rfc3339(),
    )
    fill(subject, 2)
    event = subject.log.append("captured", actor="amal", captures=["cap-1"], details={"x": 1})
    assert [e.hash for e in subject.log.events("cap-1")] == [event.hash]
    sliced = subject.log.slice_for(["cap-1"])
    verify_slice(sliced, head=(event.seq, event.hash))
    assert subject.log.repair() is None
