"""The page's stages until recording stops: load, behaviours, cut; and the seal stage's
sweep, which cuts what started since and says what the capture does not hold.

Each is bounded by the capture's page deadline (the deadline minus the reserve kept
for derived records and sealing), so that a page that never finishes is cut early
enough for the capture to end within its budget, and says what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from capture.behaviours import DEFAULT_BEHAVIOURS
from capture.browser import Browser
from capture.progress_events import BehaviourEnded
from capture.stages.opening import Opened
from capture.stages.outcome import losses_at_sealing, main_document, reasons_of
from capture.stages.results import BehavioursDone, Cut, Loaded, MediaResult, Swept
from capture.stages.run import Run, StageFailed

#: The load event is awaited at most this long (or half the budget), then behaviours run.
LOAD_CAP = 30.0
#: A browser found gone is waited for this long to be reaped (how it ended).
REAP_WAIT = 2.0


async def load(run: Run, opened: Opened) -> Loaded:
    """Navigate and wait for the load event, leaving time for behaviours if it never fires.

    A page that got no response at all (DNS failure, refused connection) fails the
    capture: there is nothing to seal.
    """
    remaining = run.page_deadline - asyncio.get_running_loop().time()
    wait = max(1.0, min(LOAD_CAP, remaining / 2))
    try:
        await opened.page.goto(run.request.url, wait_until="load", timeout=wait * 1000)
    except PlaywrightTimeout:
        # Not a loss by itself: whatever is still loading at the end is named then.
        return Loaded(load_event=False)
    except PlaywrightError as exc:
        recorder = opened.recorder
        main = main_document(recorder.exchanges, recorder.main_frame_id)
        if not main or not main[-1].has_response:
            message = exc.message.split("\n")[0]
            raise StageFailed([f"could not load {run.request.url}: {message}"]) from exc
        return Loaded(load_event=None, navigation_error=exc.message.splitlines()[0])
    return Loaded(load_event=True)


async def behave(run: Run, opened: Opened) -> BehavioursDone:
    """Run the behaviours in order, each bounded; then look whether the browser is still there."""
    results = []
    for behaviour in DEFAULT_BEHAVIOURS:
        result = await behaviour.run(opened.page, opened.recorder, run.page_deadline)
        results.append(result)
        run.progress(BehaviourEnded(result.name, result.finished))
    await _reaped(opened.browser)
    return BehavioursDone(tuple(results), browser_lost=browser_lost(run, opened.browser))


async def _reaped(browser: Browser) -> None:
    """A browser found gone is given a moment to be reaped, so that how it ended (a signal,
    an exit code) can be said: its connection closes before its process is collected."""
    if not browser.alive:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(browser.process.wait(), REAP_WAIT)


async def cut_loading(run: Run, opened: Opened, loaded: Loaded, behaved: BehavioursDone) -> Cut:
    """Record whatever is still loading as it stands, and say why recording stopped."""
    recorder = opened.recorder
    cut = Cut()
    if recorder.pending():
        why = "the browser stopped" if behaved.browser_lost else _why_stopped(run)
        cut = Cut(tuple(await recorder.cut(why)), why)
    _fail_if_never_answered(run, opened, loaded)
    return cut


async def sweep(opened: Opened, cut: Cut, media_result: MediaResult) -> Swept:
    """Cut what started while derived records were taken; say what the capture does not
    hold, as the recorder has it now (the seal stage closes it next)."""
    recorder = opened.recorder
    stragglers = await recorder.cut("the capture was being sealed")
    losses = losses_at_sealing(
        cut,
        stragglers,
        media_result.preserved.whole_urls,
        recorder.exchanges,
        recorder.non_http.reasons(),
        opened.log.downloads,
    )
    notes = (*recorder.repeats_not_recorded(), *recorder.non_http.notes())
    return Swept(tuple(stragglers), tuple(losses), notes)


def browser_lost(run: Run, browser: Browser) -> str:
    """If Chromium is found gone, say so: during which stage, and how it ended."""
    if browser.alive:
        return ""
    code = browser.process.returncode
    if code is None:
        how = "its connection closed"
    elif code < 0:
        how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    return f"the browser (Chromium) stopped during the {run.stage.value} stage ({how})"


def _why_stopped(run: Run) -> str:
    loop = asyncio.get_running_loop()
    if loop.time() >= run.page_deadline:
        return f"the time budget of {run.request.timeout:g} s ran out"
    return "the page's behaviours had finished and recording stopped"


def _fail_if_never_answered(run: Run, opened: Opened, loaded: Loaded) -> None:
    """A server that took the request and never sent even a status line left nothing to
    seal: fail the capture as for a refused connection, rather than seal an empty page."""
    if loaded.load_event is not False:
        return  # the load event fired (a failed navigation is handled when loading)
    recorder = opened.recorder
    main = main_document(recorder.exchanges, recorder.main_frame_id)
    if not main or main[-1].has_response:
        return
    reasons = [
        f"no response from {run.request.url} within the time budget of"
        f" {run.request.timeout:g} s: the server took the request and never answered",
        *reasons_of(run.request.notes, run.found),
    ]
    raise StageFailed(reasons)
