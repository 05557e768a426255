"""What the page has pending, as the behaviours ask it, and the blank pages made ahead.

The page's count (capture/page_activity.py) lets a wait end after a short floor on
a page with nothing left to do; these pages each hold something back (a timer, a
frame loop, an interval, a slow fetch, a frame of another origin) and must not be
called idle. The blanks (capture/page_pool.py) are made ahead, but each capture
must still get a context no other capture has used: a cookie or a stored value
set by one capture never reaches the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from archive.warcfile import WarcFile
from capture.browser import Browser
from capture.page_activity import Activity, ask
from capture.page_pool import Blank, make_blank, pool_of
from capture.page_waits import QUIET_SECONDS, settled, wait_quiet, watch_activity
from capture.recorder import Recorder
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.loopback import LoopbackServer, html_page
from tests.warcs import read_records


def _html(body: str) -> str:
    return f"<!doctype html><html><head><title>activity</title></head><body>{body}</body></html>"


PAGES = {
    "/idle": _html("<p>Nothing more to do.</p>"),
    "/timer": _html("<script>setTimeout(() => { document.title = 'fired'; }, 700);</script>"),
    "/late-timer": _html("<script>setTimeout(() => {}, 60000);</script><p>later</p>"),
    "/frames": _html("<script>(function loop() { requestAnimationFrame(loop); })();</script>"),
    "/interval": _html("<script>setInterval(() => {}, 100);</script>"),
    "/slow-fetch": _html("<script>fetch('/slow').then((r) => r.text());</script>"),
    "/set-cookie": _html(
        "<script>document.cookie = 'seen=first-capture; path=/';"
        " localStorage.setItem('seen', 'first-capture');</script>"
    ),
    "/read-cookie": _html(
        "<p id=stored></p><script>document.getElementById('stored').textContent ="
        " 'stored: ' + (localStorage.getItem('seen') || 'nothing');"
        " fetch('/echo-cookie');</script>"
    ),
}


class ActivitySite(LoopbackServer):
    what = "page activity site"

    def __init__(self) -> None:
        super().__init__()
        self.cookies_seen: list[str] = []
        self.release = asyncio.Event()

    async def start(self) -> None:
        app = web.Application()
        for path, html in PAGES.items():
            app.router.add_get(path, html_page(html))
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/echo-cookie", self._echo)
        app.router.add_get("/framed", self._framed)
        await self.serve(app, shutdown_timeout=0.5)

    def url(self, path: str) -> str:
        return self.origin + path

    async def _slow(self, request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.release.wait(), 5)
        return web.Response(text="late")

    async def _echo(self, request: web.Request) -> web.Response:
        self.cookies_seen.append(request.headers.get("Cookie", ""))
        return web.Response(text="ok")

    async def _framed(self, request: web.Request) -> web.Response:
        # The frame comes from "localhost": another origin than 127.0.0.1's page.
        other = self.origin.replace("127.0.0.1", "localhost") + "/idle"
        return web.Response(
            text=_html(f"<iframe src='{other}'></iframe>"), content_type="text/html"
        )


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[ActivitySite]:
    async with ActivitySite() as running:
        yield running


@contextlib.asynccontextmanager
async def counted(browser: Browser) -> AsyncIterator[tuple[Blank, Recorder]]:
    """A blank page, as the pipeline gets one, with the recorder attached and watching."""
    blank = await make_blank(browser)
    with tempfile.TemporaryFile() as sink:
        warc = WarcFile(sink)
        try:
            deadline = asyncio.get_running_loop().time() + 60
            recorder = Recorder(blank.connection, warc, deadline=deadline)
            await recorder.attach(blank.target_id)
            watch_activity(blank.page, recorder, blank.activity_key)
            yield blank, recorder
        finally:
            await blank.close()
            warc.close()


async def activity_of(browser: Browser, url: str) -> Activity:
    async with counted(browser) as (blank, recorder):
        await blank.page.goto(url, wait_until="load")
        assert recorder.page_session is not None
        return await ask(recorder.page_session, blank.activity_key)


async def test_a_page_with_nothing_scheduled_is_idle(site: ActivitySite, browser: Browser) -> None:
    assert await activity_of(browser, site.url("/idle")) == Activity(True, "")


async def test_a_timer_far_off_does_not_count(site: ActivitySite, browser: Browser) -> None:
    assert (await activity_of(browser, site.url("/late-timer"))).idle


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/timer", "1 timers"),
        ("/frames", "1 frames"),
        ("/interval", "1 intervals"),
        ("/slow-fetch", "1 requests"),
        ("/framed", "a frame that cannot be asked"),
    ],
)
async def test_a_page_that_still_has_work_is_not_idle(
    site: ActivitySite, browser: Browser, path: str, said: str
) -> None:
    activity = await activity_of(browser, site.url(path))
    assert not activity.idle
    assert said in activity.pending, activity


async def test_a_timer_counts_until_it_has_run(site: ActivitySite, browser: Browser) -> None:
    async with counted(browser) as (blank, recorder):
        await blank.page.goto(site.url("/timer"), wait_until="load")
        assert recorder.page_session is not None
        assert not (await ask(recorder.page_session, blank.activity_key)).idle
        await blank.page.wait_for_function("document.title === 'fired'")
        assert (await ask(recorder.page_session, blank.activity_key)).idle


NATIVE_CHECK = """() => [window.fetch, window.setTimeout, window.requestAnimationFrame,
  window.clearTimeout, XMLHttpRequest.prototype.send].every((f) =>
    Function.prototype.toString.call(f).includes("[native code]") && f.name !== "")"""


async def test_the_counted_functions_still_look_native_to_the_page(
    site: ActivitySite, browser: Browser
) -> None:
    """A page that checks whether fetch or setTimeout were replaced (some refuse to show
    their content if so) finds them native, while the count goes on."""
    async with counted(browser) as (blank, recorder):
        await blank.page.goto(site.url("/timer"), wait_until="load")
        assert await blank.page.evaluate(NATIVE_CHECK)
        assert recorder.page_session is not None
        activity = await ask(recorder.page_session, blank.activity_key)
        assert not activity.idle and "1 timers" in activity.pending, activity


async def test_a_page_that_never_rests_gets_the_whole_quiet_window(
    site: ActivitySite, browser: Browser
) -> None:
    """A frame loop is never idle: quiet is then the network's alone, the full window."""
    async with counted(browser) as (blank, recorder):
        await blank.page.goto(site.url("/frames"), wait_until="load")
        loop = asyncio.get_running_loop()
        assert await wait_quiet(blank.page, recorder, loop.time() + 10)
        assert recorder.last_activity is not None
        assert loop.time() - recorder.last_activity >= QUIET_SECONDS
        assert await settled(blank.page, recorder)  # and it stays so


