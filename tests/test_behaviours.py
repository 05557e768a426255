"""The behaviours wait on what the page does, not on the clock: what that must still catch.

Each page here is built to be missed by a behaviour that waits too little: images
that only load while they are in the viewport, a feed that asks for its next
batch a while after the bottom is reached, requests started by timers after the
load event. They are captured with the real pipeline in the real browser and read
back from the sealed WARC. The last tests break the browser under a running
behaviour and check that it stops at once and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page

from archive.warcfile import WarcFile
from capture.behaviours import (
    Behaviour,
    ReturnToTop,
    ScrollPage,
    WaitForNetworkIdle,
)
from capture.browser import Browser, target_id_of
from capture.page_waits import QUIET_SECONDS
from capture.recorder import Recorder
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.loopback import LoopbackServer, html_page
from tests.site import png_bytes
from tests.warcs import Record, read_records

#: Images of the gallery, one per 1000 px block; each loads only inside the viewport.
GALLERY_IMAGES = 8
#: The late feed waits this long after its sentinel comes into view before fetching.
FEED_DELAY_MS = 300
FEED_LAST = 3
#: The timer page fetches this long after the load event, then again as long after.
TIMER_DELAY_MS = 300


def _html(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{body}</body></html>"
    )


# A lazy loader like the ones sites ship: the real address is in data-src and is
# set only when the image itself intersects the viewport (no margin), so an image
# the scroll passes without the page painting it there is never requested.
GALLERY = _html(
    "Gallery",
    "".join(
        f'<div style="height:1000px"><img data-src="/img/gallery-{n}.png" width=40 height=40'
        f' alt="figure {n}"></div>'
        for n in range(GALLERY_IMAGES)
    )
    + """<script>
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    entry.target.src = entry.target.dataset.src;
    observer.unobserve(entry.target);
  }
});
document.querySelectorAll("img[data-src]").forEach((img) => observer.observe(img));
</script>""",
)

# The older kind of lazy loader: a scroll handler debounced by DEBOUNCE_MS, so it
# only looks for images in the viewport once scrolling has paused that long. A
# scroll that moves on sooner passes the middle images without their being asked for.
DEBOUNCE_MS = 150
DEBOUNCED = _html(
    "Debounced gallery",
    "".join(
        f'<div style="height:1000px"><img data-src="/img/debounced-{n}.png" width=40 height=40'
        f' alt="figure {n}"></div>'
        for n in range(GALLERY_IMAGES)
    )
    + """<script>
function reveal() {
  for (const img of document.querySelectorAll("img[data-src]")) {
    const box = img.getBoundingClientRect();
    if (box.bottom >= 0 && box.top <= window.innerHeight) {
      img.src = img.dataset.src;
      img.removeAttribute("data-src");
    }
  }
}
let timer = null;
window.addEventListener("scroll", () => {
  clearTimeout(timer);
  timer = setTimeout(reveal, DEBOUNCE_MS);
});
reveal();
</script>""".replace("DEBOUNCE_MS", str(DEBOUNCE_MS)),
)

# A feed that takes its time: the next batch is asked for FEED_DELAY_MS after the
# sentinel at the bottom comes into view. Only the last batch holds the marker.
LATE_FEED = _html(
    "Late feed",
    '<div id="items">'
    + "".join(f'<div style="height:400px">first batch item {n}</div>' for n in range(6))
    + '</div><div id="sentinel" style="height:1px"></div>'
    + """<script>
const items = document.getElementById("items");
const sentinel = document.getElementById("sentinel");
let next = 2;
let waiting = false;
const observer = new IntersectionObserver((entries) => {
  if (waiting || !entries.some((entry) => entry.isIntersecting)) return;
  waiting = true;
  setTimeout(async () => {
    const batch = await (await fetch("/feed?n=" + next)).json();
    for (const text of batch.items) {
      const item = document.createElement("div");
      item.style.height = "400px";
      item.textContent = text;
      items.appendChild(item);
    }
    next += 1;
    waiting = false;
    observer.unobserve(sentinel);
    if (next <= LAST_BATCH) observer.observe(sentinel);
  }, DELAY_MS);
});
observer.observe(sentinel);
</script>""".replace("LAST_BATCH", str(FEED_LAST)).replace("DELAY_MS", str(FEED_DELAY_MS)),
)

# Requests nobody scrolls for: TIMER_DELAY_MS after the load event a timer fetches
# the first, and each answer sets a timer for the next, so the network is quiet for
# less than that between them, TIMER_CHAIN times over. Each writes its marker into
# the page. A quiet period shorter than the gaps would end the capture mid-chain.
TIMER_CHAIN = 5
TIMERS = _html(
    "Timers",
    "".join(f'<p id="t{n}"></p>' for n in range(TIMER_CHAIN))
    + """<script>
