"""Blank pages made ahead: a fresh context, its page and a recording connection, ready.

Opening a context, its page and the recorder's own DevTools connection, and asking
the page's target id, take a tenth of a second or more of every capture, before
the page is even asked for. A browser shared by the captures of a server keeps a
few of them made ahead, one for each capture that took one, so that the next
capture starts on one at once.

Each blank is used once: a capture gets a context no page has ever run in, and the
context is closed when the capture ends, so cookies, storage and cache never
cross from one capture to another. A blank that was made ahead has only loaded
``about:blank``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass

from playwright.async_api import BrowserContext, Page

from capture import page_activity
from capture.browser import Browser, target_id_of
from capture.cdp import CDPConnection

log = logging.getLogger(__name__)

#: Blanks kept ready at most, whatever the number of captures at once.
MAX_SPARES = 4


@dataclass(frozen=True)
class Blank:
    """A context never used, its one page, a recording connection and the page's target id.

    ``activity_key`` names the page's count of what it has pending
    (:mod:`capture.page_activity`), installed before anything loads in it.
    """

    context: BrowserContext
    page: Page
    connection: CDPConnection
    target_id: str
    activity_key: str

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()
        await self.connection.close()


async def make_blank(browser: Browser) -> Blank:
    """A new blank, made now."""
    context = await browser.new_context()
    connection: CDPConnection | None = None
    try:
        connection = await browser.connect_recorder()
        page = await context.new_page()
        key = page_activity.new_key()
        await page_activity.install(page, key)
        return Blank(context, page, connection, await target_id_of(page), key)
    except BaseException:
        with contextlib.suppress(Exception):
            await context.close()
        if connection is not None:
            await connection.close()
        raise


class BlankPool:
    """The blanks made ahead for one shared browser."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._spares: list[asyncio.Task[Blank]] = []

    async def take(self) -> Blank:
        """A blank: one made ahead if one is ready, else one made now; and another is
        started for the next capture."""
        failed = [
            t for t in self._spares if t.done() and (t.cancelled() or t.exception() is not None)
        ]
        ready = next((t for t in self._spares if t.done() and t not in failed), None)
        for task in (*failed, ready):
            if task is not None:
                self._spares.remove(task)
        self._make_ahead()
        return ready.result() if ready is not None else await make_blank(self.browser)

    def _make_ahead(self) -> None:
        if not self.browser.alive or len(self._spares) >= MAX_SPARES:
            return
        if not self._spares:
            self.browser.before_close(self.close)
        task = asyncio.ensure_future(make_blank(self.browser))
        task.add_done_callback(_quiet)
        self._spares.append(task)

    async def close(self) -> None:
        """Close the blanks made ahead (the browser is going)."""
        spares, self._spares = self._spares, []
        for task in spares:
            task.cancel()
        for task in spares:
            with contextlib.suppress(BaseException):
                await (await task).close()


def _quiet(task: asyncio.Task[Blank]) -> None:
    """A blank that could not be made is no one's failure (the browser went): noted."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("a blank page could not be made ahead: %s", task.exception())


_pools: weakref.WeakKeyDictionary[Browser, BlankPool] = weakref.WeakKeyDictionary()


def pool_of(browser: Browser) -> BlankPool:
    """The pool of a shared browser, made on first use."""
    pool = _pools.get(browser)
    if pool is None:
        pool = _pools[browser] = BlankPool(browser)
    return pool
