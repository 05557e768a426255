"""Machine readings on the dashboard: the real server reads real captures, the page shows them.

A poster page (words only in an image) and a video page (burnt-in banners, English
speech) are captured through the API with OCR and a transcript asked for; the
server's analysis workers read them and seal addenda. The capture page must show
the text beside the screenshot with its boxes, the transcript beside the video
with times that seek it, everything labelled a machine draft; a real Chromium
checks that hovering and clicking do what they say.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from archive.catalog import AnalysisRow
from capture.browser import Browser
from capture.server.analysis_views import readings_view
from capture.server.dashboard_analysis import RunView
from capture.server.pages import environment
from tests.reading_site import ReadingSite
from tests.server import RunningServer

WAIT_SECONDS = 120
DRAFT = "Machine draft (not evidence)"


@dataclass
class Read:
    poster: str
    video: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reading_site(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ReadingSite]:
    async with ReadingSite(tmp_path_factory.mktemp("dashboard-reading-site"), browser) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("dashboard-analysis") / "data")
    await running.start()
    yield running
    await running.stop()


async def wait_analysis(server: RunningServer, capture_id: str, number: int) -> dict[str, Any]:
    """The run once it has ended (polled: the page test must not depend on the stream)."""
    path = f"/api/v1/captures/{capture_id}/analyses/{number}"
    for _ in range(WAIT_SECONDS * 2):
        status, _, body = await server.request("GET", path)
        if status == 200 and body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"analysis {number} of {capture_id} did not end")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def read(server: RunningServer, reading_site: ReadingSite) -> Read:
    """Both pages captured with analysis asked for in the request, and read."""
    asks = (
        ("/poster-page", {"ocr": True}),
        ("/video-page", {"ocr": True, "transcribe": True, "language": "en"}),
    )
    ids = []
    for path, analysis in asks:
        status, _, body = await server.request(
            "POST",
            "/api/v1/captures",
            json={"url": reading_site.url(path), "analysis": analysis, "timeout": 60},
        )
        assert status == 202, body
        ids.append(body["id"])
    for capture_id in ids:
        done = await server.wait_done(capture_id)
        assert done["event"] == "done", done
        assert done["analysis"]["number"] == 1
        run = await wait_analysis(server, capture_id, 1)
        assert run["status"] == "done", run
    return Read(poster=ids[0], video=ids[1])


async def session_cookie(server: RunningServer) -> dict[str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base + "/login",
            data={"token": server.token, "next": "/"},
            headers={"Origin": server.base},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303
        return {
            "Cookie": f"osint_capture_session={response.cookies['osint_capture_session'].value}"
        }


async def page_html(server: RunningServer, path: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.base + path, headers=await session_cookie(server)) as response,
    ):
        assert response.status == 200, path
        return await response.text()


async def test_ocr_text_is_shown_beside_the_screenshot_with_its_boxes(
    server: RunningServer, read: Read
) -> None:
    html = await page_html(server, f"/captures/{read.poster}")
    assert "Machine readings (drafts, not evidence)" in html
    assert html.count(DRAFT) >= 3  # the run, the screenshot's text, the image's text
    assert "convoy" in html.lower()  # a word that is only in the poster's pixels
    assert "OCR of the screenshot" in html and "tesseract" in html
    assert "(ara+eng)" in html  # the languages read with
    assert 'ocr: <span class="status status-done">done</span>' in html  # how each step went
    assert re.search(r'class="ocr-box" data-line="a1-ocr-\d+-\d+" style="left:[\d.]+%;top:', html)
    lines = re.findall(r'<li data-line="(a1-ocr-\d+-\d+)" data-rect="\d+,\d+,\d+,\d+"', html)
    assert lines, "no OCR line carries its box"
    assert f"/api/v1/captures/{read.poster}/files/screenshot.png" in html
    assert "/poster.png" in html  # the page image's URL, with its text under it
    assert 'id="analysis-1"' in html and "not time-stamped" in html
    assert 'action="/captures/' + read.poster + '/analyses"' in html


async def test_transcript_is_shown_beside_the_video_with_times(
    server: RunningServer, read: Read
) -> None:
    html = await page_html(server, f"/captures/{read.video}")
    player = re.search(r'<video id="(a1-player-\d+)" data-media="(media-\d+\.\w+)"', html)
    assert player, "no player for the sealed media file"
    assert f"/api/v1/captures/{read.video}/files/{player[2]}" in html
    seeks = re.findall(rf'data-player="{player[1]}" data-seek="([\d.]+)"', html)
    assert len(seeks) >= 3  # transcript segments and frames
    assert "draft transcript (en)" in html and "faster-whisper" in html
    assert "model SHA-256" in html and "d01c3014881c…" in html
    assert "checkpoint" in html.lower()  # spoken, not written anywhere on the page
    assert "OCR of video frames" in html
    assert "حلب" in html  # a burnt-in Arabic banner


async def test_run_again_queues_a_new_addendum_from_the_page_only(
    server: RunningServer, read: Read
) -> None:
    cookie = await session_cookie(server)
    form = {"ocr": "on", "operator": "Dashboard Tester"}
    path = f"{server.base}/captures/{read.poster}/analyses"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            path, data=form, headers={**cookie, "Origin": "https://evil.example"}
        ) as refused:
            assert refused.status == 403
        async with http.post(
            path, data={**form, "language": "not a code"}, headers={**cookie, "Origin": server.base}
        ) as bad:
            assert bad.status == 400 and "spoken language" in await bad.text()
        async with http.post(
            path, data=form, headers={**cookie, "Origin": server.base}, allow_redirects=False
        ) as queued:
            assert queued.status == 303
            assert queued.headers["Location"] == f"/captures/{read.poster}#analysis-2"
    run = await wait_analysis(server, read.poster, 2)
    assert run["status"] == "done" and run["operator"] == "Dashboard Tester"
    html = await page_html(server, f"/captures/{read.poster}")
    assert html.index('id="analysis-2"') < html.index('id="analysis-1"')  # latest first


async def test_hover_lights_the_box_and_a_time_seeks_the_video(
    server: RunningServer, read: Read, browser: Browser
) -> None:
    context = await browser.new_context()
    try:
        page: Page = await context.new_page()
        await page.goto(f"{server.base}/login?next=/captures/{read.video}")
        await page.get_by_label("Token").fill(server.token)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("video[data-media]").first).to_be_visible()
        segment = page.locator("ol.segments button.seek").nth(1)
        wanted = float(await segment.get_attribute("data-seek") or "nan")
        await page.evaluate(
            "() => new Promise(r => { const v = document.querySelector('video');"
            " v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r); })"
        )
        await segment.click()
        now = await page.evaluate("() => document.querySelector('video').currentTime")
        assert abs(now - wanted) < 0.5, (now, wanted)

        # A search hit in the transcript opens the page with its player at that time.
        await page.goto(f"{server.base}/search?q=checkpoint")
        hit = page.locator(f'a[href^="/captures/{read.video}?media="]').first
        await hit.click()
        await expect(page).to_have_url(re.compile(r"#analysis-1$"))

        await page.goto(f"{server.base}/captures/{read.poster}")
        line = page.locator("details.run[open] .ocr-text li[data-line]").first
        key = await line.get_attribute("data-line")
        box = page.locator(f'.ocr-box[data-line="{key}"]')
        await line.hover()
        await expect(box).to_have_class(re.compile(r"\blit\b"))
        await page.mouse.move(0, 0)
        await expect(box).not_to_have_class(re.compile(r"\blit\b"))
        await box.hover()
        await expect(line).to_have_class(re.compile(r"\blit\b"))
        # The box sits over the screenshot where the line was read (percentages of it).
        shot = await page.locator("details.run[open] .ocr-canvas img").bounding_box()
        placed = await box.bounding_box()
        assert shot and placed
        assert (
            shot["x"] <= placed["x"]
            and placed["x"] + placed["width"] <= shot["x"] + shot["width"] + 1
        )
    finally:
        await context.close()


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_hostile_readings_are_escaped_and_boxes_are_numbers() -> None:
    """OCR and transcripts come from hostile pages: whatever they say is shown as text."""
    run = AnalysisRow(
        capture_id="c1",
        number=1,
        status="done",
        request={"ocr": True},
        operator=HOSTILE,
        attempts=1,
        created_at="2026-01-01T00:00:00Z",
        started_at=None,
        finished_at="2026-01-01T00:00:01Z",
        addendum_sha256="ab" * 32,
        reasons=[HOSTILE],
    )
    readings = [
        {
            "id": "ocr-1",
            "kind": "ocr",
            "source": {"what": "screenshot", "uri": HOSTILE, "file": "screenshot.png"},
            "tool": {"name": HOSTILE, "languages": "ara+eng"},
            "result": {
                "width": 200,
                "height": 100,
                "lines": [
                    {"text": HOSTILE, "box": [20, 10, "50%;background:url(x)", 5]},
                    {"text": "أوقفوا القصف", "box": [20, 50, 100, 10]},
                ],
            },
        },
        {
            "id": "transcript-1",
            "kind": "transcript",
            "source": {"what": "media", "uri": HOSTILE, "file": "media-1.mp4"},
            "tool": {"name": "faster-whisper", "model_sha256": HOSTILE},
            "result": {"language": "en", "segments": [{"start": 1.5, "end": 3, "text": HOSTILE}]},
        },
        {
            "id": "translation-1",
            "kind": "translation",
            "source": {"what": "reading", "uri": "urn:ocr:x"},
            "tool": {"name": "ctranslate2"},
            "result": {
                "of": "ocr-1",
                "lines": [{"source": "أوقفوا القصف", "translation": HOSTILE}],
            },
        },
    ]
    view = RunView(run, {"tools": [{"name": HOSTILE}]}, readings_view(1, readings), [])
    html = (
        environment()
        .get_template("_analysis.html")
        .render(
            capture=SimpleNamespace(id="c1", status="complete", operator=HOSTILE),
            analyses=[view],
            media_files=["media-1.mp4"],
            draft_notice="notice",
        )
    )
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "url(x)" not in html  # a box that is not four numbers is not drawn
    assert 'style="left:10.0%;top:50.0%;width:50.0%;height:10.0%"' in html
    assert 'dir="auto" class="line-text">أوقفوا القصف</span>' in html
    # The translation sits under the line it translates.
    assert 'أوقفوا القصف</span><span class="translation" dir="auto">&lt;script&gt;' in html
    assert 'data-seek="1.5"' in html and "00:01–00:03" in html
