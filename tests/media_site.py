"""A local site for the recorder's media tests: a big playable video and oversized bodies.

The video is made with ffmpeg once per test module (noise on a test pattern, so
it is large without taking long to encode: ~45 MB in about a second), with the
``moov`` atom first (``+faststart``) as web video usually is. The page plays it
muted on load and reports, with a beacon the server counts, how far playback got;
so a test through the real pipeline can tell whether the page's player was given
real bytes. ``/oversized`` fetches three bodies larger than a test's per-response
limit and keeps, in ``window.received``, how many bytes of each the page got.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackServer, html_page

#: Seconds of video; with VIDEO_BITRATE this makes a file of about 45 MB.
VIDEO_SECONDS = 20
VIDEO_BITRATE = "18M"
#: Sizes of the bodies served for the per-response limit: one the recorder takes
#: whole while paused (known length, small), one it streams (known length, large),
#: one it copies as it flows to the page (chunked, length unknown).
BLOB_SIZES = {"buffered": 3 * 1024 * 1024, "streamed": 12 * 1024 * 1024, "chunked": 3 * 1024 * 1024}

PLAYED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Played video</title>
</head><body><p>PLAYED-VIDEO-MARKER</p>
<video id="v" src="/media/big.mp4" autoplay muted playsinline controls width="320"></video>
<script>
const v = document.getElementById('v');
let reported = 0;
v.addEventListener('timeupdate', () => {
  if (v.currentTime >= reported + 1) {
    reported = Math.floor(v.currentTime);
    fetch(`/beacon?t=${v.currentTime.toFixed(2)}&ready=${v.readyState}`);
  }
});
v.addEventListener('error', () => fetch(`/beacon?error=${v.error && v.error.code}`));
// ?hold: a request the server answers once playback has been reported, so that a
// capture, which ends as soon as the page has settled, lives that long.
if (location.search.includes('hold')) fetch('/hold');
</script></body></html>
"""

OVERSIZED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Oversized</title>
</head><body><p>OVERSIZED-MARKER</p>
<script>
window.received = {};
for (const name of ['buffered', 'streamed', 'chunked']) {
  fetch(`/blob/${name}.bin`)
    .then((reply) => reply.arrayBuffer())
    .then((body) => { window.received[name] = body.byteLength; });
}
</script></body></html>
"""

#: Fetches each of two media URLs twice, one after the other: one whose ETag stays,
#: one whose ETag changes with every response (a file replaced between requests).
TWICE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Twice</title>
</head><body><p>TWICE-MARKER</p>
<script>
window.received = [];
(async () => {
  for (const name of ['same', 'same', 'changing', 'changing']) {
    const body = await (await fetch(`/media/${name}.mp4`)).arrayBuffer();
    window.received.push(body.byteLength);
  }
})();
</script></body></html>
"""


def make_big_video(path: Path) -> None:
    """A playable H.264/AAC MP4 of about 45 MB, ``moov`` first."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25,noise=alls=80:allf=t+u",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            str(VIDEO_SECONDS),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-threads",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            VIDEO_BITRATE,
            "-maxrate",
            VIDEO_BITRATE,
            "-bufsize",
            "9M",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


def blob_bytes(name: str) -> bytes:
    """A body of ``BLOB_SIZES[name]`` bytes that differs at every offset a cut could fall on."""
    size = BLOB_SIZES[name]
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{name}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class RecorderMediaSite(LoopbackServer):
    """``/played`` plays ``/media/big.mp4``; ``/oversized`` fetches the three blobs."""

    what = "recorder media site"

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self.video_path = self.workdir / "big.mp4"
        #: Each video request's Range header ("" when none), in order.
        self.video_ranges: list[str] = []
        #: Each beacon the page sent: {"t": ..., "ready": ...} or {"error": ...}.
        self.beacons: list[dict[str, Any]] = []

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        if not self.video_path.exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(make_big_video, self.video_path)
        data = self.video_path.read_bytes()
        self.video_size = len(data)
        self.video_sha256 = hashlib.sha256(data).hexdigest()
        app = web.Application(middlewares=[self.count_hits])
        app.add_routes(
            [
                web.get("/played", html_page(PLAYED_PAGE)),
                web.get("/media/big.mp4", self._video),
                web.get("/beacon", self._beacon),
                web.get("/hold", self._hold),
                web.get("/oversized", html_page(OVERSIZED_PAGE)),
                web.get("/twice", html_page(TWICE_PAGE)),
                web.get("/media/same.mp4", self._tagged),
                web.get("/media/changing.mp4", self._tagged),
                web.get("/blob/buffered.bin", self._known),
                web.get("/blob/streamed.bin", self._known),
                web.get("/blob/chunked.bin", self._chunked),
            ]
        )
        await self.serve(app, shutdown_timeout=1.0)

    def reset(self) -> None:
        self.hits.clear()
        self.video_ranges.clear()
        self.beacons.clear()

    def played_seconds(self) -> float:
        """How far the page's player got, by its own report."""
        return max((float(b["t"]) for b in self.beacons if "t" in b), default=0.0)

    async def _video(self, request: web.Request) -> web.FileResponse:
        self.video_ranges.append(request.headers.get("Range", ""))
        return web.FileResponse(self.video_path, headers={"Content-Type": "video/mp4"})

    async def _beacon(self, request: web.Request) -> web.Response:
        self.beacons.append(dict(request.query))
        return web.Response(status=204)

    async def _hold(self, request: web.Request) -> web.Response:
        """Answered once the page reported a second of playback (or after 10 s)."""
        for _ in range(200):
            if self.played_seconds() >= 1.0:
                break
            await asyncio.sleep(0.05)
        return web.Response(text="held", content_type="text/plain")

    async def _known(self, request: web.Request) -> web.Response:
        """A body of known length (Content-Length)."""
        name = request.path.rsplit("/", 1)[-1].removesuffix(".bin")
        return web.Response(body=blob_bytes(name), content_type="application/octet-stream")

    async def _tagged(self, request: web.Request) -> web.Response:
        """The same bytes each time, with an ETag that stays or changes per response."""
        n = self.hits[request.path]
        tag = '"same"' if request.path.endswith("same.mp4") else f'"version-{n}"'
        return web.Response(
            body=blob_bytes("buffered"), content_type="video/mp4", headers={"ETag": tag}
        )

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        """A chunked body (no Content-Length), copied as it flows to the page."""
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = blob_bytes("chunked")
        for offset in range(0, len(data), 256 * 1024):
            await response.write(data[offset : offset + 256 * 1024])
        await response.write_eof()
        return response
