"""Waiting on a page while the behaviours run: the network quiet, scripts bounded, the
browser still there.

The waits look at what the page does, not at the clock. Network activity is watched
per capture across the behaviours, so a quiet period already observed is not waited
for again; and the page's own count of what it has pending (timers, frames, fetches:
:mod:`capture.page_activity`) lets a page with nothing left to do settle after a
short floor instead of the whole quiet window.

Every wait also watches the browser: a page that crashed or closed, or a browser
that went away, raises :class:`BrowserGone` at once, instead of polling a recorder
that will never hear from the browser again.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from archive.errors import Unavailable
from capture import page_activity
from capture.exchange import Exchange
from capture.recorder import Recorder

#: The network counts as quiet after this long with nothing started, finished or in
#: flight (what Playwright and Puppeteer call network idle)...
QUIET_SECONDS = 0.5
#: ...or after this long, when the page also says it has nothing pending: no timer
#: due soon, no animation frame or idle callback waiting, no fetch in flight, its
#: document loaded (:mod:`capture.page_activity`). What the floor still covers: the
#: browser's events reach the recorder a little after they happen, and a handler
#: runs a little after the response it waits for.
SETTLE_FLOOR = 0.1
#: A script run in the page gets at least this long, even at the deadline.
EVALUATE_MIN = 1.0
#: How often the waits look at the recorder and the browser.
POLL = 0.025
#: A script that failed with "closed" or "crashed" is given this long for the browser's
#: state to show it went (Playwright can reject the script before it says so).
GONE_GRACE = 0.5
#: An idle wait looks at the network at least this long, even after quiet was already
#: observed: the browser's events reach the recorder a little after they happen.
IDLE_MIN_LOOK = 0.1


class BrowserGone(Unavailable):
    """The page crashed or closed, or the browser went away, while a behaviour ran."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def note(self, behaviour: str) -> str:
        return f"{self.what} during {behaviour}"


def now() -> float:
    return asyncio.get_running_loop().time()


# -- the page and the browser ------------------------------------------------------------


class _Watch:
    """One capture's view of its page and network, kept across the behaviours.

    ``changed_at`` is when the behaviours last saw the network change (a request
    appeared, or one in flight ended) or last scrolled the page; ``crashed`` is set by
    the page's own event; ``key`` names the page's count of what it has pending
    (:mod:`capture.page_activity`), when it was installed.
    """

    def __init__(self, page: Page, recorder: Recorder, key: str | None = None) -> None:
        self.crashed = False
        self.key = key
        self.signature: tuple[int, int] | None = None
        # Quiet is counted from the network's last change the recorder saw, often
        # well before the behaviours began (during the load), not from now.
        self.changed_at = recorder.last_activity or now()
        page.on("crash", self._on_crash)

    def _on_crash(self, _page: Page) -> None:
        self.crashed = True

    def touch(self) -> None:
        """The behaviours changed the page (a scroll): quiet counts from now."""
        self.changed_at = now()

    def observe(self, recorder: Recorder, since: int = 0) -> float:
        """Look at the network now; how long it has been quiet (0 while busy).

        Requests older than the ``since``-th are not waited for (a stream that never
        ends), though their ending still counts as a change."""
        in_flight = len(waiting_for(recorder))
        signature = (len(recorder.exchanges), in_flight)
        at = now()
        if self.signature is None:
            self.signature = signature
        elif signature != self.signature:
            self.signature, self.changed_at = signature, at
        # The recorder's own note of the last request started or written is exact; the
        # signature, looked at every poll, also sees a request that ended unwritten.
        self.changed_at = max(self.changed_at, recorder.last_activity or 0.0)
        if since:
            in_flight = len(waiting_for(recorder, since))
        return 0.0 if in_flight else at - self.changed_at


_watches: weakref.WeakKeyDictionary[Recorder, _Watch] = weakref.WeakKeyDictionary()


def watch_of(page: Page, recorder: Recorder) -> _Watch:
    """The capture's watch, made (and the crash listener added) on first use."""
    watch = _watches.get(recorder)
    if watch is None:
        watch = _watches[recorder] = _Watch(page, recorder)
    return watch


def watch_activity(page: Page, recorder: Recorder, key: str) -> None:
    """The page counts what it schedules under ``key`` (:mod:`capture.page_activity`,
    installed before it loaded): the waits can end after :data:`SETTLE_FLOOR` when
    it has nothing pending. A page not counted keeps the full :data:`QUIET_SECONDS`."""
    _watches[recorder] = _Watch(page, recorder, key)


