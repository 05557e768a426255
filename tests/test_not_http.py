"""Requests that are not HTTP, and HTTP versions, in real captures of real pages.

Saved news pages and blogs ask for ``file:///C|/…`` images, ``chrome-extension://``
probes, ``blob:`` and ``data:`` URLs; written as HTTP records they failed
``warcio check``. A capture keeps none of them as a record and names each in its
page info with what the browser did. And a status line says the HTTP version the
server answered in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archive.hashing import sha256_bytes
from archive.manifest import Manifest
from archive.records import is_http_uri
from archive.timeutil import utc_now
from capture.browser import Browser
from capture.exchange import Exchange, to_records
from capture.nonhttp import DATA_URL_KEPT, URL_KEPT, bounded_url
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.not_http_site import (
    BLOB_TEXT,
    HTTP10_FILES,
    LONG_DATA_URL,
    PROBE_URL,
    SHORT_DATA_URL,
    SOCKET_TEXT,
    Http10Server,
)
from tests.site import TestSite
from tests.warcs import Record, read_records, warcio_check

#: How Chromium reports the page's ``file:///C|/…`` image (the ``|`` escaped).
REPORTED_FILE_URL = "file:///C%7C/Users/witness/Pictures/photo.jpg"


async def captured(browser: Browser, data: Path, url: str) -> tuple[Manifest, list[Record]]:
    """Capture ``url`` (no media stage) and read its WARC back, which must pass warcio check."""
    request = CaptureRequest(url, timeout=30, media=None)
    manifest = await capture_into(request, data, browser=browser)
    warc = data / "captures" / manifest.id / str(manifest.warc)
    check = warcio_check(warc)
    assert check.returncode == 0, check
    return manifest, read_records(warc)


def page_info(records: list[Record]) -> dict[str, Any]:
    [info] = [r for r in records if r.uri and r.uri.startswith("urn:pageinfo:")]
    assert info.payload is not None
    return json.loads(info.payload)


async def test_requests_that_are_not_http_are_named_in_page_info_and_never_recorded(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await captured(browser, tmp_path, site.url("/not-http"))

    targets = [r.uri for r in records if r.type in ("request", "response")]
    assert site.url("/not-http") in targets
    assert all(uri and is_http_uri(uri) for uri in targets), targets
    text = next(r for r in records if r.uri and r.uri.startswith("urn:text:"))
    assert text.payload is not None
    assert BLOB_TEXT in text.payload.decode() and SOCKET_TEXT in text.payload.decode()

    info = page_info(records)
    facts = info["not_http"]
    by_url = {fact["url"]: fact for fact in facts}
    for url in (REPORTED_FILE_URL, PROBE_URL):
        assert by_url[url]["outcome"] == "refused" and by_url[url]["error"], by_url[url]
        assert by_url[url]["type"] == "Image"
    assert {f["url"] for f in info["failed_requests"]} == {REPORTED_FILE_URL, PROBE_URL}

    short = by_url[SHORT_DATA_URL]
    assert short["outcome"] == "served by the browser" and short["protocol"] == "data"
    assert short["url_size"] == len(SHORT_DATA_URL) and "url_truncated" not in short
    long = by_url[LONG_DATA_URL[:DATA_URL_KEPT]]
    assert long["url_truncated"] is True and long["url_size"] == len(LONG_DATA_URL)
    assert long["url_sha256"] == sha256_bytes(LONG_DATA_URL.encode())

    blobs = [f for f in facts if f["scheme"] == "blob"]
    assert sorted(f["type"] for f in blobs) == ["Fetch", "Image"], blobs
    assert all(f["outcome"] == "served by the browser" and f["protocol"] == "blob" for f in blobs)
    assert all(f["url"].startswith("blob:" + site.origin + "/") for f in blobs)

    [socket] = [f for f in facts if f["scheme"] == "ws"]
    assert socket["type"] == "WebSocket" and socket["status"] == 101
    assert socket["url"] == site.url("/ws").replace("http:", "ws:", 1)
    assert all(f["requested_at"].endswith("Z") for f in facts)

    # A refusal is a loss the manifest names; a WebSocket's messages are not recorded.
    assert manifest.status == "partial"
    assert sorted(manifest.reasons) == sorted(
        f"not loaded (not HTTP, refused by the browser): {url} ({by_url[url]['error']})"
        for url in (REPORTED_FILE_URL, PROBE_URL)
    )
    notes = manifest.extra["notes"]
    assert any(n.startswith(f"WebSocket {socket['url']} ") for n in notes), notes


async def test_status_lines_say_the_http_version_the_server_answered_in(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    async with Http10Server() as old:
        origin = old.origin
        _, records = await captured(browser, tmp_path / "old", origin + "/")
    for path in HTTP10_FILES:
        [response] = [r for r in records if r.type == "response" and r.uri == origin + path]
        assert response.http_line == "HTTP/1.0 200 OK", response.http_line
        assert response.headers["warc-protocol"] == ["http/1.0"]
        [request] = [r for r in records if r.type == "request" and r.uri == origin + path]
        # The request line is what Chromium sent: HTTP/1.1, to an HTTP/1.0 server too.
        assert request.http_line == f"GET {path} HTTP/1.1"
        assert request.http_line in old.request_lines

    _, records = await captured(browser, tmp_path / "new", site.url("/final"))
    [response] = [r for r in records if r.type == "response" and r.uri == site.url("/final")]
    assert response.http_line == "HTTP/1.1 200 OK"
    assert response.headers["warc-protocol"] == ["http/1.1"]


def test_a_long_url_is_cut_and_stands_by_its_size_and_sha256() -> None:
    short = "blob:https://example.org/" + "a" * 36
    assert bounded_url(short) == {"url": short}
    long = "blob:https://example.org/é" + "b" * URL_KEPT
    assert bounded_url(long) == {
        "url": long[:URL_KEPT],
        "url_truncated": True,
        "url_size": len(long.encode()),
        "url_sha256": sha256_bytes(long.encode()),
    }


def test_h2_and_h3_responses_are_written_in_http_1_1_form_with_their_protocol() -> None:
    """No local server speaks h2 or h3 to Chromium here: the exchange is made by hand."""
    for protocol in ("h2", "h3", None):
        exchange = Exchange("1", "https://example.org/", "GET", "Document", None, utc_now())
        exchange.status, exchange.protocol = 200, protocol
        response, request = to_records(exchange)
        assert response.http_headers is not None and request.http_headers is not None
        assert response.http_headers.protocol == "HTTP/1.1"
        assert request.http_headers.statusline == "/ HTTP/1.1"
        assert response.rec_headers.get_header("WARC-Protocol") == protocol
