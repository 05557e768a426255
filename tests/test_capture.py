"""Captures of the local test site in the real browser, checked with warcio's own reader."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path

import psutil
import pytest

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.signing import SigningKey, verify_signed
from archive.hashing import sha256_file
from capture.browser import Browser
from capture.pipeline import CaptureFailed
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.site import ARABIC_TEXT, BIG_SIZE, GZIP_PAGE_BODY, TestSite, big_body_sha256
from tests.warcs import Record, read_records, warcio_check


async def capture(
    site: TestSite, browser: Browser, data: Path, path: str, timeout: float = 60
) -> tuple[dict, list[Record]]:
    manifest = await capture_into(
        CaptureRequest(
            site.url(path), case="test-case", note="a note", operator="tester", timeout=timeout
        ),
        data,
        browser=browser,
    )
    capture_dir = data / "captures" / manifest.id
    for artifact in manifest.artifacts:
        assert sha256_file(capture_dir / artifact.path) == (artifact.sha256, artifact.size)
    warc = capture_dir / manifest.warc
    check = warcio_check(warc)
    assert check.returncode == 0, check.stdout + check.stderr
    return manifest.to_dict(), read_records(warc)


def responses(records: list[Record], suffix: str) -> list[Record]:
    return [r for r in records if r.type == "response" and r.uri and r.uri.endswith(suffix)]


def derived(records: list[Record], prefix: str) -> Record:
    found = [r for r in records if r.type == "resource" and r.uri and r.uri.startswith(prefix)]
    assert len(found) == 1, f"expected one {prefix} record, found {len(found)}"
    return found[0]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


async def test_rich_page_records_every_resource_and_the_derived_records(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/rich")
    assert manifest["status"] == "complete", manifest["reasons"]
    assert manifest["http_status"] == 200 and manifest["title"] == "Rich page"
    assert manifest["case"] == "test-case" and manifest["operator"] == "tester"

    for path in (
        "/rich",
        "/static/style.css",
        "/static/bg.png",
        "/static/font.woff2",
        "/static/app.js",
        "/api/data.json",
        "/frame",
        "/static/frame.png",
        "/static/lazy.png",
    ):
        found = responses(records, path)
        assert found, f"no response record for {path} in {[r.uri for r in records]}"
        response = found[0]
        assert response.header("WARC-IP-Address") == "127.0.0.1"
        assert "http/1.1" in response.headers["warc-protocol"]
        assert response.header("WARC-Payload-Digest") == "sha256:" + response.payload_sha256
    assert responses(records, "/static/small.png") or responses(records, "/static/large.png")

    # Request records are paired with their responses.
    response_ids = {r.header("WARC-Record-ID") for r in records if r.type == "response"}
    requests = [r for r in records if r.type == "request"]
    assert requests and all(
        r.header("WARC-Concurrent-To") in response_ids
        for r in requests
        if r.header("WARC-Concurrent-To")
    )
    assert len(requests) >= len(response_ids)

    page = responses(records, "/rich")[0]
    text = derived(records, "urn:text:").payload.decode("utf-8")
    assert "INJECTED-BY-SCRIPT" in text and "XHR-PAYLOAD-MARKER" in text
    dom = derived(records, "urn:dom:").payload.decode("utf-8")
    assert 'id="injected"' in dom
    full = derived(records, "urn:fullPage:")
    view = derived(records, "urn:view:")
    assert png_size(full.payload)[1] > 5000 > png_size(view.payload)[1]
    for record in (full, view, derived(records, "urn:text:")):
        assert record.header("WARC-Refers-To") == page.header("WARC-Record-ID")
        assert record.header("WARC-Refers-To-Target-URI") == site.url("/rich")

    info = json.loads(derived(records, "urn:pageinfo:").payload)
    assert info["final_url"] == site.url("/rich") and info["http_status"] == 200
    urls = {item["url"]: item for item in info["resources"]}
    assert urls[site.url("/api/data.json")]["mime"] == "application/json"
    assert urls[site.url("/static/lazy.png")]["status"] == 200

    warcinfo = [r for r in records if r.type == "warcinfo"]
    assert len(warcinfo) == 1 and records[0].type == "warcinfo"
    fields = warcinfo[0].payload.decode("utf-8")
    for name in (
        "software: osint-capture/",
        "browser: Chromium",
        "user-agent:",
        "viewport:",
        "os:",
        "hostname:",
        "operator: tester",
        "case: test-case",
        "ip: 127.0.0.1",
    ):
        assert name in fields

    # The standalone screenshot is byte-identical to the WARC record's payload.
    screenshot = next(a for a in manifest["artifacts"] if a["kind"] == "screenshot")
    assert screenshot["sha256"] == full.payload_sha256

    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(manifest["id"])
        assert row is not None and row.status == "complete" and row.case == "test-case"
        manifest_path = tmp_path / "captures" / manifest["id"] / "manifest.json"
        assert row.manifest_sha256 == sha256_file(manifest_path)[0]
        assert json.loads(manifest_path.read_bytes()) == manifest
        kinds = {a.kind for a in catalog.artifacts(manifest["id"])}
        assert kinds == {"warc", "screenshot", "manifest", "signature"}

        # The manifest is signed by the installation's key...
        signature = json.loads((manifest_path.parent / "manifest.sig.json").read_bytes())
        key, created = SigningKey.load_or_create(tmp_path)
        assert not created
        verify_signed(signature, manifest_path.read_bytes(), expected_fingerprint=key.fingerprint)
        # ...and the capture is an event in the chain of custody, which verifies.
        custody = Archive(tmp_path, catalog).custody
        assert custody.verify().ok
        events = list(custody.events(manifest["id"]))
        assert [e.action for e in events] == ["captured"]
        assert events[0].details["manifest_sha256"] == row.manifest_sha256
        assert next(e.action for e in custody.events()) == "key-created"


async def test_infinite_scroll_reaches_the_third_batch(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/feed")
    assert manifest["status"] == "complete", manifest["reasons"]
    assert "FEED-THIRD-BATCH-MARKER" in derived(records, "urn:text:").payload.decode()
    assert any(r.uri and "batch?n=3" in r.uri for r in records if r.type == "response")


async def test_each_redirect_hop_is_its_own_response(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/redirect/1")
    assert manifest["final_url"] == site.url("/final")
    hops = [
        (r.uri, r.http_status, r.http_header("Location"))
        for r in records
        if r.type == "response" and r.uri and ("/redirect/" in r.uri or r.uri.endswith("/final"))
    ]
    assert hops == [
        (site.url("/redirect/1"), 302, "/redirect/2"),
        (site.url("/redirect/2"), 301, "/redirect/3"),
        (site.url("/redirect/3"), 307, "/final"),
        (site.url("/final"), 200, None),
    ]
    info = json.loads(derived(records, "urn:pageinfo:").payload)
    assert [hop["status"] for hop in info["redirect_chain"]] == [302, 301, 307, 200]
    assert "REDIRECT-FINAL-MARKER" in derived(records, "urn:text:").payload.decode()


async def test_a_404_is_recorded_faithfully(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/missing")
    assert manifest["http_status"] == 404
    assert b"NOT-FOUND-MARKER" in responses(records, "/missing")[0].payload


async def test_gzip_body_is_stored_decoded_with_the_original_headers_kept(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/gzip")
    assert manifest["status"] == "complete", manifest["reasons"]
    response = responses(records, "/gzip")[0]
    assert response.payload == GZIP_PAGE_BODY
    assert response.http_header("X-Orig-Content-Encoding") == "gzip"
    assert int(response.http_header("X-Orig-Content-Length")) < len(GZIP_PAGE_BODY)
    assert response.http_header("Content-Encoding") is None
    assert response.http_header("Content-Length") == str(len(GZIP_PAGE_BODY))
    assert "content-encoding gzip" in response.header("X-Osint-Conversion")


async def test_windows_1256_page_keeps_its_bytes_and_its_text_becomes_utf8(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/arabic")
    assert manifest["status"] == "complete", manifest["reasons"]
    assert ARABIC_TEXT.encode("cp1256") in responses(records, "/arabic")[0].payload
    assert ARABIC_TEXT in derived(records, "urn:text:").payload.decode("utf-8")


async def test_a_page_that_never_finishes_is_cut_at_the_budget_and_sealed_partial(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    manifest, records = await capture(site, browser, tmp_path, "/never-finishes", timeout=15)
    assert loop.time() - started < 15 + 5
    assert manifest["status"] == "partial"
    assert any("/hang" in reason for reason in manifest["reasons"])
    hang = responses(records, "/hang")[0]
    assert hang.header("WARC-Truncated") == "time"
    assert hang.payload_size > 0
    assert "NEVER-FINISHES-MARKER" in derived(records, "urn:text:").payload.decode()


async def test_a_refused_connection_fails_with_nothing_sealed(
    browser: Browser, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CaptureFailed) as failure:
        await capture_into(
            CaptureRequest(f"http://127.0.0.1:{port}/nothing", timeout=20),
            tmp_path,
            browser=browser,
        )
    manifest = failure.value.manifest
    assert manifest.status == "failed" and manifest.artifacts == []
    assert "ERR_CONNECTION_REFUSED" in manifest.reasons[0]
    assert not (tmp_path / "captures" / manifest.id).exists()
    assert list((tmp_path / "quarantine").iterdir())
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(manifest.id)
        assert row is not None and row.status == "failed" and row.reasons
        events = list(Archive(tmp_path, catalog).custody.events(manifest.id))
        assert [e.action for e in events] == ["capture-failed"]
        assert events[0].details["stage"] == "load" and events[0].details["quarantined"]


async def test_a_document_that_never_finishes_keeps_what_arrived(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/slow-document", timeout=12)
    assert manifest["status"] == "partial"
    document = responses(records, "/slow-document")[0]
    assert b"SLOW-DOC-FIRST-PART" in document.payload
    assert document.header("WARC-Truncated") == "time"
    assert "SLOW-DOC-FIRST-PART" in derived(records, "urn:text:").payload.decode()


@pytest.mark.slow
async def test_a_200_mb_response_streams_through_without_being_held_in_memory(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        manifest, records = await capture(site, browser, tmp_path, "/big", timeout=120)
    finally:
        done.set()
        await sampler
    assert manifest["status"] == "complete", manifest["reasons"]
    big = responses(records, "/big.bin")
    assert big, "no response record for /big.bin"
    assert big[0].payload_size == BIG_SIZE
    assert big[0].payload_sha256 == big_body_sha256()
    assert big[0].header("WARC-Payload-Digest") == "sha256:" + big_body_sha256()
    growth = peak - baseline
    assert growth < 64 * 1024 * 1024, f"memory grew by {growth / 1e6:.0f} MB during the capture"


async def test_a_cross_site_iframe_is_recorded_through_its_own_target(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/cross-frame")
    assert manifest["status"] == "complete", manifest["reasons"]
    frame_origin = f"http://localhost:{site.port}"
    assert responses(records, f"{frame_origin}/frame")
    image = responses(records, f"{frame_origin}/static/frame.png")
    assert image and image[0].payload[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_lost_resource_makes_the_capture_partial_and_is_named(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(site, browser, tmp_path, "/lost-resource")
    assert manifest["status"] == "partial"
    assert any("gone.png" in r and "ERR_CONNECTION_REFUSED" in r for r in manifest["reasons"])
    failed = [r for r in records if r.type == "request" and r.uri and r.uri.endswith("/gone.png")]
    assert failed and "ERR_CONNECTION_REFUSED" in failed[0].header("X-Osint-Error")
    info = json.loads(derived(records, "urn:pageinfo:").payload)
    assert [f["url"] for f in info["failed_requests"]] == [failed[0].uri]
