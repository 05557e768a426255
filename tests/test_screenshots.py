"""The full-page screenshot keeps the page's whole height, and says so when it cannot.

Taken straight from Chromium (capture/screenshots.py) with ``captureBeyondViewport``:
a page far taller than the window, and taller than the 16,384 px some renderers stop
at, is kept whole in one image, its last block painted; past ``MAX_SIDE`` the image is
cut there and its record says how much of the page it shows.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from capture import screenshots
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.loopback import LoopbackServer, html_page
from tests.warcs import Record, read_records

BLOCKS = 30  # of 1000 px each
LAST_COLOUR = (10, 200, 30)

TALL = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Tall</title></head>"
    "<body style='margin:0'>"
    + "".join(
        f"<div style='height:1000px;background:#ddd'>block {n}</div>" for n in range(BLOCKS - 1)
    )
    + "<div style='height:1000px;background:rgb(10,200,30)'>the last block</div></body></html>"
)


class TallSite(LoopbackServer):
    what = "tall page site"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/tall", html_page(TALL))
        await self.serve(app, shutdown_timeout=0.5)


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[TallSite]:
    async with TallSite() as running:
        yield running


async def full_page(site: TallSite, browser: Browser, data: Path) -> tuple[Image.Image, Record]:
    manifest = await capture_into(
        CaptureRequest(site.origin + "/tall", timeout=60, media=None, tsa=None),
        data,
        browser=browser,
    )
    assert manifest.status == "complete", manifest.reasons
    records = read_records(data / "captures" / manifest.id / manifest.warc)
    shot = next(r for r in records if (r.uri or "").startswith("urn:fullPage:"))
    return Image.open(io.BytesIO(shot.payload or b"")), shot


async def test_a_page_of_30000_px_is_kept_whole(
    site: TallSite, browser: Browser, tmp_path: Path
) -> None:
    image, shot = await full_page(site, browser, tmp_path)
    assert image.size == (1280, BLOCKS * 1000)
    assert image.convert("RGB").getpixel((640, BLOCKS * 1000 - 10)) == LAST_COLOUR
    assert "only the top" not in (shot.header("X-Osint-Derived") or "")


async def test_a_page_past_the_limit_is_cut_there_and_says_so(
    site: TallSite, browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screenshots, "MAX_SIDE", 12_000)
    image, shot = await full_page(site, browser, tmp_path)
    assert image.size == (1280, 12_000)
    said = shot.header("X-Osint-Derived") or ""
    assert f"only the top 12000 px of the page's {BLOCKS * 1000} px" in said, said
