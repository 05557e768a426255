"""The browser extension, end to end: a real Chromium with the unpacked extension
loaded, driving the real server (`osint-capture serve`) through the extension's
own pages, as an investigator does.

The test browser is the investigator's browser: the extension's options page is
filled in through its form, captures are started with the popup's button, and what
the popup shows is checked against the server's API and the sealed files on disk.
The popup is opened as a tab (``popup.html?tab=<id>`` names the tab it captures),
because a headless browser has no toolbar to click. The toolbar click itself,
which grants the extension ``activeTab`` on the page and so allows the screenshot,
is made with the DevTools ``Extensions.triggerAction`` command.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, Worker, async_playwright

from archive.catalog import CATALOG_NAME, Catalog
from archive.people import Directory
from capture.browser import Browser, find_chromium
from tests.reading_site import ReadingSite
from tests.site import TestSite
from tests.warcs import read_records, warcio_check

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "extension"
CLI = str(Path(sys.executable).with_name("osint-capture"))

#: The session cookie value that opens /members on the test site.
SECRET = "letmein"
OPERATOR = "Extension Tester"
#: What the options page and the popup say of a token the server refuses (401).
REFUSED_TOKEN = "This token was revoked or is unknown: ask for a new one."
#: A capture of the test site takes seconds; this is the most the popup is waited for.
CAPTURE_WAIT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@dataclass
class Server:
    base: str
    data: Path
    token: str

    async def get(self, path: str) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.base + path, headers={"Authorization": f"Bearer {self.token}"}) as r,
        ):
            return r.status, await r.json()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """`osint-capture serve` on a free port, with its own data directory."""
    root = tmp_path_factory.mktemp("extension-server")
    data = root / "data"
    port = _free_port()
    with open(root / "server.log", "ab") as log:
        process = await asyncio.create_subprocess_exec(
            CLI, "serve", "--port", str(port), "--data", str(data), stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if process.returncode is not None:
                    log_text = (root / "server.log").read_text(errors="replace")
                    raise RuntimeError(f"the server exited with {process.returncode}:\n{log_text}")
                try:
                    async with http.get(base + "/api/v1/health") as response:
                        if response.status in (200, 401):
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not answer within 60 s")
        token = (await _cli("token", "--data", str(data))).strip()
        assert token
        yield Server(base, data, token)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass
class Extension:
    context: BrowserContext
    id: str

    def url(self, page: str) -> str:
        return f"chrome-extension://{self.id}/{page}"

    async def worker(self) -> Worker:
        """The extension's service worker (the current one, should Chromium have restarted it)."""
        for _ in range(200):
            for worker in reversed(self.context.service_workers):
                if worker.url == self.url("background.js"):
                    return worker
            await asyncio.sleep(0.05)
        raise AssertionError("the extension's service worker is not running")

    async def tab_id(self, url: str) -> int:
        """The chrome.tabs id of the tab showing ``url``."""
        worker = await self.worker()
        ids = await worker.evaluate(
            "url => chrome.tabs.query({})"
            ".then(tabs => tabs.filter(t => t.url === url).map(t => t.id))",
            url,
        )
        assert len(ids) == 1, f"expected one tab on {url}, found {ids}"
        return ids[0]

    async def click_toolbar_button(self, page: Page) -> None:
        """What the user's click on the extension's toolbar button does for ``page``'s tab:
        the popup opens and the extension gets ``activeTab`` on that page."""
        assert self.context.browser is not None
        cdp = await self.context.browser.new_browser_cdp_session()
        try:
            targets = await cdp.send("Target.getTargets", {"filter": [{"type": "tab"}]})
            tabs = [t for t in targets["targetInfos"] if t["url"] == page.url]
            assert len(tabs) == 1, targets
            await cdp.send(
                "Extensions.triggerAction", {"id": self.id, "targetId": tabs[0]["targetId"]}
            )
        finally:
            await cdp.detach()

    async def storage(self) -> dict[str, Any]:
        worker = await self.worker()
        return await worker.evaluate("chrome.storage.local.get(null)")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def extension(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Extension]:
    profile = tmp_path_factory.mktemp("extension-profile")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            headless=True,
            executable_path=str(find_chromium(extensions=True)),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--disable-extensions-except={EXTENSION}",
                f"--load-extension={EXTENSION}",
            ],
        )
        try:
            worker = next(
                (w for w in context.service_workers if w.url.endswith("/background.js")), None
            )
            if worker is None:
                worker = await context.wait_for_event("serviceworker", timeout=30_000)
            extension_id = worker.url.split("/")[2]
            yield Extension(context, extension_id)
        finally:
            await context.close()


