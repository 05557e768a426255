"""What the capture does to the page before sealing it, each step bounded in time.

A behaviour is a small object with a name and ``run(page, recorder, deadline)``.
Each one stops at its own cap or at the capture's deadline, whichever comes
first, and reports whether it finished; the pipeline turns an unfinished
behaviour into a reason on the manifest.

The behaviours wait on what the page does, not on the clock: a scroll step
waits for the page to paint the new position and for the requests that step
started; the bottom of the page is reached when one quiet period passes with no
new request and no growth. How they wait (the network quiet, scripts bounded, a
browser that goes) is ``page_waits.py``; a browser or page that goes ends the
behaviour at once with a note that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from capture.cdp import CDPError
from capture.page_waits import (
    POLL,
    BrowserGone,
    busy,
    check_alive,
    evaluate,
    now,
    wait_for_news,
    wait_quiet,
    waiting_for,
    watch_of,
)
from capture.recorder import Recorder

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


class WaitForNetworkIdle:
    """Wait until the network has been quiet for :data:`~capture.page_waits.QUIET_SECONDS`.

    Quiet is measured from the last change the behaviours saw (a request started or
    ended), so a wait that follows a quiet scroll returns after a short look,
    while a request a timer started since then makes it wait a whole period again.
    """

    name = "wait-for-network-idle"

    def __init__(self, cap: float = IDLE_CAP) -> None:
        self.cap = cap

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        stop = min(deadline, now() + self.cap)
        try:
            if await wait_quiet(page, recorder, stop):
                return BehaviourResult(self.name, True)
        except BrowserGone as gone:
            return BehaviourResult(self.name, False, gone.note(self.name))
        waiting = waiting_for(recorder)
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
        last_height = (await evaluate(page, recorder, _POSITION_JS, deadline))["height"]
        hold = STEP_GRACE_SCROLL_LISTENERS if await _listens_for_scroll(recorder) else STEP_GRACE
        rounds = 0  # looks at the bottom in a row that found no growth
        for _ in range(SCROLL_MAX_STEPS):
            if now() >= deadline:
                return BehaviourResult(self.name, False, "time budget ran out while scrolling")
            position = await _step(page, recorder, _SCROLL_STEP_JS, deadline, hold)
            if not _at_bottom(position) or position["height"] != last_height:
                rounds, last_height = 0, position["height"]
                continue
            stop = min(deadline, now() + STEP_REQUEST_CAP)
            asked = await wait_for_news(page, recorder, stop)
            height = (await evaluate(page, recorder, _POSITION_JS, deadline))["height"]
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


# -- scrolling ------------------------------------------------------------------------------


async def _step(
    page: Page, recorder: Recorder, script: str, deadline: float, hold: float = STEP_GRACE
) -> Any:
    """Run one scrolling script, then wait for what it set off.

    Requests the step started get ``hold`` seconds to appear, then up to
    :data:`STEP_REQUEST_CAP` to finish; older requests (a stream that never ends)
    do not hold the step up, the idle waits see to them.
    """
    seen = len(recorder.exchanges)
    result = await evaluate(page, recorder, script, deadline)
    grace = min(deadline, now() + hold)
    stop = min(deadline, now() + STEP_REQUEST_CAP)
    while now() < stop:
        check_alive(page, recorder)
        watch_of(page, recorder).observe(recorder)
        started = recorder.exchanges[seen:]
        if now() >= grace and not any(busy(e) for e in started):
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
