"""The access log: who viewed, downloaded, replayed or exported which capture. Chained and
checked like custody, anchored by a local TSA, on a SQLite and a PostgreSQL catalog; each
tamper is done to the stored bytes as someone with the database would do it, and verify
must name it."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from archive.datadir import Archive
from archive.evidence.access_log import ACCESS_ANCHORS_DIR
from archive.evidence.anchoring import Anchoring, anchor_if_due
from archive.evidence.chain_names import ACCESS_CHAIN, OPENING_ACTION, chain_tag
from archive.evidence.checks import Outcome
from archive.evidence.custody_events import CustodyTampered, canonical_json, event_hash
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_roots import TrustStore
from archive.people import DASHBOARD, Directory, Role
from archive.settings import load_settings
from capture import upkeep
from capture.server import keys
from capture.server.access import PRINCIPAL_KEY
from capture.server.auditing import record_access
from capture.service import CaptureService
from tests.server import CLI
from tests.tsa import TestTSA

SHA = "ab" * 32


@pytest.fixture(scope="module")
async def tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("access-tsa"), chain_in_token=True) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings' environment: the embedded default, or a PostgreSQL catalog."""
    if request.param == "sqlite":
        return {}
    return {"OSINT_CAPTURE_CATALOG": request.getfixturevalue("postgres_url")}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def archive(env: dict[str, str], data: Path) -> Iterator[Archive]:
    with Archive.open(data, settings=load_settings(data, environ=env)) as opened:
        yield opened


def fill(archive: Archive) -> list[dict[str, object]]:
    """Four accesses by two people of two captures; the chain's events as stored."""
    log = archive.access
    log.record("viewed", actor="amal", device=DASHBOARD, captures=["c-1"])
    log.record(
        "downloaded",
        actor="amal",
        device="laptop",
        captures=["c-1"],
        details={"file": "video.mp4", "sha256": SHA, "size": 10},
    )
    log.record("replayed", actor="basil", device=DASHBOARD, captures=["c-2"])
    log.record("exported", actor="basil", device=DASHBOARD, captures=["c-1", "c-2"])
    return [json.loads(line) for line in stored_lines(archive)]


def stored_lines(archive: Archive) -> list[bytes]:
    return [e.line for e in archive.catalog.custody_chain_events(ACCESS_CHAIN)]


def sql(archive: Archive, statement: str, *params: object) -> None:
    with archive.catalog._write() as conn:
        assert conn.execute(statement, params).rowcount == 1


def problems(archive: Archive) -> list[tuple[str, int | None, str]]:
    return [(p.kind, p.seq, p.message) for p in archive.access.verify().problems]


def test_accesses_are_chained_listed_and_kept_apart_from_custody(archive: Archive) -> None:
    stored = fill(archive)
    assert [e["seq"] for e in stored] == [1, 2, 3, 4, 5]
    assert stored[0]["action"] == OPENING_ACTION and stored[0]["details"] == {"chain": "access"}
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(stored))
    assert all(event_hash(e) == e["hash"] for e in stored)
    download = archive.access.entries(capture="c-1", user="amal")[1]
    assert (download.action, download.user, download.device) == ("downloaded", "amal", "laptop")
    assert download.details == {"file": "video.mp4", "sha256": SHA, "size": 10}
    assert [a.action for a in archive.access.entries(capture="c-2")] == ["replayed", "exported"]
    assert [a.seq for a in archive.access.entries(user="basil")] == [4, 5]
    report = archive.access.verify()
    assert report.ok and report.events == 5 and report.last == (5, stored[-1]["hash"])
    assert report.outcome is Outcome.UNPROVEN  # intact, but no anchor vouches for it yet
    assert "access log" in report.summary() and "access-log anchor" in report.summary()
    # Custody is another log: nothing of the access log shows in it, on either engine.
    assert archive.custody.verify().ok
    assert not any(e.action == "viewed" for e in archive.custody.events())


def test_an_access_is_refused_unless_it_names_an_action_a_capture_and_a_device(
    archive: Archive,
) -> None:
    log = archive.access
    with pytest.raises(ValueError, match="one of"):
        log.record("deleted", actor="amal", device=DASHBOARD, captures=["c-1"])
    with pytest.raises(ValueError, match="one or more captures"):
        log.record("viewed", actor="amal", device=DASHBOARD, captures=[])
    with pytest.raises(ValueError, match="device"):
        log.record("viewed", actor="amal", device=" ", captures=["c-1"])
    with pytest.raises(ValueError, match="device="):
        log.record("viewed", actor="amal", device="x", captures=["c-1"], details={"device": "y"})
    assert stored_lines(archive) == []


