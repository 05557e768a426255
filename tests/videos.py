"""A local media site: videos made with ffmpeg, served the ways pages serve them.

The videos are generated once per session with bit-exact flags (same bytes every
run), so a test can compare archived media with the source file byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path

from aiohttp import web

from tests.loopback import LoopbackServer
from tests.site import png_bytes

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
SOURCES = [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=25",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=44100",
]
# A keyframe every second (25 frames), so the HLS muxer cuts one segment per second.
H264 = [
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-threads",
    "1",
    "-pix_fmt",
    "yuv420p",
    "-g",
    "25",
    "-keyint_min",
    "25",
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-threads",
    "1",
]
MEMBERS_COOKIE = "letmein"
SUBTITLES = "WEBVTT\n\n00:00.000 --> 00:02.000\nشهادة مترجمة\n"
#: Seconds /media/slow.mp4 takes to send the whole clip.
SLOW_SECONDS = 20.0


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class MediaSite(LoopbackServer):
    """Videos on 127.0.0.1 (port chosen by the OS), generated into ``workdir``."""

    what = "media site"

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self._stopping = asyncio.Event()
        self.clip_path = self.workdir / "clip.mp4"
        self.large_path = self.workdir / "large.mp4"
        self.webm_path = self.workdir / "clip.webm"
        self.hls_dir = self.workdir / "hls"
        self.second_format_page = "/media/webm-page"

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        await asyncio.to_thread(self._generate)
        self.clip_sha256 = _sha256(self.clip_path)
        self.large_size = self.large_path.stat().st_size
        app = web.Application(middlewares=[self.count_hits])
        app.add_routes(
            [
                web.get("/media/clip.mp4", self._file(self.clip_path)),
                web.get("/media/clip.webm", self._file(self.webm_path)),
                web.get("/media/large.mp4", self._file(self.large_path)),
                web.get("/media/hls/{name}", self._hls),
                web.get("/media/poster.png", self._poster),
                web.get("/media/subs.vtt", self._subtitles),
                web.get(
                    "/media/video-page",
                    self._page(
                        "Video page",
                        '<p>VIDEO-PAGE-MARKER</p><video poster="/media/poster.png" controls '
                        'width="320"><source src="/media/clip.mp4" type="video/mp4">'
                        '<track kind="subtitles" src="/media/subs.vtt" srclang="ar" '
                        'label="Arabic"></video>',
                    ),
                ),
                web.get(
                    "/media/hls-page",
                    self._page(
                        "HLS page",
                        '<p>HLS-PAGE-MARKER</p><a href="/media/hls/index.m3u8">stream</a>'
                        "<script>fetch('/media/hls/index.m3u8')</script>",
                    ),
                ),
                web.get(
                    "/media/webm-page",
                    self._page("WebM page", '<video src="/media/clip.webm" controls></video>'),
                ),
                web.get(
                    "/media/broken-page",
                    self._page(
                        "Broken video",
                        '<p>BROKEN</p><video src="/media/gone.mp4" controls></video>',
                    ),
                ),
                web.get(
                    "/media/slow-page",
                    self._page("Slow video", '<video src="/media/slow.mp4" controls></video>'),
                ),
                web.get(
                    "/media/members-page",
                    self._page(
                        "Members video", '<video src="/media/members.mp4" controls></video>'
                    ),
                ),
                web.get("/media/slow.mp4", self._slow),
                web.get("/media/members.mp4", self._members),
            ]
        )
        await self.serve(app, shutdown_timeout=1.0)

    async def stop(self) -> None:
        self._stopping.set()
        await super().stop()

    def _generate(self) -> None:
        """The videos, once: a 3 s H.264/AAC clip, a 10 s larger one, WebM, HLS segments."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.clip_path.exists():
            _ffmpeg(*SOURCES, "-t", "3", *H264, *BITEXACT, str(self.clip_path))
        if not self.large_path.exists():
            _ffmpeg(*SOURCES, "-t", "10", *H264, "-b:v", "2M", *BITEXACT, str(self.large_path))
        if not self.webm_path.exists():
            _ffmpeg(
                *SOURCES,
                "-t",
                "2",
                "-c:v",
                "libvpx",
                "-b:v",
                "300k",
                "-c:a",
                "libvorbis",
                *BITEXACT,
                str(self.webm_path),
            )
        if not (self.hls_dir / "index.m3u8").exists():
            self.hls_dir.mkdir(exist_ok=True)
            _ffmpeg(
                "-i",
                str(self.clip_path),
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                str(self.hls_dir / "seg%03d.ts"),
                str(self.hls_dir / "index.m3u8"),
            )

    # -- handlers ---------------------------------------------------------------------------

    @staticmethod
    def _file(path: Path):  # type: ignore[no-untyped-def]
        async def serve(request: web.Request) -> web.FileResponse:
            return web.FileResponse(path)  # Range requests included

        return serve

    @staticmethod
    def _page(title: str, body: str):  # type: ignore[no-untyped-def]
        html = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"

        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        return serve

    async def _hls(self, request: web.Request) -> web.StreamResponse:
        path = self.hls_dir / request.match_info["name"]
        if path.parent != self.hls_dir or not path.is_file():
            raise web.HTTPNotFound()
        kind = "application/vnd.apple.mpegurl" if path.suffix == ".m3u8" else "video/mp2t"
        return web.Response(body=path.read_bytes(), content_type=kind)

    async def _poster(self, request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(32, 24, (200, 40, 40)), content_type="image/png")

    async def _subtitles(self, request: web.Request) -> web.Response:
        return web.Response(text=SUBTITLES, content_type="text/vtt")

    async def _members(self, request: web.Request) -> web.StreamResponse:
        if request.cookies.get("session") != MEMBERS_COOKIE:
            raise web.HTTPForbidden(text="members only")
        return web.FileResponse(self.clip_path)

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        """The clip, trickled so the whole takes about SLOW_SECONDS (Range honoured)."""
        data = self.clip_path.read_bytes()
        start, end = 0, len(data) - 1
        status = 200
        header = request.headers.get("Range", "")
        if header.startswith("bytes="):
            first, _, last = header[6:].partition("-")
            start = int(first or 0)
            end = min(int(last), end) if last else end
            status = 206
        response = web.StreamResponse(
            status=status, headers={"Content-Type": "video/mp4", "Accept-Ranges": "bytes"}
        )
        response.content_length = end - start + 1
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        await response.prepare(request)
        step = max(1, len(data) // 100)
        for offset in range(start, end + 1, step):
            if self._stopping.is_set():
                break
            try:
                await response.write(data[offset : min(offset + step, end + 1)])
            except ConnectionResetError:
                return response
            await asyncio.sleep(SLOW_SECONDS / 100)
        return response
