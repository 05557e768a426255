"""``osint-capture migrate``: a real embedded archive (two captures in two cases, a watched
target and its timeline, an analysis's text, a case hold) copied into a real PostgreSQL
catalog and a real SeaweedFS bucket with Object Lock, then verified; a changed source
file stops it, named; a second run changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from archive.catalog import TextLine
from archive.catalog.copying import compare_catalogs
from archive.datadir import Archive
from archive.evidence.access_log import ACCESS_ANCHORS_DIR
from archive.evidence.anchoring import Anchoring, anchor_head
from archive.evidence.chain_names import imported_chain
from archive.evidence.custody_events import build_event
from archive.evidence.trust import TrustedKeys
from archive.evidence.tsa_roots import TrustStore
from archive.hashing import sha256_file
from archive.migrate import migrate, open_pair
from archive.settings import load_settings
from archive.wacz.export import export_wacz
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.cli import main
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.seaweed import use_bucket
from tests.site import TestSite
from tests.tsa import TestTSA


@pytest.fixture(scope="module")
async def tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("migrate-tsa")) as running:
        yield running


@pytest.fixture
def team_config(
    tmp_path: Path,
    postgres_url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A settings file naming a new PostgreSQL database and a new locked bucket; the
    environment keeps only the bucket's keys (the source stays embedded)."""
    store = use_bucket(monkeypatch, request.getfixturevalue("seaweed"))
    monkeypatch.delenv("OSINT_CAPTURE_STORE")
    config = tmp_path / "team.toml"
    config.write_text(f'catalog = "{postgres_url}"\nstore = "{store}"\nqueue = "postgresql"\n')
    return config


async def _embedded_archive(data: Path, site: TestSite, browser: Browser) -> list[str]:
    first = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention", operator="amal"), data, browser=browser
    )
    second = await capture_into(
        CaptureRequest(site.url("/"), case="border", operator="lina"), data, browser=browser
    )
    with Archive.open(data) as archive:
        target = archive.catalog.add_target(
            site.url("/rich"), interval_seconds=3600, case="detention", operator="amal",
            note=None, next_run_at="2030-01-01T00:00:00Z",
        )  # fmt: skip
        archive.catalog.add_timeline_event(target.id, "first", "first run", capture_id=first.id)
        run, _ = archive.catalog.queue_analysis(first.id, request={"ocr": True}, operator="amal")
        line = TextLine("ocr", {"page": 1}, "وثيقة OCR-LINE-MARKER")
        archive.catalog.index_analysis_text(first.id, run.number, [line])
    assert main(["case", "hold", "border", "--reason", "court order", "--data", str(data)]) == 0
    return [first.id, second.id]


