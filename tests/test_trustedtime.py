"""Trusted time on sealed captures, from a local TSA: stamped, pending, retried."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.trustedtime import TimestampConfig
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.site import TestSite
from tests.tsa import TestTSA


@pytest_asyncio.fixture(loop_scope="session", params=[False, True], ids=["signer", "chain"])
async def tsa(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path / "tsa", chain_in_token=request.param) as running:
        yield running


async def openssl_verify(token: Path, data: Path, ca: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "openssl",
        "ts",
        "-verify",
        "-in",
        str(token),
        "-data",
        str(data),
        "-CAfile",
        str(ca),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_a_sealed_capture_gets_a_token_that_openssl_verifies(
    tsa: TestTSA, site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
    manifest = await capture_into(
        CaptureRequest(site.url("/gzip"), timeout=30, media=None, tsa=config),
        tmp_path,
        browser=browser,
    )
    capture_dir = tmp_path / "captures" / manifest.id
    code, output = await openssl_verify(
        capture_dir / "timestamp-1.tsr", capture_dir / "manifest.json", tsa.ca_pem_path
    )
    assert code == 0, output
    assert "BEGIN CERTIFICATE" in (capture_dir / "timestamp-1.chain.pem").read_text()
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(manifest.id)
        assert row.timestamp == "stamped"
        kinds = {a.kind for a in catalog.artifacts(manifest.id)}
        assert {"timestamp", "tsa-chain"} <= kinds
        events = [e for e in Archive(tmp_path, catalog).custody.events(manifest.id)]
        assert [e.action for e in events] == ["captured", "timestamped"]
        # TSA clocks give whole seconds: a token can read up to a second "before" sealing.
        assert -1.5 < events[1].details["seconds_after_sealing"] < 30
    # The tokens stamp the manifest; they are not listed inside it.
    assert "timestamp" not in json.dumps(manifest.to_dict()["artifacts"])


async def test_no_tsa_reachable_leaves_it_pending_and_the_retry_completes_it(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    async with TestTSA(tmp_path / "tsa") as tsa:
        tsa.down = True
        config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
        manifest = await capture_into(
            CaptureRequest(site.url("/arabic"), timeout=30, media=None, tsa=config),
            tmp_path,
            browser=browser,
        )
        assert manifest.status == "complete"  # sealed all the same
        with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
            row = catalog.get_capture(manifest.id)
            assert row.timestamp == "pending" and row.timestamp_next_at
        tsa.down = False
        cli = Path(__import__("sys").executable).with_name("osint-capture")
        process = await asyncio.create_subprocess_exec(
            str(cli),
            "timestamp",
            "--pending",
            "--data",
            str(tmp_path),
            "--tsa",
            tsa.url,
            "--tsa-trust",
            str(tsa.ca_pem_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode()
        assert f"{manifest.id}  stamped" in out.decode()
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        assert catalog.get_capture(manifest.id).timestamp == "stamped"
        assert Archive(tmp_path, catalog).custody.verify().ok
    capture_dir = tmp_path / "captures" / manifest.id
    code, output = await openssl_verify(
        capture_dir / "timestamp-1.tsr", capture_dir / "manifest.json", tsa.ca_pem_path
    )
    assert code == 0, output


async def test_the_export_signature_gets_a_token_and_the_package_still_validates(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    import base64
    import hashlib
    import sys
    import zipfile

    from archive.evidence.signing import signature_from_b64
    from archive.evidence.tsa_roots import TrustStore
    from archive.evidence.tsa_verify import verify_token

    async with TestTSA(tmp_path / "tsa") as tsa:
        manifest = await capture_into(
            CaptureRequest(site.url("/gzip"), case="stamped", timeout=30, media=None),
            tmp_path / "data",
            browser=browser,
        )
        cli = Path(sys.executable).with_name("osint-capture")
        out = tmp_path / "stamped.wacz"
        process = await asyncio.create_subprocess_exec(
            str(cli),
            "export",
            manifest.id,
            "--out",
            str(out),
            "--data",
            str(tmp_path / "data"),
            "--tsa",
            tsa.url,
            "--tsa-trust",
            str(tsa.ca_pem_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, output.decode()
    with zipfile.ZipFile(out) as package:
        digest = json.loads(package.read("datapackage-digest.json"))
    [stamp] = digest["timestamps"]
    signature = signature_from_b64(digest["signedData"]["signature"])
    token = verify_token(
        base64.b64decode(stamp["token"]),
        hashlib.sha256(signature).digest(),
        trust=TrustStore.load([tsa.ca_pem_path]),
    )
    assert token.gen_time.year >= 2026
    validator = await asyncio.create_subprocess_exec(
        str(cli.with_name("wacz")),
        "validate",
        "-f",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    report, _ = await validator.communicate()
    assert validator.returncode == 0, report.decode()
