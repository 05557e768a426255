"""A local site whose words are only in pixels and sound: for the analysis tests.

``/poster-page`` shows nothing but a heading and a poster image; the poster's words
(Arabic and English, rendered by the real Chromium with Debian's fonts) are in no
text of the page, so a search that finds them found them through OCR.
``/video-page`` plays a video with burnt-in Arabic banners (scene cut at 10 s) and
English speech made with espeak-ng, downloaded whole by the media stage.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

from aiohttp import web

from capture.browser import Browser
from tests.loopback import LoopbackServer, html_page
from tests.speech_audio import ENGLISH, speak
from tests.text_images import ARABIC_FONTS, screenshot
from tests.text_video import CAPTION_A, CAPTION_C, make_caption_video

#: The poster's lines: a slogan and a label that appear nowhere else on the page.
POSTER_ARABIC = "أوقفوا القصف على المدنيين"
POSTER_ENGLISH = "Checkpoint Seven convoy"
#: The video's banners: CAPTION_A for [0, 10) s, CAPTION_C for [10, 24) s, a cut at 10 s.
VIDEO_CAPTIONS = ((0.0, 10.0, CAPTION_A), (10.0, 24.0, CAPTION_C))
VIDEO_SECONDS = 24.0
SPOKEN = ENGLISH


class ReadingSite(LoopbackServer):
    what = "reading site"

    def __init__(self, workdir: Path, browser: Browser, *, video: bool = True) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.with_video = video
        self.browser = browser
        self.poster_png = b""
        self.video_path = self.workdir / "testimony.mp4"

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        self.poster_png = await self._poster()
        if self.with_video:  # about 5 s to make: only for the tests that read it
            await self._video()
        app = web.Application()
        app.add_routes(
            [
                web.get("/poster.png", self._png),
                web.get("/testimony.mp4", self._mp4),
                web.get("/poster-page", html_page(_page("Poster page", '<img src="/poster.png">'))),
                web.get(
                    "/video-page",
                    html_page(_page("Testimony", '<video src="/testimony.mp4" controls></video>')),
                ),
            ]
        )
        await self.serve(app, shutdown_timeout=1.0)

    async def _poster(self) -> bytes:
        body = (
            f'<div style="padding:30px;background:#f4efe4">'
            f'<p style="font:44px {ARABIC_FONTS};direction:rtl">{POSTER_ARABIC}</p>'
            f'<p style="font:36px DejaVu Sans">{POSTER_ENGLISH}</p></div>'
        )
        image, _ = await screenshot(self.browser, body, width=900)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    async def _video(self) -> None:
        silent = self.workdir / "captions.mp4"
        wav = self.workdir / "speech.wav"
        await make_caption_video(
            silent, VIDEO_CAPTIONS, VIDEO_SECONDS, cuts=(10.0,), browser=self.browser.browser
        )
        await asyncio.to_thread(speak, SPOKEN, wav)
        await asyncio.to_thread(
            subprocess.run,
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                str(silent),
                "-i",
                str(wav),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "copy",
                "-c:a",
                "aac",
                "-fflags",
                "+bitexact",
                "-movflags",
                "+faststart",
                str(self.video_path),
            ],
            check=True,
            capture_output=True,
        )

    async def _png(self, request: web.Request) -> web.Response:
        return web.Response(body=self.poster_png, content_type="image/png")

    async def _mp4(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(self.video_path, headers={"Content-Type": "video/mp4"})


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
