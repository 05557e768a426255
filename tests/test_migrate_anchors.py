"""The embedded log's own anchors, made before ``migrate``, carried into team storage and
into the packages of migrated captures, and checked there offline: a real embedded
archive anchored twice by a local TSA, migrated into PostgreSQL and SeaweedFS, one
capture exported from the team archive; then the package's embedded segment changed the
way a forger would (an anchor claimed over another head, tokens swapped or left out, the
log re-chained), each one failing with its reason."""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive.datadir import Archive
from archive.evidence.anchoring import Anchoring, anchor_head
from archive.evidence.chain_names import imported_chain
from archive.evidence.checks import Check, Outcome, overall
from archive.evidence.package_anchors import EMBEDDED, check_package_anchors
from archive.evidence.tsa_roots import TrustStore
from archive.settings import load_settings
from archive.wacz.export import export_wacz
from archive.wacz.layout import IMPORTED_CUSTODY_PATH
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.cli import main
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.forgery import rechained
from tests.seaweed import use_bucket
from tests.site import TestSite
from tests.tsa import TestTSA


@dataclass
class Embedded:
    """The package's embedded segment, parsed as a verifier would."""

    events: list[dict[str, Any]]
    head: dict[str, Any]
    tokens: dict[str, bytes]
    trust: TrustStore
    #: The anchors' seqs on the embedded machine, in the order they were made.
    anchored: tuple[int, int]

    def check(self, **changes: Any) -> list[Check]:
        parts = {"events": self.events, "head": self.head, "tokens": self.tokens, **changes}
        return check_package_anchors(
            parts["events"], parts["head"], parts["tokens"], self.trust, segment=EMBEDDED
        )


def failures(checks: list[Check]) -> str:
    return "\n".join(str(check) for check in checks if check.outcome is Outcome.FAILED)


@pytest.fixture
def team_config(
    tmp_path: Path,
    postgres_url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A settings file naming a new PostgreSQL database and a new locked bucket."""
    store = use_bucket(monkeypatch, request.getfixturevalue("seaweed"))
    monkeypatch.delenv("OSINT_CAPTURE_STORE")
    config = tmp_path / "team.toml"
    config.write_text(f'catalog = "{postgres_url}"\nstore = "{store}"\nqueue = "postgresql"\n')
    return config


async def _anchored_archive(
    data: Path, site: TestSite, browser: Browser, tsa: TestTSA
) -> tuple[str, TrustStore, tuple[int, int]]:
    """One capture, anchored, one more event, anchored again."""
    captured = await capture_into(
        CaptureRequest(site.url("/"), case="border", operator="amal"), data, browser=browser
    )
    trust = TrustStore.load([tsa.ca_pem_path])
    anchoring = Anchoring((tsa.url,), trust)
    with Archive.open(data, create=False) as archive:
        early = await asyncio.to_thread(anchor_head, archive.custody, anchoring, actor="amal")
        archive.custody.append("verified", actor="amal", details={"check": "by hand"})
        later = await asyncio.to_thread(anchor_head, archive.custody, anchoring, actor="amal")
    assert not early.errors and not later.errors
    return captured.id, trust, (early.seq, later.seq)


async def test_the_embedded_logs_anchors_travel_with_a_migrated_capture_and_forgeries_fail(
    tmp_path: Path, site: TestSite, browser: Browser, team_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    data = tmp_path / "data"
    async with TestTSA(tmp_path / "tsa") as tsa:
        capture_id, trust, anchored = await _anchored_archive(data, site, browser, tsa)
    argv = ["migrate", "--to", str(team_config), "--data", str(data), "--operator", "amal"]
    assert main([*argv, "--json"]) == 0, capsys.readouterr()
    done = json.loads(capsys.readouterr().out)
    assert done["ok"] and done["rows"]["custody_anchors"] == 2

    out = tmp_path / "migrated.wacz"
    settings = load_settings(data, config_file=team_config, environ={})
    with Archive.open(data, create=False) as embedded:
        chain = imported_chain(next(iter(embedded.custody.events())).hash)
    with Archive.open(data, settings=settings) as team:
        assert [a.seq for a in team.catalog.custody_anchor_files(chain)] == list(anchored)
        assert team.custody.chain(chain).verify(trust).outcome is Outcome.OK
        await asyncio.to_thread(export_wacz, team, [capture_id], out, actor="amal")

    report = await asyncio.to_thread(verify_package, out, trust=trust)
    assert not report.failures, report.summary()
    embedded = [c for c in report.checks if c.name.startswith("custody embedded")]
    assert [(c.name, c.outcome) for c in embedded] == [
        ("custody embedded head", Outcome.OK),
        ("custody embedded anchor", Outcome.OK),
        ("custody embedded anchor", Outcome.OK),
        ("custody embedded anchored", Outcome.OK),
    ], report.summary()
    assert f"proven up to seq {anchored[1]} at" in embedded[-1].reason

    with zipfile.ZipFile(out) as wacz:
        segment = Embedded(
            [json.loads(line) for line in wacz.read(IMPORTED_CUSTODY_PATH).splitlines()],
            json.loads(wacz.read(EMBEDDED.head_path)),
            {n: wacz.read(n) for n in wacz.namelist() if EMBEDDED.is_token(n)},
            trust,
            anchored,
        )
        listed = {r["path"] for r in json.loads(wacz.read("datapackage.json"))["resources"]}
        guide = wacz.read("evidence/VERIFY.md").decode()
    assert {EMBEDDED.head_path, *segment.tokens} <= listed, "inside the signed part"
    assert "`custody-embedded-head.json` in place of" in guide
    validate = Path(sys.executable).with_name("wacz")
    process = await asyncio.create_subprocess_exec(
        str(validate), "validate", "-f", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    said, _ = await process.communicate()
    assert process.returncode == 0, said.decode()
    assert overall(segment.check()) is Outcome.OK
    _forgeries_fail(segment)


def _forgeries_fail(segment: Embedded) -> None:
    head, events = segment.head, segment.events
    early, later = head["anchors"]
    assert (early["seq"], later["seq"]) == segment.anchored

    # The earlier anchor claimed to be over the embedded log's head (another hash).
    last = events[-1]
    claimed = {**early, "seq": last["seq"], "hash": last["hash"]}
    checks = segment.check(head={**head, "anchors": [claimed, later]})
    assert overall(checks) is Outcome.FAILED
    reason = failures(checks)
    assert f"{early['path']}: the token stamps {early['hash']}, not the recorded" in reason
    assert last["hash"] in reason

    # A token over another event put in the place of the earlier one.
    swapped = {**segment.tokens, early["path"]: segment.tokens[later["path"]]}
    checks = segment.check(tokens=swapped)
    assert overall(checks) is Outcome.FAILED and "the token stamps" in failures(checks)

    # The earlier anchor left out, token and entry: its 'anchored' event still names it.
    tokens = {p: d for p, d in segment.tokens.items() if p != early["path"]}
    checks = segment.check(tokens=tokens, head={**head, "anchors": [later]})
    assert overall(checks) is Outcome.FAILED
    assert "that the package does not carry: an anchor was left out" in failures(checks)

    # The embedded log re-chained from its first event, and the head with it.
    forged = rechained(events, 0, {**events[0]["details"], "forged": True})
    checks = segment.check(events=forged, head={**head, "hash": forged[-1]["hash"]})
    assert overall(checks) is Outcome.FAILED
    assert "but the embedded slice has" in failures(checks)
    assert "rewritten after that time" in failures(checks)
