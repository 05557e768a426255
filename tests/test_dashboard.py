"""The dashboard, end to end: the real server (`osint-capture serve`), real captures of
the local test site, and a real Chromium driven with Playwright, as an investigator
uses it: log in with the token, open a capture, replay it, search, read a timeline.

The HTTP-level checks (redirects, wrong token, cross-site requests) talk to the same
server with aiohttp, sending exactly the headers a browser would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Dialog, Page, expect

from archive.catalog import CATALOG_NAME, Catalog
from archive.evidence.trust import TrustedKeys
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.server.replay import installed as replay_installed
from tests.changing import ChangingPage
from tests.server import RunningServer, free_port
from tests.site import ARABIC_TEXT, TestSite
from tests.tsa import TestTSA

#: Generous: a capture of a test page takes seconds, a watched target a few runs.
WAIT_MS = 120_000
#: A word of /gzip's text that no other page captured here holds.
GZIP_ONLY_WORD = "decoded"
#: A word of /arabic's sentence (ARABIC_TEXT), matched by the full-text index.
ARABIC_WORD = "الشاهد"


@dataclass
class Captured:
    gzip: str
    arabic: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    """A local time-stamp authority, so captures and exports carry trusted time."""
    async with TestTSA(tmp_path_factory.mktemp("dashboard-tsa")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(
    tmp_path_factory: pytest.TempPathFactory, tsa: TestTSA
) -> AsyncIterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("dashboard") / "data",
        extra_args=("--tsa", tsa.url, "--tsa-trust", str(tsa.ca_pem_path)),
    )
    await running.start()
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def captured(server: RunningServer, site: TestSite) -> Captured:
    """Two sealed captures made through the API, as the extension makes them."""
    ids = []
    for path, case in (("/gzip", "dashboard-case"), ("/arabic", "قضية")):
        status, _, body = await server.request(
            "POST", "/api/v1/captures", json={"url": site.url(path), "case": case}
        )
        assert status == 202, body
        ids.append(body["id"])
    for capture_id in ids:
        outcome = await server.wait_done(capture_id)
        assert outcome["event"] == "done" and outcome["status"] == "complete", outcome
    return Captured(gzip=ids[0], arabic=ids[1])


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(accept_downloads=True)
    yield ctx
    await ctx.close()


async def log_in(page: Page, server: RunningServer, token: str | None = None) -> None:
    """Log in through the form, as a person does."""
    await page.goto(server.base + "/")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("Token").fill(token or server.token)
    await page.get_by_role("button", name="Log in").click()


# -- security over plain HTTP ---------------------------------------------------------------


async def _get(server: RunningServer, path: str, **kwargs: object) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.base + path, allow_redirects=False, **kwargs) as response,  # type: ignore[arg-type]
    ):
        await response.read()
        return response


async def _login_cookie(server: RunningServer) -> dict[str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base + "/login",
            data={"token": server.token, "next": "/"},
            headers={"Origin": server.base},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert server.token not in cookie
        morsel = response.cookies["osint_capture_session"]
        return {"Cookie": f"osint_capture_session={morsel.value}"}


async def test_pages_without_a_session_go_to_the_login_form(server: RunningServer) -> None:
    for path in ("/", "/captures/whatever", "/targets", "/search?q=x", "/replay/whatever"):
        response = await _get(server, path)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/login?next=")
    # The bearer token alone does not open pages (browsers send cookies, not tokens)...
    response = await _get(server, "/", headers=server.auth)
    assert response.status == 303
    # ...and the login form and the dashboard's style need no session.
    assert (await _get(server, "/login")).status == 200
    assert (await _get(server, "/static/style.css")).status == 200


async def test_a_wrong_token_is_a_plain_error_and_no_session(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base + "/login",
            data={"token": "not-the-token", "next": "/"},
            headers={"Origin": server.base},
            allow_redirects=False,
        ) as response,
    ):
        text = await response.text()
        assert response.status == 401
        assert "Wrong token" in text and "osint-capture token" in text
        assert "Set-Cookie" not in response.headers


async def test_the_session_cookie_opens_pages_and_the_api(server: RunningServer) -> None:
    cookie = await _login_cookie(server)
    response = await _get(server, "/", headers=cookie)
    assert response.status == 200 and response.content_type == "text/html"
    response = await _get(server, "/api/v1/health", headers=cookie)
    assert response.status == 200
    # After logging in, only a path on this server is a place to go back to.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base + "/login",
            data={"token": server.token, "next": "//evil.example/"},
            headers={"Origin": server.base},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303 and response.headers["Location"] == "/"
    # A made-up session is nothing.
    bogus = {"Cookie": "osint_capture_session=" + "x" * 43}
    assert (await _get(server, "/", headers=bogus)).status == 303
    assert (await _get(server, "/api/v1/health", headers=bogus)).status == 401


async def test_cross_site_requests_are_refused(server: RunningServer, captured: Captured) -> None:
    cookie = await _login_cookie(server)
    async with aiohttp.ClientSession() as http:
        # A hostile page posting to the export form (or logging in) is refused by Origin...
        for path in (f"/captures/{captured.gzip}/export", "/targets/1/pause", "/login", "/logout"):
            async with http.post(
                server.base + path,
                data={"token": server.token},
                headers={**cookie, "Origin": "https://evil.example"},
                allow_redirects=False,
            ) as response:
                assert response.status == 403, path
                assert "web pages" in (await response.json())["detail"]
        # ...and a state-changing request that names no origin of ours at all, too.
        async with http.post(
            server.base + f"/captures/{captured.gzip}/export",
            headers={**cookie, "Referer": "https://evil.example/page"},
            allow_redirects=False,
        ) as response:
            assert response.status == 403
        async with http.post(
            server.base + "/api/v1/captures",
            json={"url": "https://example.org/"},
            headers={**cookie, "Origin": "http://127.0.0.2:1"},
        ) as response:
            assert response.status == 403
        # The replay origin (another site) never gets to use a session.
        port = server.port
        async with http.get(f"http://localhost:{port}/api/v1/health", headers=cookie) as response:
            assert response.status == 401
        async with http.get(
            f"http://localhost:{port}/captures/{captured.gzip}",
            headers=cookie,
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith(f"http://127.0.0.1:{port}/")
        # Replay files need the key the replay page hands out.
        async with http.get(
            f"http://localhost:{port}/replay/files/{captured.gzip}.wacz?key=guess"
        ) as response:
            assert response.status == 404
    # The paired-extension rules still hold for the API.
    status, _, _ = await server.request(
        "GET", "/api/v1/health", headers={"Origin": "https://evil.example"}
    )
    assert status == 403


# -- in the browser -------------------------------------------------------------------------


async def test_log_in_and_open_a_capture(
    server: RunningServer, captured: Captured, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(server.base + "/")
    await page.get_by_label("Token").fill("wrong token")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong token")

    await page.get_by_label("Token").fill(server.token)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["osint_capture_session"]["httpOnly"] is True
    assert cookies["osint_capture_session"]["sameSite"] == "Strict"

    # Both cases are listed with their captures and counts; the Arabic name as typed.
    await expect(page.locator("section.case h2", has_text="dashboard-case")).to_contain_text(
        "1 complete"
    )
    await expect(page.locator("section.case h2", has_text="قضية")).to_be_visible()

    await page.locator(f"a[href='/captures/{captured.gzip}']").first.click()
    await expect(page).to_have_url(server.base + f"/captures/{captured.gzip}")

    with Catalog.open(server.data / CATALOG_NAME) as catalog:
        row = catalog.get_capture(captured.gzip)
        artifacts = catalog.artifacts(captured.gzip)
    assert row is not None and row.manifest_sha256
    await expect(page.locator("#manifest-sha256")).to_have_text(row.manifest_sha256)
    files = page.locator("table.files")
    for artifact in artifacts:
        await expect(files).to_contain_text(artifact.sha256)
        await expect(files.get_by_role("link", name=artifact.path, exact=True)).to_be_visible()
    custody = page.locator("table.custody")
    await expect(custody).to_contain_text("captured")
    await expect(custody).to_contain_text("timestamped")

    # Trusted time: the genTime read from the sealed token, which verifies against the
    # manifest, is the one the custody log recorded when the token arrived.
    stamped = [
        json.loads(line)
        for line in (server.data / "custody.jsonl").read_text().splitlines()
        if '"timestamped"' in line and captured.gzip in line
    ]
    assert len(stamped) == 1
    trusted = page.locator("ul.trusted li")
    await expect(trusted).to_have_count(1)
    await expect(trusted).to_contain_text(stamped[0]["details"]["tsa"])
    await expect(trusted).to_contain_text(f"genTime {stamped[0]['details']['gen_time']}")
    await expect(trusted).to_contain_text("verified")

    # The screenshot is the sealed one, shown through the file route with the session.
    image = page.locator("figure.shot img")
    await expect(image).to_be_visible()
    natural = await image.evaluate("img => img.naturalWidth")
    assert natural > 0
    shot = next(a for a in artifacts if a.kind == "screenshot")
    src = await image.get_attribute("src")
    assert src is not None
    body = await (await page.request.get(server.base + src)).body()
    assert hashlib.sha256(body).hexdigest() == shot.sha256

    # A file downloads byte for byte as sealed.
    warc = next(a for a in artifacts if a.kind == "warc")
    async with page.expect_download() as download_info:
        await files.get_by_role("link", name=warc.path, exact=True).click()
    download = await download_info.value
    path = await download.path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == warc.sha256
    await page.close()


async def test_export_from_the_capture_page(
    server: RunningServer, captured: Captured, context: BrowserContext, tsa: TestTSA
) -> None:
    page = await context.new_page()
    await log_in(page, server)
    await page.goto(server.base + f"/captures/{captured.arabic}")
    await page.get_by_label("Exported by").fill("Dashboard Tester")
    async with page.expect_download(timeout=WAIT_MS) as download_info:
        await page.get_by_role("button", name="Export signed WACZ").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".wacz")
    data = (await download.path()).read_bytes()
    exported = list((server.data / "exports").glob(f"{captured.arabic}-*.wacz"))
    assert len(exported) == 1 and exported[0].read_bytes() == data
    # The project's own offline verifier accepts it.
    trust = TrustStore.load([tsa.ca_pem_path])
    keys = TrustedKeys.from_options(data_dir=server.data)
    report = await asyncio.to_thread(verify_package, exported[0], trust=trust, keys=keys)
    assert report.ok, report.summary()
    await page.reload()
    events = page.locator("table.custody tr", has_text="exported")
    await expect(events).to_contain_text("Dashboard Tester")
    await page.close()


@pytest.mark.skipif(
    not replay_installed(), reason="ReplayWeb.page missing: run scripts/ensure-replay"
)
async def test_replay_shows_the_captured_page(
    server: RunningServer, captured: Captured, context: BrowserContext
) -> None:
    page = await context.new_page()
    await log_in(page, server)
    await page.goto(server.base + f"/captures/{captured.gzip}")
    await page.get_by_role("link", name="Replay").click()
    await expect(page).to_have_url(server.base + f"/replay/{captured.gzip}")
    # ReplayWeb.page's outer iframe (on the replay origin) holds the archived page's frame.
    replayed = page.frame_locator("replay-web-page iframe").frame_locator("iframe").first
    await expect(replayed.get_by_text("GZIP-PAGE-MARKER line 60")).to_be_visible(timeout=WAIT_MS)
    # The archived page's scripts may not navigate the dashboard away.
    sandbox = await page.locator("replay-web-page iframe").get_attribute("sandbox")
    assert sandbox is not None and "allow-scripts" in sandbox
    assert "allow-top-navigation" not in sandbox
    frames = [f.url for f in page.frames]
    assert any(url.startswith(f"http://localhost:{server.port}/replay/app/") for url in frames)
    # A view, not evidence: the package is kept outside the captures' folder.
    assert (server.data / "replay" / f"{captured.gzip}.wacz").is_file()
    await page.close()


async def test_search_finds_a_capture_by_its_words(
    server: RunningServer, captured: Captured, context: BrowserContext
) -> None:
    # As if the capture had been sealed before search existed: not in the index. The
    # next search indexes it from its sealed files first.
    with sqlite3.connect(server.data / CATALOG_NAME, timeout=30) as db:
        db.execute("DELETE FROM capture_text WHERE capture_id = ?", (captured.gzip,))
    with Catalog.open(server.data / CATALOG_NAME) as catalog:
        assert captured.gzip in [row.id for row in catalog.unindexed_captures()]
    page = await context.new_page()
    await log_in(page, server)
    await page.get_by_label("Search captured text").fill(GZIP_ONLY_WORD)
    await page.get_by_label("Search captured text").press("Enter")
    hits = page.locator("li.hit")
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark").first).to_have_text(GZIP_ONLY_WORD)
    await expect(hits.locator(f"a[href='/captures/{captured.gzip}']")).to_be_visible()

    await page.goto(server.base + "/search?q=" + ARABIC_WORD)
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark")).to_have_text(ARABIC_WORD)
    await expect(hits.locator(".snippet")).to_contain_text(ARABIC_TEXT.split()[0])
    await hits.locator(f"a[href='/captures/{captured.arabic}']").click()
    await expect(page).to_have_url(server.base + f"/captures/{captured.arabic}")

    # Markup in a query is text, never markup.
    await page.goto(server.base + "/search?q=" + "<b>nothing</b>")
    await expect(page.locator("li.hit")).to_have_count(0)
    await expect(page.locator("q")).to_have_text("<b>nothing</b>")
    await page.close()


async def _wait_for_kind(server: RunningServer, target_id: int, kind: str) -> list[dict]:
    """Poll the target's timeline (the API) until an event of ``kind`` is on it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_MS / 1000
    while loop.time() < deadline:
        status, _, body = await server.request("GET", f"/api/v1/targets/{target_id}")
        assert status == 200, body
        if any(event["kind"] == kind for event in body["timeline"]):
            return body["timeline"]
        await asyncio.sleep(0.5)
    raise AssertionError(f"target {target_id} never had a {kind!r} event: {body['timeline']}")