async def test_a_capture_gets_a_context_no_other_capture_used(
    site: ActivitySite, browser: Browser, tmp_path: Path
) -> None:
    """Blanks are made ahead for a shared browser; none carries a cookie or stored
    value from the capture before."""
    first = await capture_into(
        CaptureRequest(site.url("/set-cookie"), timeout=30, media=None, tsa=None),
        tmp_path,
        browser=browser,
    )
    assert first.status == "complete", first.reasons
    second = await capture_into(
        CaptureRequest(site.url("/read-cookie"), timeout=30, media=None, tsa=None),
        tmp_path,
        browser=browser,
    )
    assert second.status == "complete", second.reasons
    assert site.cookies_seen and site.cookies_seen[-1] == "", site.cookies_seen
    records = read_records(tmp_path / "captures" / second.id / second.warc)
    text = next(r for r in records if (r.uri or "").startswith("urn:text:"))
    assert b"stored: nothing" in (text.payload or b"")


async def test_blanks_made_ahead_close_with_the_browser(site: ActivitySite) -> None:
    own = await Browser.launch()
    try:
        pool = pool_of(own)
        taken = await pool.take()
        await taken.close()
        await asyncio.sleep(0)  # the blank for the next capture is being made
        spares = list(pool._spares)
        assert spares, "no blank was made ahead"
    finally:
        await own.close()
    for task in spares:
        assert task.done()
    assert not own.browser.contexts, "a blank made ahead outlived its browser"
