"""What the capture does to the page before sealing it, each step bounded in time.

A behaviour is a small object with a name and ``run(page, recorder, deadline)``.
Each one stops at its own cap or at the capture's deadline, whichever comes
first, and reports whether it finished; the pipeline turns an unfinished
behaviour into a reason on the manifest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from capture.exchange import Exchange
from capture.recorder import Recorder

#: The network counts as quiet after this long with no request in flight.
QUIET_SECONDS = 1.0
#: One idle wait never takes longer than this, even with budget to spare.
IDLE_CAP = 15.0
#: Time given to a page to react to a scroll step (lazy images, feed batches).
SCROLL_SETTLE = 0.35
#: A scroll stops after this many steps at the bottom with no growth in height.
SCROLL_STABLE_STEPS = 4
#: A scroll never runs more steps than this (an endless feed is cut, and says so).
SCROLL_MAX_STEPS = 400
#: A script run in the page gets at least this long, even at the deadline.
EVALUATE_MIN = 1.0


@dataclass(frozen=True)
class BehaviourResult:
    name: str
    finished: bool
    note: str = ""


class Behaviour(Protocol):
    name: str

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult: ...


def _now() -> float:
    return asyncio.get_running_loop().time()


class WaitForNetworkIdle:
    """Wait until no request has been in flight for :data:`QUIET_SECONDS`."""

    name = "wait-for-network-idle"

    def __init__(self, cap: float = IDLE_CAP) -> None:
        self.cap = cap

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        stop = min(deadline, _now() + self.cap)
        quiet_since: float | None = None
        while _now() < stop:
            if _waiting_for(recorder):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = _now()
            elif _now() - quiet_since >= QUIET_SECONDS:
                return BehaviourResult(self.name, True)
            await asyncio.sleep(0.1)
        waiting = [e.url for e in _waiting_for(recorder)]
        return BehaviourResult(
            self.name, False, f"network not idle after waiting; {len(waiting)} request(s) in flight"
        )


class ScrollPage:
    """Scroll to the bottom a screen at a time, so lazy images and feed batches load."""

    name = "scroll-page"

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        stable = 0
        last_height = -1
        for _step in range(SCROLL_MAX_STEPS):
            if _now() >= deadline:
                return BehaviourResult(self.name, False, "time budget ran out while scrolling")
            seen = len(recorder.exchanges)
            try:
                position = await _evaluate(page, _SCROLL_STEP_JS, deadline)
            except PlaywrightError as exc:
                return BehaviourResult(self.name, False, f"page refused scrolling: {exc.message}")
            except TimeoutError:
                return BehaviourResult(self.name, False, _BUSY)
            await asyncio.sleep(SCROLL_SETTLE)
            await _wait_for_new_requests(recorder, seen, min(deadline, _now() + 3.0))
            at_bottom = position["bottom"] >= position["height"] - 2
            if at_bottom and position["height"] == last_height:
                stable += 1
                if stable >= SCROLL_STABLE_STEPS:
                    return BehaviourResult(self.name, True, f"{position['height']} px scrolled")
            else:
                stable = 0
            last_height = position["height"]
        return BehaviourResult(self.name, False, f"stopped after {SCROLL_MAX_STEPS} scroll steps")


class ReturnToTop:
    """Scroll back to the top, so screenshots and replay start where a reader starts."""

    name = "return-to-top"

    async def run(self, page: Page, recorder: Recorder, deadline: float) -> BehaviourResult:
        try:
            await _evaluate(page, "window.scrollTo(0, 0)", deadline)
        except PlaywrightError as exc:
            return BehaviourResult(self.name, False, f"page refused scrolling: {exc.message}")
        except TimeoutError:
            return BehaviourResult(self.name, False, _BUSY)
        await asyncio.sleep(min(SCROLL_SETTLE, max(0.0, deadline - _now())))
        return BehaviourResult(self.name, True)


_BUSY = "the page did not answer a script in time (its main thread is busy)"


async def _evaluate(page: Page, script: str, deadline: float) -> Any:
    """Run a script in the page, bounded: a page stuck in an endless loop never answers,
    and Playwright's ``evaluate`` has no timeout of its own."""
    return await asyncio.wait_for(page.evaluate(script), max(EVALUATE_MIN, deadline - _now()))


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


async def _wait_for_new_requests(recorder: Recorder, seen: int, stop: float) -> None:
    """Wait for requests a scroll step started (older, endless ones do not hold it up)."""
    while _now() < stop and any(_busy(e) for e in recorder.exchanges[seen:]):
        await asyncio.sleep(0.1)


_SCROLL_STEP_JS = """() => {
  const el = document.scrollingElement || document.documentElement;
  window.scrollBy(0, Math.max(200, window.innerHeight * 0.9));
  return {bottom: window.scrollY + window.innerHeight, height: el.scrollHeight};
}"""

#: The behaviours of every capture, in order.
DEFAULT_BEHAVIOURS: tuple[Behaviour, ...] = (
    WaitForNetworkIdle(),
    ScrollPage(),
    ReturnToTop(),
    WaitForNetworkIdle(),
)