def check_alive(page: Page, recorder: Recorder) -> None:
    """Raise :class:`BrowserGone` if the page or the browser can no longer answer."""
    if watch_of(page, recorder).crashed:
        raise BrowserGone("the page crashed (its renderer process died)")
    browser = page.context.browser
    if browser is not None and not browser.is_connected():
        raise BrowserGone("the browser closed or crashed")
    if recorder.connection.closed.is_set():
        raise BrowserGone("the browser closed or crashed (the recorder lost its connection)")
    if page.is_closed():
        raise BrowserGone("the page was closed")


async def evaluate(page: Page, recorder: Recorder, script: str, deadline: float) -> Any:
    """Run a script in the page, bounded: a page stuck in an endless loop never answers,
    and Playwright's ``evaluate`` has no timeout of its own. A browser that dies
    meanwhile ends the wait at the next look, not at the timeout."""
    stop = now() + max(EVALUATE_MIN, deadline - now())
    task = asyncio.ensure_future(page.evaluate(script))
    try:
        while not task.done():
            if now() >= stop:
                raise TimeoutError
            await asyncio.wait({task}, timeout=min(POLL, stop - now()))
            if not task.done():
                check_alive(page, recorder)
        if isinstance(task.exception(), PlaywrightError):
            await _explain(page, recorder, task.exception())
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_forget)


async def _explain(page: Page, recorder: Recorder, error: BaseException | None) -> None:
    """Raise :class:`BrowserGone` if a failed script failed because the browser went.

    Playwright can reject the script ("Target page, context or browser has been
    closed") a moment before it reports the disconnection, so such an error is given
    a short while for the browser's state to catch up; any other error is the page's.
    """
    message = str(error).lower()
    until = now() + (GONE_GRACE if "closed" in message or "crash" in message else 0.0)
    while True:
        check_alive(page, recorder)
        if now() >= until:
            return
        await asyncio.sleep(POLL)


def _forget(task: asyncio.Future[Any]) -> None:
    """Collect the outcome of an abandoned script, so it is not reported as lost."""
    if not task.cancelled():
        task.exception()


# -- the network ---------------------------------------------------------------------------


async def settled(page: Page, recorder: Recorder, since: int = 0) -> bool:
    """Whether the page has settled: nothing in flight, and quiet for :data:`QUIET_SECONDS`,
    or for :data:`SETTLE_FLOOR` when the page says it has nothing pending either.

    The page is asked only once the network has been quiet for the floor, so a busy
    page costs no script calls. ``since`` as for :meth:`_Watch.observe`.
    """
    watch = watch_of(page, recorder)
    quiet = watch.observe(recorder, since)
    if quiet >= QUIET_SECONDS:
        return True
    if quiet < SETTLE_FLOOR or watch.key is None or recorder.page_session is None:
        return False
    activity = await page_activity.ask(recorder.page_session, watch.key)
    return activity.idle


async def wait_quiet(page: Page, recorder: Recorder, stop: float) -> bool:
    """Wait until the page has settled (:func:`settled`); False at ``stop``.

    Quiet already observed by an earlier behaviour of the same capture counts, so
    this returns after a short look (:data:`IDLE_MIN_LOOK`) when the page was left
    settled; any request seen since, or a scroll, starts the count again.
    """
    look = now() + IDLE_MIN_LOOK
    while True:
        check_alive(page, recorder)
        if await settled(page, recorder) and now() >= look:
            return True
        if now() >= stop:
            return False
        await asyncio.sleep(min(POLL, max(0.0, stop - now())))


async def wait_for_news(page: Page, recorder: Recorder, stop: float, since: int) -> bool:
    """At the bottom of the page: wait until it has settled; True if it asked for more.

    Requests from before the ``since``-th (the load's, a stream that never ends) are
    not waited for; those the scroll started are, so that a feed's next batch has
    arrived, and a lazy image's handler has run, before the height is measured again.
    """
    seen = len(recorder.exchanges)
    while now() < stop:
        check_alive(page, recorder)
        if await settled(page, recorder, since):
            break
        await asyncio.sleep(POLL)
    return len(recorder.exchanges) > seen


def waiting_for(recorder: Recorder, since: int = 0) -> list[Exchange]:
    """Requests that keep the network busy (of those from the ``since``-th on). A media
    player holds its range requests open (it reads on demand), so audio and video never
    count: the media stage downloads them whole instead."""
    if since:
        return [e for e in recorder.exchanges[since:] if busy(e)]
    return [e for e in recorder.pending() if busy(e)]


def busy(exchange: Exchange) -> bool:
    media = exchange.resource_type == "Media" or (exchange.mime_type or "").startswith(
        ("video/", "audio/")
    )
    settled = exchange.body_whole and exchange.has_response  # nothing more can arrive
    return not exchange.written and not media and not settled
