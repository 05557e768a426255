"""What the capture does to the page before sealing it, each step bounded in time.

A behaviour is a small object with a name and ``run(page, recorder, deadline)``.
Each one stops at its own cap or at the capture's deadline, whichever comes
first, and reports whether it finished; the pipeline turns an unfinished
behaviour into a reason on the manifest.

The behaviours wait on what the page does, not on the clock: a scroll step
waits inside the page for it to paint the new position; the bottom of the page
is reached when the page has settled there (the requests the scroll started
finished, nothing pending) with no new request and no growth. How they wait (the
page settled, scripts bounded, a browser that goes) is ``page_waits.py``; a
browser or page that goes ends the behaviour at once with a note that says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from capture.cdp import CDPError
from capture.page_waits import (
    BrowserGone,
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
#: After a scroll step has painted, the page gets this long before the next: an
#: IntersectionObserver or ``loading=lazy`` has started its request by then (the
#: two frames the step waits for), so no more is needed.
STEP_GRACE = 0.0
#: The same on a page that listens for scroll events: older lazy loaders debounce
#: their scroll handler (100 to 150 ms is common) and look only once scrolling
#: pauses, so a shorter hold passes their images by (tests/test_behaviours.py has
#: one at 150 ms). Only such a page pays for it.
STEP_GRACE_SCROLL_LISTENERS = 0.2
#: At the bottom, the page is given at most this long to settle before the height is
#: measured again.
BOTTOM_SETTLE_CAP = 3.0
#: At the bottom, a page that keeps requesting without growing (polling, beacons) is
#: given this many quiet periods before the scroll counts as finished.
BOTTOM_ROUNDS = 3
#: A scroll never runs more steps than this (an endless feed is cut, and says so).
SCROLL_MAX_STEPS = 400
#: The steps run in the page, in one script, for at most this long before it reports
#: back (where it is, how tall the page is now).
SCROLL_CHUNK_MS = 2000
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
    """Wait until the page has settled (:func:`~capture.page_waits.settled`): nothing in
    flight, and the network quiet for :data:`~capture.page_waits.QUIET_SECONDS`, or for
    :data:`~capture.page_waits.SETTLE_FLOOR` when the page has nothing pending either.

    Quiet is measured from the last change the behaviours saw (a request started or
    ended, a scroll), so a request a timer started since then makes it wait again.
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
        scrolled_from = len(recorder.exchanges)  # the load's requests are not waited for here
        last_height = (await evaluate(page, recorder, _POSITION_JS, deadline))["height"]
        hold = STEP_GRACE_SCROLL_LISTENERS if await _listens_for_scroll(recorder) else STEP_GRACE
        held = (
            f"; each step held {hold * 1000:.0f} ms for the page's scroll listeners"
            if hold > STEP_GRACE
            else ""
        )
        rounds = 0  # looks at the bottom in a row that found no growth
        steps = 0
        while steps < SCROLL_MAX_STEPS:
            if now() >= deadline:
                return BehaviourResult(self.name, False, "time budget ran out while scrolling")
            position = await _scroll_down(page, recorder, deadline, hold, SCROLL_MAX_STEPS - steps)
            steps += position["steps"]
            if not _at_bottom(position) or position["height"] != last_height:
                rounds, last_height = 0, position["height"]
                continue
            stop = min(deadline, now() + BOTTOM_SETTLE_CAP)
            asked = await wait_for_news(page, recorder, stop, scrolled_from)
            height = (await evaluate(page, recorder, _POSITION_JS, deadline))["height"]
            if height != last_height:
                rounds, last_height = 0, height
                continue
            rounds += 1
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


async def _scroll_down(
    page: Page, recorder: Recorder, deadline: float, hold: float, steps: int
) -> dict[str, Any]:
    """Scroll down a screen at a time, inside the page, until the bottom (or ``steps``
    steps, or :data:`SCROLL_CHUNK_MS`); where it stopped, and how many steps it took.

    One script for many steps: each step waits for its two frames in the page, with
    no round trip to us between them. The requests the steps start load meanwhile;
    the wait at the bottom (and the last idle wait) sees them finish.
    """
    script = (
        _SCROLL_DOWN_JS.replace("__HOLD__", str(round(hold * 1000)))
        .replace("__STEPS__", str(steps))
        .replace("__CHUNK__", str(SCROLL_CHUNK_MS))
    )
    position = await evaluate(page, recorder, script, deadline)
    watch_of(page, recorder).touch()
    return dict(position)


async def _step(page: Page, recorder: Recorder, script: str, deadline: float) -> Any:
    """Run one scrolling script (it returns once the new position is painted); the
    page's quiet counts from then."""
    result = await evaluate(page, recorder, script, deadline)
    watch_of(page, recorder).touch()
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

_SCROLL_DOWN_JS = f"""async () => {{
  const el = document.scrollingElement || document.documentElement;
  const began = performance.now();
  let steps = 0, bottom = 0, height = 0;
  while (steps < __STEPS__) {{
    window.scrollBy({{top: Math.max(200, window.innerHeight * 0.9), behavior: "instant"}});
    steps += 1;
    {_FRAMES}
    if (__HOLD__ > 0) await new Promise((done) => setTimeout(done, __HOLD__));
    bottom = window.scrollY + window.innerHeight;
    height = el.scrollHeight;
    if (bottom >= height - 2 || performance.now() - began > __CHUNK__) break;
  }}
  return {{bottom, height, steps}};
}}"""

_TO_TOP_JS = f"""async () => {{
  window.scrollTo({{top: 0, behavior: "instant"}});
  {_FRAMES}
}}"""

#: The behaviours of every capture, in order.
#: No idle wait before the scroll: it starts at the load event, while the load's last
#: requests finish, and one wait at the end sees them (and the scroll's) through.
DEFAULT_BEHAVIOURS: tuple[Behaviour, ...] = (
    ScrollPage(),
    ReturnToTop(),
    WaitForNetworkIdle(),
)