async def test_a_target_timeline_shows_a_change_and_a_takedown(
    server: RunningServer, context: BrowserContext
) -> None:
    async with ChangingPage() as watched:
        watched.show("The post as it was first seen.")
        status, _, target = await server.request(
            "POST",
            "/api/v1/targets",
            json={"url": watched.url(), "every": "2s", "allow_fast": True, "case": "watched"},
        )
        assert status == 201, target
        target_id = target["id"]
        await _wait_for_kind(server, target_id, "first")
        watched.show("The post after its author edited it.")
        await _wait_for_kind(server, target_id, "changed")
        watched.take_down("404")
        timeline = await _wait_for_kind(server, target_id, "takedown")
        status, _, _ = await server.request("POST", f"/api/v1/targets/{target_id}/pause")
        assert status == 200

    takedown = next(e for e in timeline if e["kind"] == "takedown")
    page = await context.new_page()
    await log_in(page, server)
    await page.get_by_role("link", name="Targets").click()
    row = page.locator("table.targets tr", has_text=str(target["url"]))
    await expect(row).to_have_class(re.compile(r"\balert\b"))
    await row.get_by_role("link").click()
    await expect(page).to_have_url(server.base + f"/targets/{target_id}")

    shown = page.locator("li.event.kind-takedown.highlight")
    await expect(shown.first).to_be_visible()
    await expect(shown.first).to_contain_text(takedown["summary"])
    await expect(
        shown.first.locator(f"a[href='/captures/{takedown['capture_id']}']")
    ).to_be_visible()
    # The change is highlighted too, and what changed in the text can be opened.
    changed = page.locator("li.event.kind-changed.highlight").first
    await expect(changed).to_be_visible()
    diff = changed.locator("details.diff")
    await diff.locator("summary").click()
    await expect(diff.locator(".diff-add")).to_contain_text("after its author edited it")
    await expect(diff.locator(".diff-del")).to_contain_text("as it was first seen")
    # Unchanged runs are listed, not highlighted.
    await expect(page.locator("li.event.kind-first")).not_to_have_class(re.compile("highlight"))

    # The target's forms: resume it, then remove it (after saying yes to the question).
    state = page.locator("dl.facts-inline .status").first
    await expect(state).to_have_text("paused")
    await page.get_by_role("button", name="Resume").click()
    await expect(state).to_have_text("active")
    questions: list[str] = []

    async def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    page.once("dialog", answer)
    await page.get_by_role("button", name="Remove").click()
    await expect(state).to_have_text("removed")
    assert questions and "for good" in questions[0]
    await expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    status, _, body = await server.request("GET", f"/api/v1/targets/{target_id}")
    assert status == 200 and body["state"] == "removed"
    await page.close()