async def test_an_embedded_archive_moves_to_team_storage_and_verifies(
    tmp_path: Path, site: TestSite, browser: Browser, team_config: Path,
    capsys: pytest.CaptureFixture[str], tsa: TestTSA,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    first, second = await _embedded_archive(data, site, browser)
    trust = TrustStore.load()
    with Archive.open(data, create=False) as embedded:
        before = tmp_path / "before.wacz"
        await asyncio.to_thread(export_wacz, embedded, [first], before, actor="amal")
        fingerprint = embedded.signing_key().fingerprint
        # Who opened what, anchored: the access log goes along, its anchor too.
        embedded.access.record("viewed", actor="amal", device="dashboard", captures=[first])
        anchoring = Anchoring((tsa.url,), TrustStore.load([tsa.ca_pem_path]))
        await asyncio.to_thread(anchor_head, embedded.access.chain, anchoring, actor="amal")
        embedded.access.record("exported", actor="amal", device="laptop", captures=[first])
        accesses = embedded.access.entries()
    keys = TrustedKeys.pinned(fingerprint)
    report = verify_package(before, trust=trust, keys=keys)
    assert report.failures == [], report.summary()
    capsys.readouterr()

    argv = ["migrate", "--to", str(team_config), "--data", str(data), "--operator", "amal"]
    assert main([*argv, "--json"]) == 0, capsys.readouterr()
    done = json.loads(capsys.readouterr().out)
    assert done["ok"] and not done["already_migrated"]
    assert done["files"]["uploaded"] >= 4 and done["files"]["already"] == 0
    assert done["rows"]["cases"] == 2 and done["rows"]["captures"] == 2
    assert done["rows"]["timeline"] == 1 and done["rows"]["case_holds"] == 1
    assert done["rows"]["analysis_text"] == 1 and done["rows"]["capture_text"] == 2
    assert done["chains_opened"] == 3, "two cases and the installation chain"
    assert done["rows"]["access_events"] == 4, "opened, viewed, anchored, exported"
    assert done["verification"]["problems"] == 0
    assert done["held_objects"] >= 3, "the held case's files, manifest and signature"
    # Run again: nothing copied, verified again.
    assert main([*argv, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_migrated"] and again["ok"] and again["files"]["uploaded"] == 0

    settings = load_settings(data, config_file=team_config, environ={})
    with (
        Archive.open(data, create=False) as embedded,
        Archive.open(data, settings=settings) as team,
    ):
        assert compare_catalogs(embedded.catalog, team.catalog) == []
        first_hash = next(iter(embedded.custody.events())).hash
        chain = imported_chain(first_hash)
        assert chain in team.custody.chains()
        stored = b"".join(e.line for e in team.catalog.custody_chain_events(chain))
        assert stored == (data / "custody.jsonl").read_bytes(), "byte for byte"
        assert [e.action for e in embedded.custody.events()][-1] == "migrated"
        assert team.custody.verify().ok
        assert team.access.entries() == accesses
        proven = team.access.verify(TrustStore.load([tsa.ca_pem_path]))
        assert proven.ok and proven.proven is not None, proven.summary()
        (anchor,) = team.catalog.custody_anchor_files("access")
        assert team.store.versions.object_version(
            team.store.location.key(ACCESS_ANCHORS_DIR, anchor.name)
        ), "its token sealed in the bucket"
        assert [h.capture_id for h in team.catalog.search_text("RICH-PAGE-MARKER")] == [first]
        assert [h.capture_id for h in team.catalog.search_text("وثيقة")] == [first]
        assert team.catalog.case_hold("border") is not None
        held = team.store.legal_holds(second)
        assert held and all(state.on for state in held), "its case is held: so is the bucket's"
        assert not any(state.on for state in team.store.legal_holds(first))
        assert team.store.fsck().ok
        with team.store.open_sealed(first, "manifest.json") as stream:
            assert stream.read()
        # New rows get new ids past the copied ones.
        assert team.catalog.ensure_case("new case").id == 3
        after = tmp_path / "after.wacz"
        await asyncio.to_thread(export_wacz, team, [first], after, actor="amal")
    report = verify_package(after, trust=trust, keys=keys)
    assert report.failures == [], report.summary()


async def test_a_changed_source_file_stops_the_migration_naming_it(
    tmp_path: Path, site: TestSite, browser: Browser, team_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    data = tmp_path / "data"
    first, _second = await _embedded_archive(data, site, browser)
    victim = data / "captures" / first / "manifest.json"
    os.chmod(victim, 0o644)
    content = bytearray(victim.read_bytes())
    content[10] ^= 0x01
    victim.write_bytes(bytes(content))
    argv = ["migrate", "--to", str(team_config), "--data", str(data)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{first}/manifest.json" in err and "changed after sealing" in err
    settings = load_settings(data, config_file=team_config, environ={})
    with Archive.open(data, settings=settings) as team:
        assert team.catalog.list_captures() == [], "no row is copied"
        assert team.custody.chains() == []
    # Put right, it runs again from where it stopped.
    content[10] ^= 0x01
    victim.write_bytes(bytes(content))
    assert main([*argv, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["ok"] and done["files"]["already"] >= 1


#: Events added to the embedded log for the streaming test, and each one's padding: a log
#: of about 20 MB, several times what migrate itself needs besides.
LONG_LOG_EVENTS = 8_000
PADDING = 2_400


def _lengthen(data: Path, count: int) -> int:
    """``count`` more events at the end of the embedded log, built and chained as
    ``append`` builds them (written in one go: an fsync and a head update each would take
    minutes), and the catalog's head moved to the last; the log's size."""
    with Archive.open(data, create=False) as archive:
        last = list(archive.custody.events())[-1]
        with open(data / "custody.jsonl", "ab") as log:
            for number in range(count):
                details = {"check": "bulk", "n": number, "padding": "p" * PADDING}
                last = build_event(last, "verified", "system", (), details)
                log.write(last.line())
        archive.catalog.set_custody_head(last.seq, last.hash)
        assert archive.custody.verify().ok
    return (data / "custody.jsonl").stat().st_size


async def test_a_long_custody_log_moves_byte_for_byte_in_flat_memory(
    tmp_path: Path, site: TestSite, browser: Browser, team_config: Path
) -> None:
    data = tmp_path / "data"
    await capture_into(CaptureRequest(site.url("/"), case="border"), data, browser=browser)
    size = _lengthen(data, LONG_LOG_EVENTS)
    settings = load_settings(data, config_file=team_config, environ={})
    source, target = open_pair(data, settings)
    with source, target:
        tracemalloc.start()
        try:
            report = await asyncio.to_thread(migrate, source, target, actor="amal")
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert report.ok, report.to_dict()
        assert report.rows["custody_events"] == LONG_LOG_EVENTS + 3, "key, capture, migrated"
        chain = report.imported_chain
        stored = hashlib.sha256()
        for event in target.catalog.custody_chain_pages(chain):
            stored.update(event.line)
        assert stored.hexdigest() == sha256_file(data / "custody.jsonl")[0], "byte for byte"
    # Held whole, the log alone would be its size as bytes, and several times that parsed;
    # streamed, what migrate holds does not grow with it.
    assert peak < size / 2, f"peak {peak} bytes while migrating a log of {size} bytes"