@dataclass
class Options:
    """What the options page said after Test connection: the outcome and the result's
    words, and who the server says the token is (the ``#paired`` line: its outcome,
    ``ok``, ``refused`` or ``unknown``, and its words)."""

    outcome: str
    result: str
    paired_outcome: str
    paired: str


async def _pair(extension: Extension, server: str, token: str) -> Options:
    """Fill in the options page and press Test connection."""
    page = await extension.context.new_page()
    try:
        await page.goto(extension.url("options.html"))
        await page.fill("#server", server)
        await page.fill("#token", token)
        await page.fill("#operator", OPERATOR)
        await page.click("#test")
        result = page.locator('#result[data-outcome="ok"], #result[data-outcome="error"]')
        await result.wait_for(timeout=30_000)
        paired = page.locator("#paired")
        return Options(
            await result.get_attribute("data-outcome") or "",
            await result.inner_text(),
            await paired.get_attribute("data-outcome") or "",
            await paired.text_content() or "",
        )
    finally:
        await page.close()


async def _options(extension: Extension, server: str, token: str) -> tuple[str, str]:
    """Fill in the options page, press Test connection; the outcome and what it says."""
    said = await _pair(extension, server, token)
    return said.outcome, said.result


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def paired(extension: Extension, server: Server) -> Extension:
    """The extension set up through its options page, as a user pairs it."""
    outcome, text = await _options(extension, server.base, server.token)
    assert outcome == "ok", text
    assert "Connected" in text and server.base in text
    return extension


async def test_options_page_says_plainly_what_is_wrong(
    extension: Extension, server: Server
) -> None:
    try:
        said = await _pair(extension, server.base, "not-the-token")
        assert said.outcome == "error" and "did not accept the token (401)" in said.result, said
        assert (said.paired_outcome, said.paired) == ("refused", REFUSED_TOKEN), said

        outcome, text = await _options(extension, server.base, "")
        assert outcome == "error" and "Pair the extension" in text, text

        # A token belongs to the first extension that presents it: one another
        # extension took first is refused to this one, with the way out in the message.
        with Catalog.open(server.data / CATALOG_NAME) as catalog:
            owner = catalog.tokens()[0].user
            _, theirs = Directory(catalog).create_token(owner, "someone-elses-browser")
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                server.base + "/api/v1/health",
                headers={
                    "Authorization": f"Bearer {theirs}",
                    "Origin": "chrome-extension://someoneelsesextensionidxxxxxxxxx",
                },
            ) as response,
        ):
            assert response.status == 200
        outcome, text = await _options(extension, server.base, theirs)
        assert outcome == "error" and "refused this extension (403 Forbidden)" in text, text
        assert "belongs to another extension" in text and "token create" in text

        nowhere = f"http://127.0.0.1:{_free_port()}"
        outcome, text = await _options(extension, nowhere, server.token)
        assert outcome == "error", text
        assert f"The capture server is not running at {nowhere}. Start it with `make run`." in text
    finally:
        outcome, text = await _options(extension, server.base, server.token)
    assert outcome == "ok" and "Connected" in text, text
    settings = await extension.storage()
    assert settings["server"] == server.base and settings["token"] == server.token
    assert settings["operator"] == OPERATOR


