"""The capture server, started as a real process, driven over HTTP on the loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from archive.catalog import CATALOG_NAME, Catalog
from archive.hashing import sha256_file
from capture.server.openapi import document
from tests.server import RunningServer
from tests.site import TestSite
from tests.warcs import read_records, warcio_check


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("server") / "data")
    await running.start()
    yield running
    await running.stop()


async def test_a_capture_goes_from_request_to_sealed_files(
    server: RunningServer, site: TestSite
) -> None:
    status, headers, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={"url": site.url("/rich"), "case": "api-case", "note": "via API", "operator": "t"},
    )
    assert status == 202, body
    assert body["status"] == "queued" and body["created"] is True
    assert headers["Location"] == f"/api/v1/captures/{body['id']}"

    seen: list[str] = []
    async for kind, data in server.events(body["id"]):
        seen.append(kind if kind != "state" else data["stage"])
        if kind == "done":
            assert data["status"] == "complete"
            manifest_sha256 = data["manifest_sha256"]
    assert seen[0] == "queued" and "load" in seen and "resource" in seen and seen[-1] == "done"
    assert seen.index("behaviours") < seen.index("derived") < seen.index("seal")

    status, _, detail = await server.request("GET", headers["Location"])
    assert status == 200 and detail["status"] == "complete" and detail["case"] == "api-case"
    capture_dir = server.data / "captures" / body["id"]
    assert sha256_file(capture_dir / "manifest.json")[0] == manifest_sha256
    assert detail["manifest"] == json.loads((capture_dir / "manifest.json").read_bytes())
    warc = next(f for f in detail["files"] if f["kind"] == "warc")
    status, file_headers, data = await server.request("GET", warc["href"])
    assert status == 200 and hashlib.sha256(data).hexdigest() == warc["sha256"]
    assert file_headers["X-Content-SHA256"] == warc["sha256"]
    assert warcio_check(capture_dir / warc["name"]).returncode == 0

    status, _, listing = await server.request("GET", "/api/v1/captures?case=api-case")
    assert [c["id"] for c in listing["captures"]] == [body["id"]]
    status, _, cases = await server.request("GET", "/api/v1/cases")
    assert "api-case" in [c["name"] for c in cases["cases"]]


async def test_requests_at_once_are_queued_together_once_per_url(
    server: RunningServer, site: TestSite
) -> None:
    """Requests arriving together share a commit; each URL is still one capture, and a
    request the catalog refuses fails alone."""
    urls = [site.url(f"/?together={n}") for n in range(3)]
    requests = [{"url": url, "timeout": 10} for url in urls for _ in range(4)]
    requests.append({"url": site.url("/?together=bad"), "case": " "})
    replies = await asyncio.gather(
        *(server.request("POST", "/api/v1/captures", json=body) for body in requests)
    )
    assert [status for status, _, _ in replies] == [202] * 12 + [400]
    for url in urls:
        mine = [body for _, _, body in replies[:12] if body["url"] == url]
        assert len(mine) == 4 and len({body["id"] for body in mine}) == 1
        assert [body["created"] for body in mine].count(True) == 1
    for capture_id in {body["id"] for _, _, body in replies[:12]}:
        assert (await server.wait_done(capture_id))["status"] == "complete"


async def test_the_same_url_twice_while_running_is_one_capture(
    server: RunningServer, site: TestSite
) -> None:
    request = {"url": site.url("/never-finishes"), "timeout": 10}
    first = await server.request("POST", "/api/v1/captures", json=request)
    second = await server.request("POST", "/api/v1/captures", json=request)
    assert first[0] == second[0] == 202
    assert first[2]["id"] == second[2]["id"] and second[2]["created"] is False
    outcome = await server.wait_done(first[2]["id"])
    assert outcome["status"] == "partial"
    _, _, listing = await server.request(
        "GET", "/api/v1/captures", params={"url": site.url("/never-finishes")}
    )
    assert len(listing["captures"]) == 1


async def test_tokens_origins_and_hosts_are_checked(server: RunningServer) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-token"}):
        status, _, body = await server.request("GET", "/api/v1/health", headers=headers)
        assert status == 401 and set(body) == {"error", "detail"}
    status, _, body = await server.request(
        "GET", "/api/v1/health", headers={"Origin": "https://evil.example"}
    )
    assert status == 403 and "web pages" in body["detail"]
    status, _, body = await server.request(
        "GET", "/api/v1/health", headers={"Host": f"rebind.example:{server.port}"}
    )
    assert status == 421

    # The first extension that presents a token binds it; others are refused that token
    # (403: the token is good, the extension may not use it), scripts are not.
    paired = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    status, headers, _ = await server.request("GET", "/api/v1/health", headers={"Origin": paired})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == paired
    status, headers, _ = await server.request(
        "OPTIONS", "/api/v1/captures", headers={"Origin": paired, "Authorization": ""}
    )
    assert status == 204 and "Authorization" in headers["Access-Control-Allow-Headers"]
    other = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
    for method in ("GET", "OPTIONS"):  # the options page checks with OPTIONS
        status, headers, body = await server.request(
            method, "/api/v1/health", headers={"Origin": other}
        )
        assert status == 403 and "belongs to another extension" in body["detail"], body
        assert paired in body["detail"] and "token create" in body["detail"]
        assert "Access-Control-Allow-Origin" not in headers
    status, _, _ = await server.request("GET", "/api/v1/health")
    assert status == 200


@pytest.mark.parametrize(
    ("payload", "status", "names"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"url": "https://example.org/", "colour": "red"}', 400, "colour"),
        (b'{"url": 42}', 400, "body.url"),
        (b'{"note": "no url"}', 400, "body.url"),
        (b'{"url": "https://example.org/", "as_seen": {"screenshot": "x"}}', 400, "screenshot"),
        (b'{"url": "file:///etc/passwd"}', 422, "file"),
        (b'{"url": "javascript:alert(1)"}', 422, "javascript"),
    ],
)
async def test_bad_requests_are_refused_with_the_field_named(
    server: RunningServer, payload: bytes, status: int, names: str
) -> None:
    got, _, body = await server.request(
        "POST", "/api/v1/captures", data=payload, headers={"Content-Type": "application/json"}
    )
    assert got == status, body
    assert set(body) == {"error", "detail"} and names in body["detail"]


async def test_an_oversized_body_gets_413(server: RunningServer) -> None:
    blob = b'{"url": "https://example.org/", "note": "' + b"x" * (65 * 1024 * 1024) + b'"}'
    status, _, body = await server.request(
        "POST", "/api/v1/captures", data=blob, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and "larger" in body["detail"]


async def test_unknown_captures_and_files_are_404(server: RunningServer) -> None:
    status, _, body = await server.request("GET", "/api/v1/captures/nope")
    assert status == 404 and body["error"] == "not found"
    status, _, body = await server.request("GET", "/api/v1/nothing-here")
    assert status == 404 and "openapi" in body["detail"]


async def test_a_busy_catalog_answers_503_with_retry_after(server: RunningServer) -> None:
    """Another process holding the catalog's write lock longer than the server waits (its
    busy timeout, 5 s): the write is refused as busy, never a bare 500."""
    other = sqlite3.connect(server.data / CATALOG_NAME, timeout=2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        status, headers, body = await server.request(
            "POST", "/api/v1/cases", json={"name": "while-locked"}
        )
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert status == 503 and body["error"] == "busy", body
    assert headers["Retry-After"].isdigit()
    assert "locked by another process" in body["detail"] and "try again" in body["detail"]
    status, _, body = await server.request("POST", "/api/v1/cases", json={"name": "after"})
    assert status == 201, body


async def test_the_openapi_document_matches_the_routes(server: RunningServer) -> None:
    status, _, served = await server.request("GET", "/api/v1/openapi.json")
    assert status == 200 and served == json.loads(json.dumps(document()))
    from capture.server.app import ServerSettings, make_app
    from capture.service import CaptureService

    app = make_app(CaptureService(server.data), ServerSettings(hosts=frozenset()))
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource.canonical.startswith("/api/")
    }
    documented = {(method, path) for path, item in served["paths"].items() for method in item}
    assert routed == documented


async def test_a_restart_finishes_what_was_queued_and_retries_what_was_running(
    tmp_path: Path, site: TestSite
) -> None:
    running = RunningServer(tmp_path / "data", workers=1)
    await running.start()
    slow = await running.request(
        "POST", "/api/v1/captures", json={"url": site.url("/never-finishes"), "timeout": 12}
    )
    queued = [
        (await running.request("POST", "/api/v1/captures", json={"url": site.url(path)}))[2]["id"]
        for path in ("/gzip", "/arabic")
    ]
    async for kind, data in running.events(slow[2]["id"]):
        if kind == "state" and data["stage"] == "behaviours":
            break
    await running.stop(kill=True)  # kill -9 in the middle of a capture

    with Catalog.open(tmp_path / "data" / "catalog.sqlite3") as catalog:
        assert catalog.get_capture(slow[2]["id"]).status == "running"
    restarted = RunningServer(tmp_path / "data", workers=1, port=running.port)
    await restarted.start()
    try:
        outcomes = {cid: await restarted.wait_done(cid) for cid in [slow[2]["id"], *queued]}
    finally:
        await restarted.stop()
    assert outcomes[slow[2]["id"]]["status"] == "partial"
    assert all(outcomes[cid]["status"] == "complete" for cid in queued)
    with Catalog.open(tmp_path / "data" / "catalog.sqlite3") as catalog:
        assert catalog.integrity_check() == "ok"
        assert not catalog.list_captures(status="running")
        assert not catalog.list_captures(status="queued")
        assert catalog.get_capture(slow[2]["id"]).attempts == 2
    retried = tmp_path / "data" / "captures" / slow[2]["id"] / "manifest.json"
    history = json.loads(retried.read_bytes())["extra"]["history"]
    assert any("server stopped while this capture was running" in line for line in history)
    quarantined = list((tmp_path / "data" / "quarantine").iterdir())
    assert [q.name.startswith(slow[2]["id"]) for q in quarantined] == [True]
    assert list(quarantined[0].glob(".*.partial")), "the unsealed WARC was set aside"
    for cid in [slow[2]["id"], *queued]:
        manifest = tmp_path / "data" / "captures" / cid / "manifest.json"
        warc = manifest.parent / json.loads(manifest.read_bytes())["warc"]
        assert warcio_check(warc).returncode == 0
        assert read_records(warc)[0].type == "warcinfo"


async def test_as_seen_files_are_stored_as_labelled_records(
    server: RunningServer, site: TestSite
) -> None:
    import base64

    from tests.site import png_bytes

    png = png_bytes(30, 20, (10, 200, 30))
    dom = "<!doctype html><html><body><p>AS-SEEN-DOM-MARKER سلام</p></body></html>"
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={
            "url": site.url("/members"),
            "as_seen": {
                "screenshot": "data:image/png;base64," + base64.b64encode(png).decode(),
                "dom": dom,
                "url": site.url("/members"),
                "title": "Members",
                "user_agent": "test-agent",
                "viewport": {"width": 800, "height": 600},
                "captured_at": "2026-11-26T10:00:00.000Z",
                "cookies": [
                    {
                        "name": "session",
                        "value": "letmein",
                        "domain": "127.0.0.1",
                        "path": "/",
                        "secure": False,
                        "httpOnly": True,
                        "sameSite": "lax",
                    }
                ],
            },
        },
    )
    assert status == 202, body
    outcome = await server.wait_done(body["id"])
    assert outcome["status"] == "complete", outcome
    capture_dir = server.data / "captures" / body["id"]
    manifest = json.loads((capture_dir / "manifest.json").read_bytes())
    warc = capture_dir / manifest["warc"]
    records = read_records(warc)
    by_uri = {r.uri: r for r in records if r.uri}
    view = by_uri[f"urn:as-seen:view:{site.url('/members')}"]
    assert view.payload == png and view.header("X-Osint-Provided-By")
    assert by_uri[f"urn:as-seen:dom:{site.url('/members')}"].payload == dom.encode()
    assert manifest["extra"]["as_seen"]["files"]["screenshot"]["sha256"] == (
        hashlib.sha256(png).hexdigest()
    )
    text = by_uri[f"urn:text:{site.url('/members')}"].payload.decode()
    assert "MEMBERS-ONLY-MARKER" in text, "the lent cookie opened the members page"
    # The lent cookie is nowhere on disk: not in the WARC, not in the catalog.
    import gzip

    assert b"letmein" not in gzip.decompress(warc.read_bytes())
    for path in server.data.glob("catalog.sqlite3*"):
        assert b"letmein" not in path.read_bytes()
    assert not (server.data / "incoming" / body["id"]).exists()


async def test_lent_cookies_work_without_the_as_seen_files(
    server: RunningServer, site: TestSite
) -> None:
    cookie = {"name": "session", "value": "letmein", "domain": "127.0.0.1", "path": "/"}
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={"url": site.url("/members") + "?cookies-only", "as_seen": {"cookies": [cookie]}},
    )
    assert status == 202, body
    outcome = await server.wait_done(body["id"])
    assert outcome["status"] == "complete", outcome
    manifest = json.loads((server.data / "captures" / body["id"] / "manifest.json").read_bytes())
    records = read_records(server.data / "captures" / body["id"] / manifest["warc"])
    text = next(r for r in records if r.uri and r.uri.startswith("urn:text:")).payload.decode()
    assert "MEMBERS-ONLY-MARKER" in text
    assert manifest["extra"]["as_seen"]["cookies_lent"] == 1