async def test_pending_time_and_missing_replay_are_said_plainly(
    tmp_path: Path, site: TestSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TSA that does not answer leaves trusted time pending; without ReplayWeb.page
    installed, the replay page says how to install it instead of breaking."""
    monkeypatch.setenv("OSINT_CAPTURE_REPLAYWEBPAGE", str(tmp_path / "not-installed"))
    silent_tsa = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    running = RunningServer(tmp_path / "data", workers=1, extra_args=("--tsa", silent_tsa))
    await running.start()
    try:
        status, _, body = await running.request(
            "POST", "/api/v1/captures", json={"url": site.url("/gzip")}
        )
        assert status == 202, body
        outcome = await running.wait_done(body["id"])
        assert outcome["status"] == "complete", outcome
        cookie = await _login_cookie(running)
        async with aiohttp.ClientSession(headers=cookie) as http:
            async with http.get(f"{running.base}/captures/{body['id']}") as response:
                page = await response.text()
            assert response.status == 200
            trusted = page[page.index("<dt>Trusted time</dt>") :]
            assert "pending: next attempt" in trusted[: trusted.index("</dd>")]

            async with http.get(f"{running.base}/replay/{body['id']}") as response:
                page = await response.text()
            assert response.status == 200
            assert "ReplayWeb.page is not installed" in page
            assert "make setup" in page and "scripts/ensure-replay" in page
            assert "<replay-web-page" not in page
            async with http.get(f"{running.base}/replay/app/ui.js") as response:
                assert response.status == 404
                assert "ensure-replay" in (await response.json())["detail"]
    finally:
        await running.stop()