async def test_paired_as_a_named_person_whose_captures_name_them(
    extension: Extension, server: Server, site: TestSite
) -> None:
    """A token made for amira's laptop (`token create`) pairs the extension as her: the
    options page and the popup say so, her capture into her case names her in custody,
    and once the token is revoked the extension says so at once."""
    data = ["--data", str(server.data)]
    await _cli("user", "add", "amira", "--role", "investigator", *data)
    await _cli("case", "create", "amira-case", "--member", "amira", *data)
    secret = (await _cli("token", "create", "--user", "amira", "--name", "laptop", *data)).strip()
    assert secret.startswith("ocp_")
    try:
        said = await _pair(extension, server.base, secret)
        assert said.outcome == "ok", said
        assert (said.paired_outcome, said.paired) == ("ok", "Paired as amira (laptop)"), said
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.base + "/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
            as response,
        ):  # fmt: skip
            assert response.status == 200
            me = await response.json()
        assert me == {
            "user": "amira", "role": "investigator", "device": "laptop", "cases": ["amira-case"],
        }  # fmt: skip

        page = await extension.context.new_page()
        await page.goto(site.url("/rich"))
        popup = await _capture_through_popup(
            extension, page, case="amira-case", note="amira's capture", cookies=False
        )
        assert await popup.inner_text("#paired") == "Paired as amira (laptop)"
        capture_id = await popup.get_attribute("#result", "data-id")
        await popup.close()
        await page.close()
        lines = (server.data / "custody.jsonl").read_text().splitlines()
        [sealed] = [
            event
            for event in map(json.loads, lines)
            if event["action"] == "captured" and event["captures"] == [capture_id]
        ]
        assert sealed["actor"] == "amira", sealed
        assert sealed["details"]["device"] == "laptop", sealed

        await _cli("token", "revoke", "laptop", "--user", "amira", *data)
        said = await _pair(extension, server.base, secret)
        assert said.outcome == "error" and "(401)" in said.result, said
        assert (said.paired_outcome, said.paired) == ("refused", REFUSED_TOKEN), said
        popup = await extension.context.new_page()
        await popup.goto(extension.url("popup.html"))
        await popup.wait_for_selector('#paired[data-outcome="refused"]')
        assert await popup.inner_text("#paired") == REFUSED_TOKEN
        assert await popup.is_disabled("#capture")
        await popup.close()
    finally:
        said = await _pair(extension, server.base, server.token)
        assert said.outcome == "ok", said


async def _capture_through_popup(
    extension: Extension, page: Page, *, case: str, note: str, cookies: bool
) -> Page:
    """Click the toolbar button on ``page``, then capture it with the popup's form."""
    tab_id = await extension.tab_id(page.url)
    await extension.click_toolbar_button(page)
    popup = await extension.context.new_page()
    await popup.goto(extension.url(f"popup.html?tab={tab_id}"))
    assert await popup.inner_text("#target-url") == page.url
    # The defaults: what the browser shows is sent, cookies are not.
    assert await popup.is_checked("#as-seen")
    assert not await popup.is_checked("#cookies")
    await popup.fill("#case", case)
    await popup.fill("#note", note)
    if cookies:
        await popup.check("#cookies")
    # The popup opens on the last capture; the new one replaces it.
    previous = await popup.get_attribute("#progress", "data-key")
    await popup.click("#capture")
    await popup.wait_for_function(
        """previous => {
            const progress = document.getElementById("progress");
            return progress.dataset.key !== previous
                && ["done", "failed", "error"].includes(progress.dataset.state);
        }""",
        arg=previous,
        timeout=CAPTURE_WAIT_MS,
    )
    state = await popup.get_attribute("#progress", "data-state")
    assert state == "done", await popup.inner_text("#progress")
    return popup