async function show(n) {
  if (n >= CHAIN) return;
  const reply = await (await fetch("/api/t" + n + ".json")).json();
  document.getElementById("t" + n).textContent = reply.marker;
  setTimeout(() => show(n + 1), DELAY_MS);
}
window.addEventListener("load", () => setTimeout(() => show(0), DELAY_MS));
</script>""".replace("DELAY_MS", str(TIMER_DELAY_MS)).replace("CHAIN", str(TIMER_CHAIN)),
)

# Never idle and never at the end: an image that never finishes, and a feed that
# always has another batch.
HANGING = _html("Hanging", '<img src="/hang" width=10 height=10 alt="hang">')
ENDLESS = LATE_FEED.replace(f"next <= {FEED_LAST})", "true)").replace("Late feed", "Endless")


class BehaviourSite(LoopbackServer):
    """The pages above, and what they ask for."""

    what = "behaviour test site"

    async def start(self) -> None:
        pages = {
            "/gallery": GALLERY,
            "/debounced": DEBOUNCED,
            "/late-feed": LATE_FEED,
            "/timers": TIMERS,
            "/hanging": HANGING,
            "/endless": ENDLESS,
        }
        app = web.Application()
        for path, html in pages.items():
            app.router.add_get(path, html_page(html))
        app.router.add_get("/img/{name}.png", self._image)
        app.router.add_get("/feed", self._feed)
        app.router.add_get("/api/{id}.json", self._api)
        app.router.add_get("/hang", self._hang)
        await self.serve(app, shutdown_timeout=0.5)

    def url(self, path: str) -> str:
        return self.origin + path

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(40, 40, (30, 120, 200)), content_type="image/png")

    async def _feed(self, request: web.Request) -> web.Response:
        n = int(request.query["n"])
        marker = " LATE-FEED-LAST-BATCH" if n == FEED_LAST else ""
        items = [f"batch {n} item {k}{marker}" for k in range(6)]
        return web.json_response({"items": items})

    async def _api(self, request: web.Request) -> web.Response:
        name = request.match_info["id"]
        return web.json_response({"marker": f"TIMER-{name.upper()}-MARKER"})

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"\x89PNG\r\n\x1a\n")
            await asyncio.sleep(3600)
        return response


@pytest.fixture(scope="module")
async def pages() -> AsyncIterator[BehaviourSite]:
    async with BehaviourSite() as running:
        yield running


async def capture(site: BehaviourSite, browser: Browser, data: Path, path: str) -> tuple:
    """Capture ``path`` with the real pipeline; its manifest and the WARC's records."""
    manifest = await capture_into(
        CaptureRequest(site.url(path), timeout=60, media=None, tsa=None), data, browser=browser
    )
    records = read_records(data / "captures" / manifest.id / manifest.warc)
    return manifest.to_dict(), records


def response_for(records: list[Record], site: BehaviourSite, path: str) -> Record | None:
    return next(
        (r for r in records if r.type == "response" and r.uri == site.url(path)),
        None,
    )


def scroll_note(records: list[Record]) -> str:
    """What the scroll behaviour said about itself, from the page-info record."""
    info = next(r for r in records if (r.uri or "").startswith("urn:pageinfo:"))
    behaviours = json.loads(info.payload or b"{}")["behaviours"]
    return next(b["note"] for b in behaviours if b["name"] == "scroll-page")


def page_text(records: list[Record]) -> str:
    text = [r for r in records if r.type == "resource" and (r.uri or "").startswith("urn:text:")]
    assert len(text) == 1
    return (text[0].payload or b"").decode("utf-8")


