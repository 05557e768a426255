"""What the capture does to the page before sealing it, each step bounded in time.

A behaviour is a small object with a name and ``run(page, recorder, deadline)``.
Each one stops at its own cap or at the capture's deadline, whichever comes
first, and reports whether it finished; the pipeline turns an unfinished
behaviour into a reason on the manifest.

The behaviours wait on what the page does, not on the clock: a scroll step
waits for the page to paint the new position and for the requests that step
started; the bottom of the page is reached when one quiet period passes with no
new request and no growth. Network activity is watched per capture across the
behaviours, so a quiet period already observed is not waited for again.

Every wait also watches the browser: a page that crashed or closed, or a browser
that went away, ends the behaviour at once with a note that says so, instead of
polling a recorder that will never hear from the browser again.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from archive.errors import Unavailable
from capture.cdp import CDPError
from capture.exchange import Exchange
from capture.recorder import Recorder

#: The network counts as quiet after this long with nothing started, finished or in
#: flight (what Playwright and Puppeteer call network idle).
QUIET_SECONDS = 0.5
#: One idle wait never takes longer than this, even with budget to spare.
IDLE_CAP = 15.0
#: After a scroll step has painted, requests it started get this long to show up:
#: an IntersectionObserver or ``loading=lazy`` starts its request within a frame or
#: two (the browser's events reach the recorder over another connection).
STEP_GRACE = 0.05
#: The same on a page that listens for scroll events: older lazy loaders debounce
#: their scroll handler (100 to 150 ms is common) and look only once scrolling
#: pauses, so a shorter hold passes their images by (tests/test_behaviours.py has
#: one at 150 ms). Only such a page pays for it.
STEP_GRACE_SCROLL_LISTENERS = 0.2
#: Requests one scroll step started are waited for at most this long.
STEP_REQUEST_CAP = 3.0
#: At the bottom, a page that keeps requesting without growing (polling, beacons) is
#: given this many quiet periods before the scroll counts as finished.
BOTTOM_ROUNDS = 3
#: A scroll never runs more steps than this (an endless feed is cut, and says so).
SCROLL_MAX_STEPS = 400
#: A script run in the page gets at least this long, even at the deadline.
EVALUATE_MIN = 1.0
#: How often the waits look at the recorder and the browser.
POLL = 0.05
#: A script that failed with "closed" or "crashed" is given this long for the browser's
#: state to show it went (Playwright can reject the script before it says so).
GONE_GRACE = 0.5
#: An idle wait looks at the network at least this long, even after quiet was already
#: observed: the browser's events reach the recorder a little after they happen.
IDLE_MIN_LOOK = 0.1
#: Two frames are awaited after a scroll, but not longer than this (a hidden page
#: paints none).
FRAMES_CAP_MS = 250


@dataclass(frozen=True)
class BehaviourResult:
    name: str
    finished: bool
    note: str = ""


class Behaviour(Protocol):
    name: str

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult: ...


class BrowserGone(Unavailable):
    """The page crashed or closed, or the browser went away, while a behaviour ran."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def note(self, behaviour: str) -> str:
        return f"{self.what} during {behaviour}"


def _now() -> float:
    return asyncio.get_running_loop().time()


class WaitForNetworkIdle:
    """Wait until the network has been quiet for :data:`QUIET_SECONDS`.

    Quiet is measured from the last change the behaviours saw (a request started or
    ended), so a wait that follows a quiet scroll returns after a short look,
    while a request a timer started since then makes it wait a whole period again.
    """

    name = "wait-for-network-idle"

    def __init__(self, cap: float = IDLE_CAP) -> None:
        self.cap = cap

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        stop = min(deadline, _now() + self.cap)
        try:
            if await _wait_quiet(page, recorder, stop):
                return BehaviourResult(self.name, True)
        except BrowserGone as gone:
            return BehaviourResult(self.name, False, gone.note(self.name))
        waiting = _waiting_for(recorder)
        return BehaviourResult(
            self.name, False, f"network not idle after waiting; {len(waiting)} request(s) in flight"
        )