async def _check_sealed(server: Server, popup: Page) -> tuple[str, dict[str, Any]]:
    """The popup's SHA-256 is the manifest's, per the API and per the file on disk."""
    shown = (await popup.input_value("#sha256")).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", shown), shown
    capture_id = await popup.get_attribute("#result", "data-id")
    assert capture_id
    link = await popup.get_attribute("#link", "href")
    assert link == f"{server.base}/api/v1/captures/{capture_id}"

    status, detail = await server.get(f"/api/v1/captures/{capture_id}")
    assert status == 200, detail
    assert detail["status"] == "complete", detail["reasons"]
    assert detail["manifest_sha256"] == shown
    manifest_path = server.data / "captures" / capture_id / "manifest.json"
    assert hashlib.sha256(manifest_path.read_bytes()).hexdigest() == shown
    manifest = json.loads(manifest_path.read_bytes())
    assert manifest == detail["manifest"]
    assert await popup.inner_text("#status") == "complete"
    # The progress came from the event stream: it counted the recorded exchanges.
    assert int(await popup.inner_text("#records")) > 0
    return capture_id, manifest


def _as_seen_records(warc: Path, url: str) -> dict[str, Any]:
    records = {r.uri: r for r in read_records(warc)}
    view = records.get(f"urn:as-seen:view:{url}")
    dom = records.get(f"urn:as-seen:dom:{url}")
    assert view is not None and dom is not None, sorted(u for u in records if u)
    for record in (view, dom):
        assert record.type == "resource"
        assert record.header("X-Osint-Provided-By"), record.headers
    assert view.header("Content-Type") == "image/png"
    assert view.payload is not None and view.payload.startswith(b"\x89PNG\r\n\x1a\n")
    assert dom.payload is not None and dom.payload.startswith(b"<!doctype html>")
    return records


async def test_capture_this_tab_from_the_popup(
    paired: Extension, server: Server, site: TestSite
) -> None:
    page = await paired.context.new_page()
    await page.goto(site.url("/rich"))
    popup = await _capture_through_popup(
        paired, page, case="extension-case", note="seen on the tip line", cookies=False
    )
    capture_id, manifest = await _check_sealed(server, popup)
    assert manifest["case"] == "extension-case"
    assert manifest["note"] == "seen on the tip line"
    assert manifest["operator"] == OPERATOR

    warc = server.data / "captures" / capture_id / manifest["warc"]
    assert warcio_check(warc).returncode == 0
    records = _as_seen_records(warc, page.url)
    assert b"RICH-PAGE-MARKER" in records[f"urn:as-seen:dom:{page.url}"].payload

    worker = await paired.worker()
    assert await worker.evaluate("chrome.action.getBadgeText({})") == "✓"

    # Reopening the popup shows the last capture again.
    shown = await popup.input_value("#sha256")
    await popup.close()
    again = await paired.context.new_page()
    await again.goto(paired.url(f"popup.html?tab={await paired.tab_id(page.url)}"))
    await again.wait_for_selector('#progress[data-state="done"]')
    assert await again.input_value("#sha256") == shown
    # The case now exists on the server, and the popup offers it.
    await again.wait_for_selector('#cases option[value="extension-case"]', state="attached")
    await again.close()
    await page.close()


