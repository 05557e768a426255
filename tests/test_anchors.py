"""Custody anchors on a real log, a local TSA and the real CLI and server.

An anchor is a TSA's token over one event's hash. These tests make anchors the three
ways an investigator does (``custody anchor``, the server's schedule; exports are in
test_package_anchors.py) and attack the log the way a forger with the machine would:
edit an event, re-chain every later one, move the catalog's head with sqlite3.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.anchoring import Anchoring, anchor_due, anchor_head
from archive.evidence.anchors import ANCHORS_DIR, Anchor
from archive.evidence.checks import Outcome
from archive.evidence.custody import CustodyError, CustodyLog, canonical_json
from archive.evidence.tsa_roots import TrustStore
from archive.people.owner import owner_name
from tests.forgery import rechained
from tests.server import CLI, RunningServer
from tests.tsa import TestTSA


@pytest.fixture(scope="module")
async def tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("anchor-tsa"), chain_in_token=True) as running:
        yield running


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def log(data: Path) -> Iterator[CustodyLog]:
    with Catalog.open(data / "catalog.sqlite3") as catalog:
        yield Archive(data, catalog).custody


def fill(log: CustodyLog, first: int, last: int) -> None:
    for n in range(first, last + 1):
        log.append("captured", actor="amal", captures=[f"c{n}"], details={"n": n})


async def cli(*args: str | Path) -> tuple[int, str, str]:
    """``osint-capture ARGS`` to the end: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        CLI,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


def tsa_args(tsa: TestTSA) -> list[str]:
    return ["--tsa", tsa.url, "--tsa-trust", str(tsa.ca_pem_path)]


def anchoring(tsa: TestTSA) -> Anchoring:
    return Anchoring((tsa.url,), TrustStore.load([tsa.ca_pem_path]))


def rechain(path: Path, edit_line: int, details: dict[str, Any]) -> str:
    """The forger's rewrite of the log file; returns the new last hash."""
    events = [json.loads(line) for line in path.read_bytes().splitlines()]
    forged = rechained(events, edit_line - 1, details)
    path.write_bytes(b"".join(canonical_json(e) + b"\n" for e in forged))
    return forged[-1]["hash"]