async def test_every_image_a_lazy_loader_shows_only_in_the_viewport_is_recorded(
    pages: BehaviourSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(pages, browser, tmp_path, "/gallery")
    assert manifest["status"] == "complete", manifest["reasons"]
    for n in range(GALLERY_IMAGES):
        image = response_for(records, pages, f"/img/gallery-{n}.png")
        assert image is not None and image.http_status == 200, f"image {n} was not recorded"
        assert image.payload == png_bytes(40, 40, (30, 120, 200))


async def test_every_image_a_debounced_scroll_handler_shows_is_recorded(
    pages: BehaviourSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(pages, browser, tmp_path, "/debounced")
    assert manifest["status"] == "complete", manifest["reasons"]
    missed = [
        n
        for n in range(GALLERY_IMAGES)
        if response_for(records, pages, f"/img/debounced-{n}.png") is None
    ]
    assert not missed, f"images the scroll passed too fast for the handler: {missed}"
    assert "held 200 ms for the page's scroll listeners" in scroll_note(records)


async def test_a_page_without_scroll_listeners_is_scrolled_without_the_hold(
    pages: BehaviourSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(pages, browser, tmp_path, "/gallery")
    assert manifest["status"] == "complete", manifest["reasons"]
    note = scroll_note(records)
    assert "px scrolled" in note and "held" not in note, note


async def test_a_feed_that_asks_for_its_next_batch_late_is_followed_to_its_end(
    pages: BehaviourSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(pages, browser, tmp_path, "/late-feed")
    assert manifest["status"] == "complete", manifest["reasons"]
    for n in range(2, FEED_LAST + 1):
        batch = response_for(records, pages, f"/feed?n={n}")
        assert batch is not None and batch.http_status == 200, f"batch {n} was not recorded"
    assert "LATE-FEED-LAST-BATCH" in page_text(records)
    info = next(r for r in records if (r.uri or "").startswith("urn:pageinfo:"))
    behaviours = json.loads(info.payload or b"{}")["behaviours"]
    scroll = next(b for b in behaviours if b["name"] == "scroll-page")
    assert scroll["finished"], scroll


async def test_requests_timers_start_after_the_load_event_are_recorded(
    pages: BehaviourSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(pages, browser, tmp_path, "/timers")
    assert manifest["status"] == "complete", manifest["reasons"]
    for name in (f"t{n}" for n in range(TIMER_CHAIN)):
        reply = response_for(records, pages, f"/api/{name}.json")
        assert reply is not None and reply.payload is not None, f"{name} was not recorded"
        marker = f"TIMER-{name.upper()}-MARKER"
        assert json.loads(reply.payload) == {"marker": marker}
        assert marker in page_text(records)


# -- the browser goes away under a behaviour ---------------------------------------------------


@contextlib.asynccontextmanager
async def recorded_page(browser: Browser) -> AsyncIterator[tuple[Page, Recorder]]:
    """A page with the recorder attached, as the pipeline makes one, writing a scratch WARC."""
    context = await browser.new_context()
    connection = await browser.connect_recorder()
    with tempfile.TemporaryFile() as sink:
        warc = WarcFile(sink)
        try:
            page = await context.new_page()
            deadline = asyncio.get_running_loop().time() + 60
            recorder = Recorder(connection, warc, deadline=deadline)
            await recorder.attach(await target_id_of(page))
            yield page, recorder
        finally:
            with contextlib.suppress(Exception):
                await context.close()
            await connection.close()
            warc.close()


#: A behaviour that notices the browser is gone ends within this long.
ENDS_WITHIN = 2.0


async def _break_under(
    behaviour: Behaviour, pages: BehaviourSite, path: str, how: str
) -> tuple[float, str, bool]:
    """Run ``behaviour`` on ``path`` in a browser of its own and break the browser under it.

    Returns how long the behaviour went on after the break, its note, and whether it
    claimed to have finished."""
    browser = await Browser.launch()
    loop = asyncio.get_running_loop()
    try:
        async with recorded_page(browser) as (page, recorder):
            await page.goto(pages.url(path), wait_until="domcontentloaded")
            running = asyncio.create_task(behaviour.run(page, recorder, loop.time() + 60))
            await asyncio.sleep(QUIET_SECONDS * 3)
            assert not running.done(), f"{behaviour.name} ended before it was broken"
            broken = loop.time()
            if how == "kill":
                browser.process.kill()
            else:
                cdp = await page.context.new_cdp_session(page)
                crash = asyncio.create_task(cdp.send("Page.crash"))
                crash.add_done_callback(lambda t: t.cancelled() or t.exception())
            result = await asyncio.wait_for(running, 30)
            return loop.time() - broken, result.note, result.finished
    finally:
        await browser.close()


@pytest.mark.parametrize(
    ("behaviour", "path"),
    [(WaitForNetworkIdle(), "/hanging"), (ScrollPage(), "/endless")],
    ids=["idle", "scroll"],
)
async def test_a_killed_browser_ends_the_behaviour_at_once_and_says_so(
    pages: BehaviourSite, behaviour: Behaviour, path: str
) -> None:
    seconds, note, finished = await _break_under(behaviour, pages, path, "kill")
    assert not finished
    assert note.startswith("the browser closed or crashed") and behaviour.name in note, note
    assert seconds < ENDS_WITHIN, f"{behaviour.name} went on for {seconds:.1f} s"


async def test_a_crashed_page_ends_the_behaviour_at_once_and_says_so(
    pages: BehaviourSite,
) -> None:
    seconds, note, finished = await _break_under(WaitForNetworkIdle(), pages, "/hanging", "crash")
    assert not finished
    assert note.startswith("the page crashed") and "wait-for-network-idle" in note, note
    assert seconds < ENDS_WITHIN, f"the idle wait went on for {seconds:.1f} s"


async def test_a_page_already_gone_is_named_by_every_behaviour(pages: BehaviourSite) -> None:
    browser = await Browser.launch()
    try:
        async with recorded_page(browser) as (page, recorder):
            await page.goto(pages.url("/gallery"))
            browser.process.kill()
            await browser.process.wait()
            loop = asyncio.get_running_loop()
            for behaviour in (WaitForNetworkIdle(), ScrollPage(), ReturnToTop()):
                started = loop.time()
                result = await behaviour.run(page, recorder, loop.time() + 60)
                assert not result.finished
                assert f"during {behaviour.name}" in result.note, result.note
                assert loop.time() - started < ENDS_WITHIN
    finally:
        await browser.close()