async def test_logged_in_capture_lends_cookies_for_that_capture_only(
    paired: Extension, server: Server, site: TestSite
) -> None:
    await paired.context.add_cookies(
        [{"name": "session", "value": SECRET, "domain": "127.0.0.1", "path": "/"}]
    )
    page = await paired.context.new_page()
    await page.goto(site.url("/members"))
    assert "MEMBERS-ONLY-MARKER" in await page.inner_text("body")

    popup = await _capture_through_popup(
        paired, page, case="extension-case", note="behind the login", cookies=True
    )
    assert "1 cookie for this capture only" in await popup.inner_text("#as-seen-note")
    assert not await popup.is_checked("#cookies"), "the cookies box must not stay ticked"
    capture_id, manifest = await _check_sealed(server, popup)

    warc = server.data / "captures" / capture_id / manifest["warc"]
    assert warcio_check(warc).returncode == 0
    records = _as_seen_records(warc, page.url)
    # The server's own browser saw the members-only page: the cookie was lent to it.
    text = records.get(f"urn:text:{page.url}")
    assert text is not None and text.payload is not None
    assert b"MEMBERS-ONLY-MARKER" in text.payload
    assert b"LOGIN-WALL-MARKER" not in text.payload
    assert b"MEMBERS-ONLY-MARKER" in records[f"urn:as-seen:dom:{page.url}"].payload

    # The cookie's value is kept nowhere: not in the WARC, not in the catalog, not
    # in any file of the data directory, not in the extension's storage.
    assert SECRET.encode() not in gzip.decompress(warc.read_bytes())
    catalog = server.data / "catalog.sqlite3"
    assert catalog.exists()
    for path in sorted(p for p in server.data.rglob("*") if p.is_file()):
        content = path.read_bytes()
        if path.name.endswith(".gz"):
            content = gzip.decompress(content)
        assert SECRET.encode() not in content, f"{path} holds the cookie's value"
    assert SECRET not in json.dumps(await paired.storage())
    await popup.close()
    await page.close()


async def test_popup_refuses_pages_that_are_not_http(paired: Extension) -> None:
    # A page the extension may see the address of (without the "tabs" permission it
    # sees no other page's address unless it has access to that site).
    page = await paired.context.new_page()
    await page.goto(paired.url("options.html"))
    tab_id = await paired.tab_id(page.url)
    popup = await paired.context.new_page()
    await popup.goto(paired.url(f"popup.html?tab={tab_id}"))
    banner = popup.locator("#banner")
    await banner.wait_for()
    assert await banner.inner_text() == "This page can't be captured (only http and https pages)."
    assert await popup.is_disabled("#capture")
    await popup.close()
    await page.close()


async def test_a_capture_goes_on_when_the_browser_stops_the_worker(
    paired: Extension, server: Server, site: TestSite
) -> None:
    """Chromium stops idle extension workers; a capture being followed is picked up
    again when the worker starts (the open popup wakes it) and ends as usual."""
    page = await paired.context.new_page()
    await page.goto(site.url("/feed"))
    tab_id = await paired.tab_id(page.url)
    await paired.click_toolbar_button(page)
    popup = await paired.context.new_page()
    await popup.goto(paired.url(f"popup.html?tab={tab_id}"))
    devtools = await paired.context.new_cdp_session(popup)
    statuses: list[str] = []
    devtools.on(
        "ServiceWorker.workerVersionUpdated",
        lambda event: statuses.extend(v["runningStatus"] for v in event["versions"]),
    )
    await devtools.send("ServiceWorker.enable")
    previous = await popup.get_attribute("#progress", "data-key")
    await popup.click("#capture")
    # The server has accepted the capture (its link is shown): stop the worker.
    await popup.wait_for_function(
        """previous => document.getElementById("progress").dataset.key !== previous
            && !document.getElementById("link").hidden""",
        arg=previous,
    )
    await devtools.send("ServiceWorker.stopAllWorkers")
    assert await popup.get_attribute("#progress", "data-state") == "running"
    await popup.wait_for_function(
        """() => ["done", "failed", "error"].includes(
            document.getElementById("progress").dataset.state)""",
        timeout=CAPTURE_WAIT_MS,
    )
    assert "stopped" in statuses and statuses[-1] == "running", statuses
    assert await popup.get_attribute("#progress", "data-state") == "done"
    await _check_sealed(server, popup)
    await devtools.detach()
    await popup.close()
    await page.close()