def test_an_edited_line_is_named_as_edited(archive: Archive) -> None:
    stored = fill(archive)
    edited = dict(stored[2], actor="mallory")  # who downloaded it, rewritten
    sql(
        archive,
        "UPDATE custody_events SET line = ? WHERE chain = ? AND seq = ?",
        canonical_json(edited) + b"\n",
        ACCESS_CHAIN,
        3,
    )
    found = problems(archive)
    assert ("hash-mismatch", 3) in [(kind, seq) for kind, seq, _m in found]
    assert any("does not match its hash: it was edited" in m for _k, _s, m in found)


def test_a_forged_line_is_named_even_with_its_hash_recomputed(archive: Archive) -> None:
    stored = fill(archive)
    forged = dict(stored[2], actor="mallory")
    forged["hash"] = event_hash(forged)
    sql(
        archive,
        "UPDATE custody_events SET line = ?, hash = ? WHERE chain = ? AND seq = ?",
        canonical_json(forged) + b"\n",
        forged["hash"],
        ACCESS_CHAIN,
        3,
    )
    found = problems(archive)
    assert ("prev-mismatch", 4) in [(kind, seq) for kind, seq, _m in found]
    assert any("the chain is broken there" in m for _k, _s, m in found)


def test_a_removed_line_is_named_as_missing(archive: Archive) -> None:
    fill(archive)
    sql(archive, "DELETE FROM custody_events WHERE chain = ? AND seq = ?", ACCESS_CHAIN, 3)
    found = problems(archive)
    assert any(kind == "seq" and "seq 3 missing" in m for kind, _s, m in found), found


def test_a_removed_last_line_is_named_against_the_head(archive: Archive) -> None:
    fill(archive)
    sql(archive, "DELETE FROM custody_events WHERE chain = ? AND seq = ?", ACCESS_CHAIN, 5)
    found = problems(archive)
    assert any(kind == "head-mismatch" and "truncated" in m for kind, _s, m in found), found
    with pytest.raises(CustodyTampered, match="damaged"):  # nothing is appended after it
        archive.access.record("viewed", actor="amal", device=DASHBOARD, captures=["c-1"])


async def test_the_log_is_anchored_apart_and_an_anchor_catches_a_rewrite(
    archive: Archive, data: Path, tsa: TestTSA
) -> None:
    fill(archive)
    trust = TrustStore.load([tsa.ca_pem_path])
    run = await asyncio.to_thread(
        anchor_if_due, archive.access.chain, Anchoring((tsa.url,), trust), actor="system"
    )
    assert run is not None and len(run.anchors) == 1 and run.seq == 5
    name = f"{chain_tag(ACCESS_CHAIN)}.5-1.tsr"
    assert [a.name for a in archive.catalog.custody_anchor_files(ACCESS_CHAIN)] == [name]
    assert (data / ACCESS_ANCHORS_DIR / name).is_file()
    assert not (data / "anchors").exists()  # the custody log's folder is its own
    report = archive.access.verify(trust)
    assert report.outcome is Outcome.OK, report.summary()
    assert report.proven is not None and report.proven.seq == 5
    again = await asyncio.to_thread(
        anchor_if_due, archive.access.chain, Anchoring((tsa.url,), trust), actor="system"
    )
    assert again is None  # only its own anchored event since
    # Rewrite seq 4 and re-chain everything after it: only the anchor can tell.
    events = [json.loads(line) for line in stored_lines(archive)]
    events[3]["actor"] = "mallory"
    for index in range(3, len(events)):
        if index > 3:
            events[index]["prev"] = events[index - 1]["hash"]
        events[index]["hash"] = event_hash(events[index])
        sql(
            archive,
            "UPDATE custody_events SET line = ?, hash = ? WHERE chain = ? AND seq = ?",
            canonical_json(events[index]) + b"\n",
            events[index]["hash"],
            ACCESS_CHAIN,
            index + 1,
        )
    last = events[-1]
    sql(
        archive,
        "UPDATE custody_chains SET seq = ?, hash = ? WHERE chain = ?",
        last["seq"],
        last["hash"],
        ACCESS_CHAIN,
    )
    report = archive.access.verify(trust)
    assert report.outcome is Outcome.FAILED
    assert any("it was rewritten after" in str(p) for p in report.problems), report.summary()


