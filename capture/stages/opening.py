"""The browser stage: a browser (the shared one, or our own), a fresh context and page,
the WARC's warcinfo record, and the recorder attached before navigation.

:class:`Opened` is what the page's stages work on; closing it closes the context and
the recorder's connection, however the capture ends, before the failure path runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from playwright.async_api import BrowserContext, Page

from archive.records import warcinfo_record
from archive.timeutil import CLOCK_SOURCE, rfc3339
from archive.warcfile import WarcFile
from capture.browser import DEFAULT_VIEWPORT, Browser
from capture.cdp import CDPConnection
from capture.page_pool import Blank, make_blank, pool_of
from capture.page_waits import watch_activity
from capture.recorder import Recorder
from capture.stages.results import Prepared
from capture.stages.run import Run
from capture.sysinfo import host_name, ip_addresses, operating_system, software_versions


class BrowserLease:
    """The browser a capture runs in: the one it was given, or one it launches (and closes)."""

    def __init__(self, given: Browser | None) -> None:
        self._browser = given
        self._own = given is None

    async def blank(self) -> Blank:
        """A fresh context and page: from the shared browser's blanks made ahead, or made
        now in a browser of our own (which no other capture will use)."""
        browser = await self.get()
        return await (make_blank(browser) if self._own else pool_of(browser).take())

    async def get(self) -> Browser:
        if self._browser is None:
            self._browser = await Browser.launch()
        return self._browser

    async def close(self) -> None:
        """Close the browser if this capture launched it; a shared one stays."""
        if self._own and self._browser is not None:
            await self._browser.close()


@dataclass
class PageLog:
    """What the page reports while the capture runs: console errors, downloads started."""

    console_errors: list[str] = field(default_factory=list)
    #: Files the page started to download (URL, suggested name); the browser refuses them.
    downloads: list[tuple[str, str]] = field(default_factory=list)

    def console(self, kind: str, text: str) -> None:
        if kind in ("error", "assert"):
            self.console_errors.append(text)


@dataclass(frozen=True)
class Opened:
    """browser: the page and what records it, open until the capture is sealed or fails."""

    browser: Browser
    context: BrowserContext
    connection: CDPConnection
    page: Page
    recorder: Recorder
    warc: WarcFile
    log: PageLog

    async def __aenter__(self) -> Opened:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await _close(self.context, self.connection)


async def _close(context: BrowserContext, connection: CDPConnection) -> None:
    with contextlib.suppress(Exception):
        await context.close()
    await connection.close()


async def open_page(run: Run, browsers: BrowserLease, prepared: Prepared) -> Opened:
    """A fresh, isolated context and page; the recorder attached to it before navigation."""
    request = run.request
    browser = await browsers.get()
    blank = await browsers.blank()
    context, connection, page = blank.context, blank.connection, blank.page
    try:
        cookies = request.as_seen.cookies if request.as_seen else None
        if cookies:
            # The investigator's session, for this capture's context only.
            await context.add_cookies(_playwright_cookies(cookies))
        log = PageLog()
        page.on("console", lambda msg: log.console(msg.type, msg.text))
        page.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
        page.on("download", lambda d: log.downloads.append((d.url, d.suggested_filename)))
        # In a thread: the software versions and the interfaces' addresses are read from disk.
        warcinfo = await asyncio.to_thread(_warcinfo_fields, run, browser)
        await prepared.warc.write_async(warcinfo_record(prepared.warc_name, warcinfo))
        recorder = Recorder(
            connection,
            prepared.warc,
            deadline=run.page_deadline,
            on_progress=run.progress,
            redact_cookies=bool(cookies),
            spool_dir=prepared.spool_dir,
        )
        await recorder.attach(blank.target_id)
        watch_activity(page, recorder, blank.activity_key)
    except BaseException:
        await blank.close()
        raise
    return Opened(browser, context, connection, page, recorder, prepared.warc, log)


def _playwright_cookies(cookies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cookies as chrome.cookies gives them, in the form Playwright takes."""
    same_site = {"no_restriction": "None", "lax": "Lax", "strict": "Strict"}
    converted = []
    for cookie in cookies:
        item: dict[str, Any] = {
            "name": str(cookie["name"]),
            "value": str(cookie["value"]),
            "domain": str(cookie["domain"]),
            "path": str(cookie.get("path") or "/"),
            "secure": bool(cookie.get("secure", False)),
            "httpOnly": bool(cookie.get("httpOnly", False)),
        }
        if cookie.get("sameSite") in same_site:
            item["sameSite"] = same_site[cookie["sameSite"]]
        if cookie.get("expirationDate"):
            item["expires"] = float(cookie["expirationDate"])
        converted.append(item)
    return converted


def _warcinfo_fields(run: Run, browser: Browser) -> list[tuple[str, str]]:
    request = run.request
    versions = software_versions(browser.info.version)
    fields = [
        ("software", f"osint-capture/{versions['osint-capture']}"),
        ("format", "WARC File Format 1.1"),
        (
            "conformsTo",
            "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        ),
        ("capture-id", run.capture_id),
        ("requested-url", request.url),
        ("started-at", rfc3339(run.started_at)),
        ("clock", CLOCK_SOURCE),
        ("browser", f"Chromium {browser.info.version}"),
        ("browser-executable", browser.info.executable),
        ("user-agent", browser.info.user_agent),
        ("viewport", f"{DEFAULT_VIEWPORT['width']}x{DEFAULT_VIEWPORT['height']}"),
        ("playwright", versions["playwright"]),
        ("warcio", versions["warcio"]),
        ("python", versions["python"]),
        ("os", operating_system()),
        ("hostname", host_name()),
        ("operator", request.operator or ""),
        ("case", request.case or ""),
        ("note", request.note or ""),
    ]
    fields.extend(("ip", address) for address in ip_addresses())
    return fields