async def test_without_the_toolbar_click_nothing_is_sent_and_the_popup_says_why(
    paired: Extension, server: Server, site: TestSite
) -> None:
    """No activeTab on the page (the toolbar button was not clicked there): the
    screenshot is not allowed, so nothing goes to the server and the popup says so."""
    _, before = await server.get("/api/v1/captures")
    page = await paired.context.new_page()
    await page.goto(site.url("/final"))
    popup = await paired.context.new_page()
    await popup.goto(paired.url(f"popup.html?tab={await paired.tab_id(page.url)}"))
    previous = await popup.get_attribute("#progress", "data-key")
    await popup.click("#capture")
    await popup.wait_for_function(
        "previous => document.getElementById('progress').dataset.key !== previous"
        " && document.getElementById('progress').dataset.state === 'error'",
        arg=previous,
    )
    error = await popup.inner_text("#error")
    assert error.startswith("What your browser shows could not be collected"), error
    assert "Nothing was sent" in error
    _, after = await server.get("/api/v1/captures")
    assert len(after["captures"]) == len(before["captures"])
    assert await (await paired.worker()).evaluate("chrome.action.getBadgeText({})") == "!"
    await popup.close()
    await page.close()


async def test_menus_and_shortcut_are_registered(extension: Extension) -> None:
    """The shortcut got its suggested keys (a key Chromium keeps for itself is
    silently left unassigned), and the context menu entries exist."""
    worker = await extension.worker()
    commands = await worker.evaluate("chrome.commands.getAll()")
    shortcut = next(c for c in commands if c["name"] == "capture-tab")
    assert shortcut["shortcut"] == "Alt+Shift+S", commands
    # Creating an entry with an existing id fails: that is how to tell they exist.
    for menu in ("capture-link", "capture-page"):
        error = await worker.evaluate(
            """id => new Promise(resolve => chrome.contextMenus.create(
                {id, title: "again", contexts: ["page"]},
                () => resolve(chrome.runtime.lastError ? chrome.runtime.lastError.message : null),
            ))""",
            menu,
        )
        assert error and "duplicate" in error.lower(), (menu, error)


async def test_event_stream_framing(extension: Extension) -> None:
    """lib/sse.js, run in the extension's own page: the same events whatever way
    the stream is cut into chunks (a CRLF split across two included)."""
    text = (
        ': comment\r\nid: 1\r\nevent: state\r\ndata: {"stage": "load"}\r\n\r\n'
        'event: resource\ndata: {"recorded": 3,\ndata:  "bytes": 10}\n\n'
        "event: ignored-without-data\n\n"
        "data: plain\r\rdata: unfinished"
    )
    streamed = 'event: done\ndata: {"status": "complete", "x": "é"}\n\n'
    page = await extension.context.new_page()
    await page.goto(extension.url("options.html"))
    events = await page.evaluate(
        """async ([text, streamed]) => {
            const { EventParser, readEvents } = await import("./lib/sse.js");
            const results = [];
            for (const size of [1, 2, 3, 7, text.length]) {
                const parser = new EventParser();
                const got = [];
                for (let i = 0; i < text.length; i += size) {
                    got.push(...parser.push(text.slice(i, i + size)));
                }
                got.push(...parser.end());
                results.push(got);
            }
            const bytes = new TextEncoder().encode(streamed);
            const stream = new ReadableStream({
                start(controller) {
                    for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
                    controller.close();
                },
            });
            const got = [];
            for await (const event of readEvents(stream)) got.push(event);
            results.push(got);
            return results;
        }""",
        [text, streamed],
    )
    await page.close()
    expected = [
        {"event": "state", "data": '{"stage": "load"}'},
        {"event": "resource", "data": '{"recorded": 3,\n "bytes": 10}'},
        {"event": "message", "data": "plain"},
    ]
    for got in events[:-1]:
        assert got == expected
    assert events[-1] == [{"event": "done", "data": '{"status": "complete", "x": "é"}'}]


async def _badge(extension: Extension) -> tuple[str, list[int]]:
    worker = await extension.worker()
    text = await worker.evaluate("chrome.action.getBadgeText({})")
    colour = await worker.evaluate("chrome.action.getBadgeBackgroundColor({})")
    return text, colour


