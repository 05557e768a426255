"""Records derived from the rendered page: screenshots, DOM, visible text, page info.

None of these alter a captured byte. Each is a separate ``resource`` record named
the way replay tools already know (``urn:view:``, ``urn:fullPage:``, ``urn:text:``,
``urn:pageinfo:``, as browsertrix-crawler writes them; ``urn:dom:`` for the DOM)
and says what it was derived from: the page's response record
(``WARC-Refers-To``), its URL and its date.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from playwright.async_api import Page
from warcio.recordloader import ArcWarcRecord

from archive.records import Payload, resource_record, warc_date
from capture import page_world, screenshots
from capture.cdp import CDPSession


@dataclass(frozen=True)
class PageRef:
    """The page a derived record comes from."""

    url: str
    record_id: str | None
    date: datetime | None


@dataclass
class Derived:
    """One derived record and the payload it carries (kept for the manifest's extra files)."""

    kind: str
    uri: str
    content_type: str
    payload: Payload
    description: str

    def record(self, page: PageRef, taken_at: datetime) -> ArcWarcRecord:
        extra = [("X-Osint-Derived", self.description)]
        if page.record_id:
            extra.append(("WARC-Refers-To", page.record_id))
        extra.append(("WARC-Refers-To-Target-URI", page.url))
        if page.date:
            extra.append(("WARC-Refers-To-Date", warc_date(page.date)))
        return resource_record(
            self.uri,
            content_type=self.content_type,
            payload=self.payload,
            date=taken_at,
            extra=extra,
        )


async def screenshot_view(session: CDPSession, url: str) -> Derived:
    """The first screen, as a reader landing on the page sees it."""
    png = await screenshots.viewport_png(session)
    return Derived(
        "screenshot-view",
        f"urn:view:{url}",
        "image/png",
        await asyncio.to_thread(Payload, png),  # hashed off the event loop
        "screenshot of the viewport (PNG) after behaviours, scrolled to the top",
    )


async def screenshot_full_page(session: CDPSession, url: str) -> Derived:
    """The whole height of the page in one image (up to Chromium's limit, said if reached)."""
    png, height, shown = await screenshots.full_page_png(session)
    cut = f"; only the top {shown} px of the page's {height} px" if shown < height else ""
    return Derived(
        "screenshot",
        f"urn:fullPage:{url}",
        "image/png",
        await asyncio.to_thread(Payload, png),  # hashed off the event loop
        f"screenshot of the full page height (PNG) after behaviours{cut}",
    )


async def rendered_dom(page: Page, url: str) -> Derived:
    """The DOM after scripts and behaviours, serialized as HTML (not the served bytes)."""
    html = await page.content()
    return Derived(
        "dom",
        f"urn:dom:{url}",
        "text/html; charset=utf-8",
        Payload(html.encode("utf-8")),
        "rendered DOM serialized as HTML after behaviours",
    )


#: The visible text: body's innerText (the document element's where there is no body).
TEXT_JS = """(() => {
  const root = document.body || document.documentElement;
  return root && typeof root.innerText === "string" ? root.innerText : "";
})()"""


async def visible_text(session: CDPSession, frame_id: str, url: str, timeout: float) -> Derived:
    """What a reader sees as text, in UTF-8 whatever the page's own charset was; read in
    a world of its own, so a page that redefines ``innerText`` does not write it."""
    text = await page_world.evaluate(
        session, frame_id, TEXT_JS, world="osint-capture-text", timeout=timeout
    )
    return Derived(
        "text",
        f"urn:text:{url}",
        "text/plain; charset=utf-8",
        Payload(str(text or "").encode("utf-8")),
        "visible text of the rendered page (innerText, read in an isolated world), UTF-8",
    )


def page_info(url: str, info: dict[str, Any]) -> Derived:
    """Everything known about the page load, as JSON."""
    data = json.dumps(info, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    return Derived(
        "pageinfo",
        f"urn:pageinfo:{url}",
        "application/json",
        Payload(data),
        "page info: URLs, redirects, status, resources, failures, requests that are not "
        "HTTP, console errors, whether the content could be seen",
    )
