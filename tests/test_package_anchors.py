"""An export's custody head and anchors, checked with :func:`check_package_anchors`.

One capture of the local test site is anchored once on the machine, then exported with
a local TSA anchoring the slice's head, once for the module. Each test takes the
package's own files (custody.jsonl, custody-head.json, the anchor tokens) and changes
one thing the way the other side's expert, or a forger, would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.anchoring import Anchoring, anchor_head
from archive.evidence.anchors import ANCHORED_CHECK
from archive.evidence.checks import Check, Outcome, overall
from archive.evidence.package_anchors import (
    PACKAGE_HEAD_PATH,
    check_package_anchors,
    is_package_token,
)
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.export import export_wacz
from archive.wacz.export_types import ExportResult
from archive.wacz.layout import CUSTODY_PATH
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.forgery import rechained
from tests.site import TestSite
from tests.tsa import TestTSA


@dataclass
class Package:
    """What the package says of its custody, parsed as a verifier would."""

    path: Path
    data: Path
    result: ExportResult
    events: list[dict[str, Any]]
    head: dict[str, Any]
    tokens: dict[str, bytes]
    trust: TrustStore
    #: The anchor made on the machine before the export (a seq inside the slice).
    earlier: str = ""
    listed: set[str] = field(default_factory=set)

    def check(self, **changes: Any) -> list[Check]:
        parts = {"events": self.events, "head": self.head, "tokens": self.tokens}
        parts.update(changes)
        return check_package_anchors(
            parts["events"], parts["head"], parts["tokens"], changes.get("trust", self.trust)
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def package(
    site: TestSite, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Package]:
    data = tmp_path_factory.mktemp("anchored-data")
    out = tmp_path_factory.mktemp("anchored-out") / "anchored.wacz"
    async with TestTSA(tmp_path_factory.mktemp("anchored-tsa")) as tsa:
        captured = await capture_into(
            CaptureRequest(site.url("/gzip"), timeout=30, media=None), data, browser=browser
        )
        trust = TrustStore.load([tsa.ca_pem_path])
        anchoring = Anchoring((tsa.url,), trust)
        with Archive.open(data) as archive:
            earlier = await asyncio.to_thread(
                anchor_head, archive.custody, anchoring, actor="tester"
            )
            result = await asyncio.to_thread(
                export_wacz, archive, [captured.id], out, actor="tester", anchoring=anchoring
            )
    with zipfile.ZipFile(out) as wacz:
        events = [json.loads(line) for line in wacz.read(CUSTODY_PATH).splitlines()]
        head = json.loads(wacz.read(PACKAGE_HEAD_PATH))
        tokens = {n: wacz.read(n) for n in wacz.namelist() if is_package_token(n)}
        listed = {r["path"] for r in json.loads(wacz.read("datapackage.json"))["resources"]}
    yield Package(out, data, result, events, head, tokens, trust, earlier.anchors[0].token, listed)


def outcomes(checks: list[Check]) -> list[tuple[str, Outcome]]:
    return [(check.name, check.outcome) for check in checks]


def failures(checks: list[Check]) -> str:
    return "\n".join(str(check) for check in checks if check.outcome is Outcome.FAILED)


def test_a_genuine_export_carries_its_head_and_anchors_and_passes(package: Package) -> None:
    head, events = package.head, package.events
    assert (head["seq"], head["hash"]) == (events[-1]["seq"], events[-1]["hash"])
    earlier = f"evidence/custody-anchor-{package.earlier}"
    assert [a["path"] for a in head["anchors"]] == [
        earlier,
        f"evidence/custody-anchor-{head['seq']}-1.tsr",
    ]
    assert set(package.tokens) == {a["path"] for a in head["anchors"]}
    assert {PACKAGE_HEAD_PATH, *package.tokens} <= package.listed  # inside the signed part
    run = package.result.custody_anchors
    assert run is not None and run.seq == head["seq"] and not run.errors
    checks = package.check()
    assert overall(checks) is Outcome.OK, "\n".join(map(str, checks))
    assert checks[-1].name == ANCHORED_CHECK
    assert f"custody proven up to seq {head['seq']} at" in checks[-1].reason
    assert sum(c.name == "custody anchor" and c.ok for c in checks) == 2


async def test_the_package_still_validates_and_verifies(package: Package) -> None:
    wacz = Path(sys.executable).with_name("wacz")
    process = await asyncio.create_subprocess_exec(
        str(wacz), "validate", "-f", str(package.path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    said, _ = await process.communicate()
    assert process.returncode == 0, said.decode()
    report = await asyncio.to_thread(verify_package, package.path, trust=package.trust)
    # Nothing fails; the package verifier holds the slice to the same anchors. (Its
    # signer is not pinned and its captures are not stamped here: unproven, not ok.)
    assert not report.failures, report.summary()
    anchored = next(c for c in report.checks if c.name == "custody anchored")
    assert anchored.ok and report.custody == anchored.reason, report.summary()


def test_without_the_tsas_root_the_package_is_unproven(package: Package) -> None:
    checks = package.check(trust=TrustStore.load())
    assert overall(checks) is Outcome.UNPROVEN, failures(checks)
    assert checks[-1].outcome is Outcome.UNPROVEN
    untrusted = [c for c in checks if c.name == "custody anchor"]
    assert len(untrusted) == 2 and all(c.outcome is Outcome.UNPROVEN for c in untrusted)
    assert all("Test TSA Root" in c.reason and "--tsa-trust" in c.reason for c in untrusted)


def test_a_rechained_slice_fails(package: Package) -> None:
    forged = rechained(package.events, 1, {**package.events[1]["details"], "forged": True})
    checks = package.check(events=forged)
    assert overall(checks) is Outcome.FAILED
    text = failures(checks)
    assert "the slice ends at seq" in text and "rewritten after the export" in text
    assert "but the slice has" in text and "rewritten after that time" in text
    # The forger who also rewrites the head still meets the anchors.
    head = {**package.head, "hash": forged[-1]["hash"]}
    checks = package.check(events=forged, head=head)
    assert overall(checks) is Outcome.FAILED and "rewritten after that time" in failures(checks)


def test_an_edited_event_with_its_old_hash_fails(package: Package) -> None:
    edited = [dict(event) for event in package.events]
    edited[0]["details"] = {**edited[0]["details"], "forged": True}  # hash left as it was
    checks = package.check(events=edited)
    assert outcomes(checks) == [("custody head", Outcome.FAILED)]
    assert "edited" in checks[0].reason


def test_a_head_that_is_not_the_slices_end_fails(package: Package) -> None:
    checks = package.check(events=package.events[:-1])
    assert overall(checks) is Outcome.FAILED
    assert "custody head" in [c.name for c in checks if c.outcome is Outcome.FAILED]
    earlier = package.events[-2]
    checks = package.check(head={**package.head, "seq": earlier["seq"], "hash": earlier["hash"]})
    assert overall(checks) is Outcome.FAILED and "the slice ends at seq" in failures(checks)
    checks = package.check(head={"seq": "last", "anchors": []})
    assert overall(checks) is Outcome.FAILED and "is not a custody head" in failures(checks)


def test_a_stripped_token_fails(package: Package) -> None:
    earlier = f"evidence/custody-anchor-{package.earlier}"
    tokens = {path: data for path, data in package.tokens.items() if path != earlier}
    checks = package.check(tokens=tokens)
    assert overall(checks) is Outcome.FAILED
    assert f"{earlier}: the token is missing" in failures(checks)
    # Left out of the head as well: the slice's own 'anchored' event still names it.
    head = {**package.head, "anchors": [a for a in package.head["anchors"] if a["path"] != earlier]}
    checks = package.check(tokens=tokens, head=head)
    assert overall(checks) is Outcome.FAILED
    assert "that the package does not carry: an anchor was left out" in failures(checks)


def test_a_token_over_other_data_or_a_changed_time_fails(package: Package) -> None:
    earlier = f"evidence/custody-anchor-{package.earlier}"
    latest = package.head["anchors"][-1]["path"]
    swapped = {**package.tokens, earlier: package.tokens[latest]}
    checks = package.check(tokens=swapped)
    assert overall(checks) is Outcome.FAILED and "the token stamps" in failures(checks)
    anchors = [dict(a) for a in package.head["anchors"]]
    anchors[-1]["gen_time"] = "2020-01-01T00:00:00.000000Z"
    checks = package.check(head={**package.head, "anchors": anchors})
    assert overall(checks) is Outcome.FAILED and "was recorded" in failures(checks)


def test_a_package_without_a_head_is_unproven(package: Package) -> None:
    checks = package.check(head=None)
    assert outcomes(checks) == [
        ("custody head", Outcome.UNPROVEN),
        ("custody anchor", Outcome.FAILED),  # the slice's own anchor is not carried
    ]
    assert "does not say which custody head" in checks[0].reason
    assert outcomes(check_package_anchors([], None, {}, package.trust)) == [
        ("custody head", Outcome.UNPROVEN)
    ]


async def test_the_machine_verifies_after_the_export(package: Package) -> None:
    with Catalog.open(package.data / "catalog.sqlite3") as catalog:
        log = Archive(package.data, catalog).custody
        report = await asyncio.to_thread(log.verify, package.trust)
        actions = [event.action for event in log.events()]
    assert report.outcome is Outcome.OK, report.summary()
    assert report.proven is not None and report.proven.seq == package.head["seq"]
    assert actions[-2:] == ["anchored", "exported"]