async def _wait_for_badge(extension: Extension, wanted: str) -> list[int]:
    """Poll the service worker's badge until it reads ``wanted``; its colour."""
    seen = None
    for _ in range(300):
        try:
            seen, colour = await _badge(extension)
        except Exception:  # the worker restarting between two looks
            seen = None
        if seen == wanted:
            return colour
        await asyncio.sleep(0.1)
    raise AssertionError(f"the badge reads {seen!r}, not {wanted!r}")


async def test_badge_counts_unseen_alerts_and_mark_seen_clears_it(
    paired: Extension, server: Server, site: TestSite
) -> None:
    """Timeline events written to the server's own catalog (as its scheduler writes
    them) become a count on the toolbar badge, listed in the popup, until the
    investigator marks them seen there."""
    from datetime import timedelta

    from archive.catalog import Catalog
    from archive.timeutil import rfc3339, utc_now

    later = rfc3339(utc_now() + timedelta(days=365))
    catalog = Catalog.open(server.data / "catalog.sqlite3")
    try:
        # Paused and due in a year: the server never runs them during the test. Of no
        # case, so the person the extension is paired as (the owner) must have started
        # watching them: their badge counts only their own.
        owner = min((u for u in catalog.users() if u.role == "admin"), key=lambda u: u.created_at)
        post, profile = (
            catalog.add_target(
                site.url(path),
                interval_seconds=3600,
                case=None,
                operator=None,
                note=None,
                next_run_at=later,
                collector=owner.name,
            )
            for path in ("/rich", "/final")
        )
        for target in (post, profile):
            catalog.set_target_state(target.id, "paused")
        catalog.add_timeline_event(
            post.id, "first", "First capture of this target.", capture_id=None
        )
        catalog.add_timeline_event(
            post.id, "changed", "Text changed (1 line added, 0 removed).", capture_id=None
        )
        catalog.add_timeline_event(
            profile.id, "restored", "Restored: HTTP 404 -> 200.", capture_id=None
        )
        catalog.add_timeline_event(
            post.id, "unchanged", "Unchanged since the previous capture.", capture_id=None
        )

        # The worker asks the server whenever it starts: stop it, wake it with a message.
        options = await paired.context.new_page()
        await options.goto(paired.url("options.html"))
        devtools = await paired.context.new_cdp_session(options)
        await devtools.send("ServiceWorker.enable")
        await devtools.send("ServiceWorker.stopAllWorkers")
        await options.evaluate("chrome.runtime.sendMessage({type: 'hello'})")
        colour = await _wait_for_badge(paired, "2")
        assert colour == [0x6A, 0x3D, 0x9A, 255], colour  # changes only: not the takedown red
        alarm = await (await paired.worker()).evaluate("chrome.alarms.get('osint-capture-alerts')")
        assert alarm and alarm["periodInMinutes"] == 1, alarm
        await devtools.detach()
        await options.close()

        takedown = catalog.add_timeline_event(
            profile.id, "takedown", "Taken down: HTTP 200 -> 451.", capture_id=None
        )
    finally:
        catalog.close()

    # Opening the popup asks again: three alerts, newest first, each linking to the
    # target's page on the dashboard; a takedown turns the badge red.
    page = await paired.context.new_page()
    await page.goto(site.url("/rich"))
    popup = await paired.context.new_page()
    await popup.goto(paired.url(f"popup.html?tab={await paired.tab_id(page.url)}"))
    await popup.wait_for_selector('#alerts[data-count="3"]')
    colour = await _wait_for_badge(paired, "3")
    assert colour == [0xB0, 0x2A, 0x1F, 255], colour
    items = popup.locator("#alerts-list li")
    assert await items.count() == 3
    assert [await items.nth(i).get_attribute("data-kind") for i in range(3)] == [
        "takedown",
        "restored",
        "changed",
    ]
    newest = items.nth(0)
    assert await newest.locator(".kind").inner_text() == "Taken down"
    assert await newest.locator(".summary").inner_text() == "Taken down: HTTP 200 -> 451."
    link = newest.locator("a")
    assert await link.inner_text() == site.url("/final")
    assert await link.get_attribute("href") == f"{server.base}/targets/{profile.id}"
    assert await items.nth(2).locator("a").get_attribute("href") == (
        f"{server.base}/targets/{post.id}"
    )

    # Mark seen: the latest id is kept, the list empties, the count leaves the badge.
    await popup.click("#alerts-seen")
    await popup.wait_for_selector('#alerts[data-count="0"]', state="attached")
    assert await popup.locator("#alerts").is_hidden()
    stored = await paired.storage()
    assert stored["alertsSeen"] == {server.base: takedown.id}
    for _ in range(100):
        text, _ = await _badge(paired)
        if not text.isdigit():
            break
        await asyncio.sleep(0.1)
    assert text in ("", "✓", "!"), text  # back to the last capture's mark, if any

    # The server counts from the id it is given; it keeps no mark of its own.
    status, body = await server.get(f"/api/v1/alerts?after={takedown.id}")
    assert status == 200 and body == {"alerts": [], "count": 0, "latest": None}
    status, body = await server.get("/api/v1/alerts")
    assert status == 200 and body["count"] == 3 and body["latest"] == takedown.id
    assert [a["kind"] for a in body["alerts"]] == ["changed", "restored", "takedown"]
    assert body["alerts"][0]["url"] == site.url("/rich")
    assert set(body["alerts"][0]) == {
        "id",
        "target_id",
        "url",
        "kind",
        "summary",
        "capture_id",
        "created_at",
    }
    status, body = await server.get("/api/v1/alerts?after=last")
    assert status == 400 and "after" in body["detail"]
    await popup.close()
    await page.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reading_site(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ReadingSite]:
    async with ReadingSite(tmp_path_factory.mktemp("extension-reading-site"), browser) as running:
        yield running


