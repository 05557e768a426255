"""The capture benchmark's baseline: what a person's script does to keep a page, in
one browser tab.

One context and one page, reused for every page in turn: ``goto`` until the network
is idle, scroll to the bottom a screen at a time with a short pause so lazy images
load, then a full-page screenshot. Same Chromium as the product
(:meth:`capture.browser.Browser.launch`). Nothing is kept, sealed or recorded, so
this is the least a capture of the same pages can cost.

What the tab saw is checked after each page's time is taken (outside it): every URL
the page loads answered 200, and the script's late block is in the page, so the
baseline is known to have waited for as much of the page as the capture keeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page, Response

from bench.site import BenchSite, late_text, site_items
from capture.browser import Browser

#: Milliseconds a browser call of the baseline may take.
TIMEOUT_MS = 60_000
#: Milliseconds the script waits after each screen it scrolls (lazy images load).
SCROLL_PAUSE_MS = 100
#: Screens scrolled at most (a page that keeps growing is not scrolled forever).
MAX_SCREENS = 100

_SCROLL = """async ([pause, screens]) => {
  const root = document.scrollingElement || document.documentElement;
  for (let i = 0; i < screens; i++) {
    if (window.scrollY + window.innerHeight >= root.scrollHeight - 1) break;
    window.scrollBy(0, window.innerHeight);
    await new Promise((done) => setTimeout(done, pause));
  }
}"""


@dataclass
class BareRun:
    """Seconds for each page in order, and what the tab missed of each (by URL)."""

    seconds: list[float] = field(default_factory=list)
    missed: dict[str, list[str]] = field(default_factory=dict)
    checked: int = 0


async def _keep(page: Page, url: str) -> None:
    """The person's script for one page: load, scroll to the bottom, screenshot."""
    await page.goto(url, wait_until="networkidle", timeout=TIMEOUT_MS)
    await page.evaluate(_SCROLL, [SCROLL_PAUSE_MS, MAX_SCREENS])
    await page.screenshot(full_page=True, timeout=TIMEOUT_MS)


async def _missed(page: Page, site: BenchSite, n: str, answered: set[str]) -> list[str]:
    """What of ``/site/{n}`` the tab did not get: a URL not answered 200, the late text."""
    missing = [name for name, path in site_items(n).items() if site.url(path) not in answered]
    text = await page.evaluate("() => document.body.innerText")
    if late_text(n) not in str(text):
        missing.append("late text in the page")
    return missing


async def bare_tab(site: BenchSite, pages: list[str], warm: str) -> BareRun:
    """Each of ``/site/{n}`` for ``pages`` kept in one tab, in turn, after ``/site/{warm}``
    (not counted: the browser's first page costs more than any other)."""
    run = BareRun()
    browser = await Browser.launch()
    try:
        context = await browser.new_context()
        page = await context.new_page()
        answered: set[str] = set()

        def on_response(response: Response) -> None:
            if response.status == 200:
                answered.add(response.url)

        page.on("response", on_response)
        await _keep(page, site.url(f"/site/{warm}"))
        for n in pages:
            answered.clear()
            started = time.perf_counter()
            await _keep(page, site.url(f"/site/{n}"))
            run.seconds.append(time.perf_counter() - started)
            missing = await _missed(page, site, n, answered)
            run.checked += len(site_items(n)) + 1
            if missing:
                run.missed[site.url(f"/site/{n}")] = missing
        await context.close()
    finally:
        await browser.close()
    return run


def summary(run: BareRun) -> dict[str, Any]:
    """The run as results.json keeps it."""
    return {
        "seconds": [round(s, 3) for s in run.seconds],
        "items_checked": run.checked,
        "missed": run.missed,
    }