async def test_custody_anchor_then_verify_proves_the_log_up_to_the_anchor(
    tsa: TestTSA, data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 3)
    code, out, err = await cli("custody", "anchor", "--data", data, *tsa_args(tsa))
    assert code == 0, out + err
    head = log.catalog.custody_head()
    # three events; the command's first start (the owner made: user-added), the anchor's own
    assert head is not None and head[0] == 5
    assert [e.action for e in log.events()][3] == "user-added"
    (anchored,) = [e for e in log.events() if e.action == "anchored"]
    anchor = Anchor.from_details(anchored.details)
    assert (anchor.seq, anchor.hash, anchor.tsa) == (4, list(log.events())[3].hash, tsa.url)
    assert anchored.actor == owner_name() and anchored.captures == ()  # the person acting
    token = data / ANCHORS_DIR / anchor.token
    assert anchor.token == "4-1.tsr" and f"anchored by {tsa.url}" in out and str(token) in out
    assert hashlib.sha256(token.read_bytes()).hexdigest() == anchor.token_sha256
    for path in (token, data / ANCHORS_DIR / "4-1.chain.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    assert "BEGIN CERTIFICATE" in (data / ANCHORS_DIR / "4-1.chain.pem").read_text()

    # By hand, as docs/evidence.md says: openssl over the event's hash.
    openssl = await asyncio.create_subprocess_exec(
        "openssl", "ts", "-verify", "-digest", anchor.hash, "-in", str(token),
        "-CAfile", str(tsa.ca_pem_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    said, _ = await openssl.communicate()
    assert openssl.returncode == 0, said.decode()

    code, out, err = await cli("custody", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path)
    assert code == 0, out + err
    first = out.splitlines()[0]
    assert "5 events, intact" in first and f"proven up to seq 4 by {tsa.url} at" in first
    assert "seq 5..5 rest on this machine alone" in first
    code, out, _ = await cli(
        "custody", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path, "--json"
    )
    verdict = json.loads(out)
    assert code == 0 and verdict["ok"] is True and verdict["outcome"] == "ok"
    assert verdict["proven_up_to"]["seq"] == 4 and verdict["proven_up_to"]["tsa"] == tsa.url
    assert [a["outcome"] for a in verdict["anchors"]] == ["ok"]


async def test_an_anchor_from_an_untrusted_tsa_is_unproven(
    tsa: TestTSA, data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 2)
    await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    code, out, err = await cli("custody", "verify", "--data", data)  # certifi's roots only
    assert code == 4, out + err
    first = out.splitlines()[0]
    assert "intact" in first and "not anchored" in first
    assert "osint-capture custody anchor --tsa URL" in first
    assert "Test TSA Root" in out and "--tsa-trust" in out  # the root to pass, named
    report = await asyncio.to_thread(log.verify)
    assert report.ok and report.outcome is Outcome.UNPROVEN
    assert [a.outcome for a in report.anchors] == [Outcome.UNPROVEN]


async def test_a_log_without_anchors_is_intact_but_not_anchored(
    data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 2)
    code, out, _ = await cli("custody", "verify", "--data", data, "--json")
    verdict = json.loads(out)
    assert code == 4 and verdict["intact"] is True and verdict["outcome"] == "unproven"
    assert verdict["ok"] is False and verdict["proven_up_to"] is None
    assert "no TSA has time-stamped this log" in verdict["summary"].splitlines()[0]


async def test_the_forgers_rewrite_is_caught_by_the_anchor(
    tsa: TestTSA, data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 4)
    run = await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    fill(log, 6, 7)
    # Without the anchor this rewrite is invisible: the chain and the head agree again.
    new_head = rechain(log.path, 2, {"n": "forged"})
    with sqlite3.connect(data / "catalog.sqlite3") as raw:
        raw.execute("UPDATE custody_head SET hash = ? WHERE id = 1", (new_head,))
    code, out, err = await cli("custody", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path)
    assert code == 1, out + err
    (anchor,) = run.anchors
    said = [line for line in out.splitlines() if "anchors/4-1.tsr" in line]
    assert said, out
    assert f"{tsa.url} time-stamped seq 4" in said[0] and anchor.gen_time in said[0]
    assert "rewritten after that time" in said[0]
    # A log that does not verify is never anchored again, nor exported.
    with pytest.raises(CustodyError, match=r"seq 4 is not what .* rewritten"):
        await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")


async def test_an_anchor_whose_file_is_gone_or_replaced_fails(
    tsa: TestTSA, data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 2)
    await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    fill(log, 4, 4)
    await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    trust = TrustStore.load([tsa.ca_pem_path])
    assert (await asyncio.to_thread(log.verify, trust)).outcome is Outcome.OK
    # Another genuine token of the same TSA put in the place of the first: still caught.
    first, second = data / ANCHORS_DIR / "2-1.tsr", data / ANCHORS_DIR / "4-1.tsr"
    original = first.read_bytes()
    first.unlink()
    first.write_bytes(second.read_bytes())
    report = await asyncio.to_thread(log.verify, trust)
    assert report.outcome is Outcome.FAILED
    assert [p.kind for p in report.problems] == ["anchor"]
    assert "anchors/2-1.tsr" in str(report.problems[0]) and "replaced" in str(report.problems[0])
    first.unlink()
    report = await asyncio.to_thread(log.verify, trust)
    assert report.outcome is Outcome.FAILED and "the anchor was deleted" in report.summary()
    code, out, _ = await cli("custody", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path)
    assert code == 1 and "2-1.tsr" in out
    first.write_bytes(original)
    assert (await asyncio.to_thread(log.verify, trust)).outcome is Outcome.OK


async def test_an_anchor_file_without_its_event_is_noted_and_checked(
    tsa: TestTSA, data: Path, log: CustodyLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(log, 1, 3)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("the machine lost power")

    monkeypatch.setattr(log, "append", crash)  # between the sealed file and its event
    with pytest.raises(OSError, match="lost power"):
        await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    monkeypatch.undo()
    assert (data / ANCHORS_DIR / "3-1.tsr").exists()
    assert not [e for e in log.events() if e.action == "anchored"]
    report = await asyncio.to_thread(log.verify, TrustStore.load([tsa.ca_pem_path]))
    assert report.ok and report.outcome is Outcome.OK, report.summary()
    assert any("3-1.tsr has no 'anchored' event" in note for note in report.warnings)
    assert report.proven is not None and report.proven.seq == 3
    # The next anchoring of the same seq takes the next name.
    run = await asyncio.to_thread(anchor_head, log, anchoring(tsa), actor="amal")
    assert [a.token for a in run.anchors] == ["3-2.tsr"]


async def test_custody_anchor_needs_a_tsa_and_an_answer(
    tsa: TestTSA, data: Path, log: CustodyLog
) -> None:
    fill(log, 1, 1)
    code, _, err = await cli("custody", "anchor", "--data", data)  # $OSINT_CAPTURE_TSA is ""
    assert code == 2 and "no time-stamp authority configured" in err and "--tsa URL" in err
    code, _, err = await cli(
        "custody", "anchor", "--data", data, "--tsa", tsa.url, "--tsa-trust", data / "none.pem"
    )
    assert code == 2 and "none.pem" in err and "Traceback" not in err
    code, _, err = await cli("custody", "verify", "--data", data, "--tsa-trust", data / "none.pem")
    assert code == 2 and "none.pem" in err and "Traceback" not in err
    tsa.down = True
    try:
        code, out, err = await cli("custody", "anchor", "--data", data, *tsa_args(tsa))
    finally:
        tsa.down = False
    assert code == 1 and "not anchored" in out and "503" in out, out + err
    assert not (data / ANCHORS_DIR).exists() or not list((data / ANCHORS_DIR).iterdir())
    assert [e.action for e in log.events()] == ["captured", "user-added"]  # no anchor


def test_anchoring_is_due_only_after_events_other_than_anchors(log: CustodyLog) -> None:
    assert not anchor_due(log)
    fill(log, 1, 2)
    assert anchor_due(log)
    details = {"anchored_seq": 2, "anchored_hash": "a" * 64}
    log.append("anchored", actor="system", details=details)
    assert not anchor_due(log)  # only the anchor's own event came after it
    fill(log, 4, 4)
    assert anchor_due(log)


async def test_the_server_anchors_the_head_on_its_schedule(tsa: TestTSA, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = RunningServer(data, workers=1, extra_args=(*tsa_args(tsa), "--anchor-every", "1s"))
    await server.start()
    try:
        first = await wait_for_anchors(data, 1)  # the key's creation, anchored
        # Nothing new since: no second anchor. One pass of the 1 s loop (the shortest
        # --anchor-every) starts within a second of the anchor above; half a second more
        # lets a wrong anchoring in it finish and show.
        await asyncio.sleep(1.5)
        assert anchored_seqs(data) == [first[0]]
        with Catalog.open(data / "catalog.sqlite3") as catalog:
            event = Archive(data, catalog).custody.append("verified", actor="amal")
        seqs = await wait_for_anchors(data, 2)
        assert seqs[1] == event.seq
    finally:
        await server.stop()
    code, out, err = await cli("custody", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path)
    assert code == 0 and f"proven up to seq {event.seq}" in out, out + err


def anchored_seqs(data: Path) -> list[int]:
    lines = (data / "custody.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return [e["details"]["anchored_seq"] for e in events if e["action"] == "anchored"]


async def wait_for_anchors(data: Path, count: int) -> list[int]:
    for _ in range(300):
        if len(seqs := anchored_seqs(data)) >= count:
            return seqs
        await asyncio.sleep(0.1)
    raise AssertionError(f"the server made no {count} anchor(s) in 30 s: {anchored_seqs(data)}")