async def test_popup_asks_for_ocr_and_follows_the_reading_to_its_end(
    paired: Extension, server: Server, reading_site: ReadingSite
) -> None:
    """The capture asks for OCR; the popup follows the analysis run its done names."""
    page = await paired.context.new_page()
    await page.goto(reading_site.url("/poster-page"))
    tab_id = await paired.tab_id(page.url)
    await paired.click_toolbar_button(page)
    popup = await paired.context.new_page()
    await popup.goto(paired.url(f"popup.html?tab={tab_id}"))
    assert not await popup.is_checked("#read-ocr")  # unticked: the server's default
    await popup.check("#read-ocr")
    # Every line the popup shows about the reading, as it changes.
    await popup.evaluate(
        """() => {
            window.seen = [];
            const line = document.getElementById("analysis");
            new MutationObserver(() => window.seen.push(line.textContent))
                .observe(line, {childList: true, characterData: true, subtree: true});
        }"""
    )
    await popup.click("#capture")
    await popup.wait_for_selector(
        '#analysis[data-state="done"], #analysis[data-state="failed"],'
        ' #analysis[data-state="error"]',
        timeout=CAPTURE_WAIT_MS,
    )
    text = await popup.inner_text("#analysis")
    assert re.fullmatch(r"Read: \d+ readings \(machine draft, not evidence\)", text), text
    assert int(text.split()[1]) >= 2  # the poster image and the screenshot
    seen = await popup.evaluate("window.seen")
    assert any(s.startswith("Reading (machine draft):") for s in seen), seen
    capture_id = await popup.get_attribute("#result", "data-id")
    status, runs = await server.get(f"/api/v1/captures/{capture_id}/analyses")
    assert status == 200
    assert [(r["number"], r["status"]) for r in runs["analyses"]] == [(1, "done")]
    assert runs["analyses"][0]["requested"]["ocr"] is True
    assert runs["analyses"][0]["requested"]["transcribe"] is False
    await popup.close()
    await page.close()