class ScrollPage:
    """Scroll to the bottom a screen at a time, so lazy images and feed batches load.

    Each step scrolls, waits for two frames (the page has painted the new position
    and its intersection observers have run) and for the requests the step started.
    At the bottom, with the height unchanged since the step before, the page gets
    one quiet period to react (a feed asking for its next batch a little late) and
    what it asked for is awaited; the scroll is finished when such a period passes
    with no new request and no growth, or after :data:`BOTTOM_ROUNDS` of them
    without growth (a page that polls forever).
    """

    name = "scroll-page"

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        return await _scrolling(self.name, self._scroll(page, recorder, deadline))

    async def _scroll(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        last_height = (await _evaluate(page, recorder, _POSITION_JS, deadline))["height"]
        hold = STEP_GRACE_SCROLL_LISTENERS if await _listens_for_scroll(recorder) else STEP_GRACE
        rounds = 0  # looks at the bottom in a row that found no growth
        for _ in range(SCROLL_MAX_STEPS):
            if _now() >= deadline:
                return BehaviourResult(self.name, False, "time budget ran out while scrolling")
            position = await _step(page, recorder, _SCROLL_STEP_JS, deadline, hold)
            if not _at_bottom(position) or position["height"] != last_height:
                rounds, last_height = 0, position["height"]
                continue
            stop = min(deadline, _now() + STEP_REQUEST_CAP)
            asked = await _wait_for_news(page, recorder, stop)
            height = (await _evaluate(page, recorder, _POSITION_JS, deadline))["height"]
            if height != last_height:
                rounds, last_height = 0, height
                continue
            rounds += 1
            held = (
                f"; each step held {hold * 1000:.0f} ms for the page's scroll listeners"
                if hold > STEP_GRACE
                else ""
            )
            if not asked:
                return BehaviourResult(self.name, True, f"{height} px scrolled{held}")
            if rounds >= BOTTOM_ROUNDS:
                return BehaviourResult(
                    self.name,
                    True,
                    f"{height} px scrolled; the page kept requesting at the bottom{held}",
                )
        return BehaviourResult(self.name, False, f"stopped after {SCROLL_MAX_STEPS} scroll steps")


class ReturnToTop:
    """Scroll back to the top, so screenshots and replay start where a reader starts."""

    name = "return-to-top"

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        return await _scrolling(self.name, self._to_top(page, recorder, deadline))

    async def _to_top(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        await _step(page, recorder, _TO_TOP_JS, deadline)
        return BehaviourResult(self.name, True)


_BUSY = "the page did not answer a script in time (its main thread is busy)"


async def _scrolling(name: str, scroll: Coroutine[Any, Any, BehaviourResult]) -> BehaviourResult:
    """Run a scrolling behaviour; how it can fail (the browser went, the page refused
    or did not answer) becomes its unfinished result, said in words."""
    try:
        return await scroll
    except BrowserGone as gone:
        return BehaviourResult(name, False, gone.note(name))
    except PlaywrightError as exc:
        return BehaviourResult(name, False, f"page refused scrolling: {exc.message}")
    except TimeoutError:
        return BehaviourResult(name, False, _BUSY)


# -- the page and the browser ------------------------------------------------------------


class _Watch:
    """One capture's view of its page and network, kept across the behaviours.

    ``changed_at`` is when the behaviours last saw the network change (a request
    appeared, or one in flight ended); ``crashed`` is set by the page's own event.
    """

    def __init__(self, page: Page, recorder: Recorder) -> None:
        self.crashed = False
        self.signature: tuple[int, int] | None = None
        # Quiet is counted from the network's last change the recorder saw, often
        # well before the behaviours began (during the load), not from now.
        self.changed_at = recorder.last_activity or _now()
        page.on("crash", self._on_crash)

    def _on_crash(self, _page: Page) -> None:
        self.crashed = True

    def observe(self, recorder: Recorder) -> float:
        """Look at the network now; how long it has been quiet (0 while busy)."""
        busy = len(_waiting_for(recorder))
        signature = (len(recorder.exchanges), busy)
        now = _now()
        if self.signature is None:
            self.signature = signature
        elif signature != self.signature:
            self.signature, self.changed_at = signature, now
        return 0.0 if busy else now - self.changed_at


_watches: weakref.WeakKeyDictionary[Recorder, _Watch] = weakref.WeakKeyDictionary()


def _watch(page: Page, recorder: Recorder) -> _Watch:
    """The capture's watch, made (and the crash listener added) on first use."""
    watch = _watches.get(recorder)
    if watch is None:
        watch = _watches[recorder] = _Watch(page, recorder)
    return watch


def _check_alive(page: Page, recorder: Recorder) -> None:
    """Raise :class:`BrowserGone` if the page or the browser can no longer answer."""
    if _watch(page, recorder).crashed:
        raise BrowserGone("the page crashed (its renderer process died)")
    browser = page.context.browser
    if browser is not None and not browser.is_connected():
        raise BrowserGone("the browser closed or crashed")
    if recorder.connection.closed.is_set():
        raise BrowserGone("the browser closed or crashed (the recorder lost its connection)")
    if page.is_closed():
        raise BrowserGone("the page was closed")


async def _evaluate(page: Page, recorder: Recorder, script: str, deadline: float) -> Any:
    """Run a script in the page, bounded: a page stuck in an endless loop never answers,
    and Playwright's ``evaluate`` has no timeout of its own. A browser that dies
    meanwhile ends the wait at the next look, not at the timeout."""
    stop = _now() + max(EVALUATE_MIN, deadline - _now())
    task = asyncio.ensure_future(page.evaluate(script))
    try:
        while not task.done():
            if _now() >= stop:
                raise TimeoutError
            await asyncio.wait({task}, timeout=min(POLL, stop - _now()))
            if not task.done():
                _check_alive(page, recorder)
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
    until = _now() + (GONE_GRACE if "closed" in message or "crash" in message else 0.0)
    while True:
        _check_alive(page, recorder)
        if _now() >= until:
            return
        await asyncio.sleep(POLL)


def _forget(task: asyncio.Future[Any]) -> None:
    """Collect the outcome of an abandoned script, so it is not reported as lost."""
    if not task.cancelled():
        task.exception()


async def _step(
    page: Page, recorder: Recorder, script: str, deadline: float, hold: float = STEP_GRACE
) -> Any:
    """Run one scrolling script, then wait for what it set off.

    Requests the step started get ``hold`` seconds to appear, then up to
    :data:`STEP_REQUEST_CAP` to finish; older requests (a stream that never ends)
    do not hold the step up, the idle waits see to them.
    """
    seen = len(recorder.exchanges)
    result = await _evaluate(page, recorder, script, deadline)
    grace = min(deadline, _now() + hold)
    stop = min(deadline, _now() + STEP_REQUEST_CAP)
    while _now() < stop:
        _check_alive(page, recorder)
        _watch(page, recorder).observe(recorder)
        started = recorder.exchanges[seen:]
        if _now() >= grace and not any(_busy(e) for e in started):
            break
        await asyncio.sleep(POLL)
    return result


async def _listens_for_scroll(recorder: Recorder) -> bool:
    """Whether the page has scroll (or wheel) listeners on its window or document,
    which is where a scroll handler of the page's own scrolling must sit.

    Asked of the browser (``DOMDebugger.getEventListeners``), not of the page's
    scripts, which can hide their listeners from each other. When the browser
    cannot say, the answer is yes: the slower, safer hold.
    """
    session = recorder.page_session
    if session is None:
        return True
    group = "osint-capture-behaviours"
    try:
        for target in ("window", "document"):
            found = await session.send(
                "Runtime.evaluate", {"expression": target, "objectGroup": group}, timeout=2.0
            )
            listeners = await session.send(
                "DOMDebugger.getEventListeners",
                {"objectId": found["result"]["objectId"]},
                timeout=2.0,
            )
            if any(e.get("type") in _SCROLL_EVENTS for e in listeners.get("listeners", [])):
                return True
        return False
    except (CDPError, TimeoutError, KeyError):
        return True
    finally:
        with contextlib.suppress(CDPError, TimeoutError):
            await session.send("Runtime.releaseObjectGroup", {"objectGroup": group}, timeout=2.0)


_SCROLL_EVENTS = {"scroll", "wheel", "mousewheel", "touchmove"}


def _at_bottom(position: dict[str, Any]) -> bool:
    return bool(position["bottom"] >= position["height"] - 2)


# -- the network ---------------------------------------------------------------------------


async def _wait_quiet(page: Page, recorder: Recorder, stop: float) -> bool:
    """Wait until the network has been quiet for :data:`QUIET_SECONDS`; False at ``stop``.

    Quiet already observed by an earlier behaviour of the same capture counts, so
    this returns after a short look (:data:`IDLE_MIN_LOOK`) when the scroll ended
    quiet; any request seen since resets it.
    """
    watch = _watch(page, recorder)
    look = _now() + IDLE_MIN_LOOK
    while True:
        _check_alive(page, recorder)
        if watch.observe(recorder) >= QUIET_SECONDS and _now() >= look:
            return True
        if _now() >= stop:
            return False
        await asyncio.sleep(min(POLL, max(0.0, stop - _now())))


async def _wait_for_news(page: Page, recorder: Recorder, stop: float) -> bool:
    """Give the page one quiet period to ask for more; True if it did.

    What it asked for is then waited for (until ``stop``), so that a feed's next
    batch has arrived before the scroll looks at the height again. Requests from
    before the call (a stream that never ends) do not count.
    """
    watch = _watch(page, recorder)
    seen = len(recorder.exchanges)
    until = min(stop, _now() + QUIET_SECONDS)
    while _now() < until:
        _check_alive(page, recorder)
        watch.observe(recorder)
        if len(recorder.exchanges) > seen:
            break
        await asyncio.sleep(POLL)
    else:
        return False
    while _now() < stop and any(_busy(e) for e in recorder.exchanges[seen:]):
        _check_alive(page, recorder)
        watch.observe(recorder)
        await asyncio.sleep(POLL)
    return True


def _waiting_for(recorder: Recorder) -> list[Exchange]:
    """Requests that keep the network busy. A media player holds its range requests open
    (it reads on demand), so audio and video never count: the media stage downloads them
    whole instead."""
    return [e for e in recorder.pending() if _busy(e)]


def _busy(exchange: Exchange) -> bool:
    media = exchange.resource_type == "Media" or (exchange.mime_type or "").startswith(
        ("video/", "audio/")
    )
    settled = exchange.body_whole and exchange.has_response  # nothing more can arrive
    return not exchange.written and not media and not settled


# Each script scrolls at once (even on a page that asks for smooth scrolling), then
# waits for two frames: by then the new position is painted and the page's
# intersection observers (lazy images, feed sentinels) have been told. A page that
# paints no frames (hidden) is not waited for longer than FRAMES_CAP_MS.
_FRAMES = f"""await new Promise((done) => {{
    const timer = setTimeout(done, {FRAMES_CAP_MS});
    requestAnimationFrame(() => requestAnimationFrame(() => {{ clearTimeout(timer); done(); }}));
  }});"""

_POSITION_JS = """() => {
  const el = document.scrollingElement || document.documentElement;
  return {bottom: window.scrollY + window.innerHeight, height: el.scrollHeight};
}"""

_SCROLL_STEP_JS = f"""async () => {{
  const el = document.scrollingElement || document.documentElement;
  window.scrollBy({{top: Math.max(200, window.innerHeight * 0.9), behavior: "instant"}});
  {_FRAMES}
  return {{bottom: window.scrollY + window.innerHeight, height: el.scrollHeight}};
}}"""

_TO_TOP_JS = f"""async () => {{
  window.scrollTo({{top: 0, behavior: "instant"}});
  {_FRAMES}
}}"""

#: The behaviours of every capture, in order.
DEFAULT_BEHAVIOURS: tuple[Behaviour, ...] = (
    WaitForNetworkIdle(),
    ScrollPage(),
    ReturnToTop(),
    WaitForNetworkIdle(),
)