async def test_the_servers_anchoring_round_anchors_the_access_log_too(
    archive: Archive, tsa: TestTSA
) -> None:
    archive.custody.append("verified", actor="amal", details={"check": "test"})
    fill(archive)
    config = TimestampConfig.resolve([tsa.url], [tsa.ca_pem_path])
    await upkeep.anchor_once(archive, config)
    assert [a.seq for a in archive.catalog.custody_anchor_files(ACCESS_CHAIN)] == [5]
    trust = TrustStore.load([tsa.ca_pem_path])
    assert archive.access.verify(trust).outcome is Outcome.OK
    assert archive.custody.verify(trust).outcome is Outcome.OK


async def cli(env: dict[str, str], *args: str | Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CLI,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_command_says_who_opened_what_and_verifies(
    env: dict[str, str], data: Path, tsa: TestTSA
) -> None:
    with Archive.open(data, settings=load_settings(data, environ=env)) as archive:
        fill(archive)
    code, out, err = await cli(env, "access-log", "--data", data, "--capture", "c-2")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and "replayed" in lines[0] and "basil (dashboard)" in lines[0]
    code, out, err = await cli(env, "access-log", "--data", data, "--user", "amal", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(a["action"], a["device"]) for a in listed] == [
        ("viewed", DASHBOARD),
        ("downloaded", "laptop"),
    ]
    assert listed[1]["details"]["sha256"] == SHA
    code, out, err = await cli(env, "access-log", "--data", data, "verify")  # either order
    assert code == 4 and "intact" in out and "not anchored" in out, out + err
    code, out, err = await cli(
        env, "access-log", "anchor", "--data", data,
        "--tsa", tsa.url, "--tsa-trust", tsa.ca_pem_path,
    )  # fmt: skip
    assert code == 0 and "anchored by" in out, out + err
    code, out, err = await cli(
        env, "access-log", "verify", "--data", data, "--tsa-trust", tsa.ca_pem_path, "--json"
    )
    assert code == 0 and json.loads(out)["proven_up_to"]["seq"] == 5, out + err
    with Archive.open(data, settings=load_settings(data, environ=env)) as archive:
        sql(archive, "DELETE FROM custody_events WHERE chain = ? AND seq = ?", ACCESS_CHAIN, 2)
    code, out, err = await cli(env, "access-log", "verify", "--data", data, "--json")
    verdict = json.loads(out)
    assert code == 1 and not verdict["intact"], out + err
    assert any("seq 2 missing" in p for p in verdict["problems"]), verdict


async def test_the_command_is_refused_to_a_role_without_the_permission(
    env: dict[str, str], data: Path
) -> None:
    with Archive.open(data, settings=load_settings(data, environ=env)) as archive:
        fill(archive)
        Directory(archive.catalog).add_user("ina", Role.INVESTIGATOR)
        # This computer's token belongs to an investigator: it may not read the log.
        _row, secret = Directory(archive.catalog).create_token("ina", "this-computer")
    (data / "api-token").write_text(secret + "\n")
    code, out, err = await cli(env, "access-log", "--data", data)
    assert code == 1 and "read-access-log" in err and out == "", out + err  # Denied


async def test_the_server_records_the_person_and_device_of_a_request(data: Path) -> None:
    service = CaptureService(data, workers=1)
    await service.start()
    try:
        directory = Directory(service.archive.catalog)
        directory.add_user("amal", Role.INVESTIGATOR)
        amal = directory.principal("amal", "laptop")

        async def open_file(request: web.Request) -> web.Response:
            request[PRINCIPAL_KEY] = amal  # what the access middleware does before a handler
            await record_access(
                request,
                "downloaded",
                capture_ids=[request.match_info["id"]],
                details={"file": "page.warc.gz", "sha256": SHA},
            )
            return web.Response(text="the file")

        async def unnamed(request: web.Request) -> web.Response:
            await record_access(request, "viewed", capture_ids=["c-1"], details={})
            return web.Response(text="shown to nobody known")

        app = web.Application()
        app[keys.SERVICE] = service
        app.router.add_get("/files/{id}", open_file)
        app.router.add_get("/unnamed", unnamed)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            answer = await client.get("/files/c-9")
            assert answer.status == 200 and await answer.text() == "the file"
            refused = await client.get("/unnamed")
            assert refused.status == 500 and "shown" not in await refused.text()
        (entry,) = service.archive.access.entries(capture="c-9")
        assert (entry.user, entry.device, entry.action) == ("amal", "laptop", "downloaded")
        assert entry.details == {"file": "page.warc.gz", "sha256": SHA}
        assert service.archive.access.entries(capture="c-1") == []
    finally:
        await service.stop()
