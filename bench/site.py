"""The benchmarks' local web site: ordinary article pages and one page with a big video.

Each article page is what a capture usually meets: a stylesheet, a script that
fetches JSON (XHR) and writes it into the page, three images above the fold and
one lazy image far below it that only loads once the page is scrolled. The video
page points a ``<video>`` element at a file on disk, served with ranges like any
web server, so the media stage downloads it whole: ``/video`` with
``preload="none"`` (the browser leaves the file alone; only the media stage
fetches it) and ``/video-played`` without (the browser fetches it too, and the
recorder keeps what it fetched).
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from tests.loopback import LoopbackServer
from tests.site import png_bytes

COLOURS = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 180, 30)]

STYLE = """body { font-family: sans-serif; margin: 2em; max-width: 50em; }
img { display: block; margin: 1em 0; }
.spacer { height: 3000px; background: linear-gradient(#fff, #ddd); }
"""

SCRIPT = """(async () => {
  const n = document.body.dataset.page;
  const reply = await fetch(`/api/item/${n}.json`);
  const item = await reply.json();
  const p = document.createElement('p');
  p.id = 'loaded';
  p.textContent = item.text;
  document.querySelector('main').append(p);
})();
"""


def _article(n: str) -> str:
    images = "".join(
        f'<img src="/img/{n}-{i}.png" width="320" height="120" alt="figure {i}">' for i in range(3)
    )
    words = " ".join(f"paragraph {n} sentence {k} of an ordinary article." for k in range(40))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Article {n}</title>
<link rel="stylesheet" href="/static/style.css?page={n}">
<script src="/static/app.js?page={n}" defer></script></head>
<body data-page="{n}"><main><h1>Article {n}</h1><p>{words}</p>{images}
<div class="spacer"></div>
<img src="/img/{n}-lazy.png" loading="lazy" width="320" height="120" alt="lazy">
</main></body></html>
"""


class BenchSite(LoopbackServer):
    """Article pages ``/article/{n}`` and, when given a file, ``/video`` playing it."""

    __test__ = False
    what = "benchmark site"

    def __init__(self, video: Path | None = None) -> None:
        super().__init__()
        self.video = video

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/article/{n}", self._article),
                web.get("/static/style.css", self._text(STYLE, "text/css")),
                web.get("/static/app.js", self._text(SCRIPT, "text/javascript")),
                web.get("/api/item/{n}.json", self._item),
                web.get("/img/{name}.png", self._image),
                web.get("/video", self._video_page(' preload="none"')),
                web.get("/video-played", self._video_page("")),
                web.get("/media/video.mp4", self._video_file),
            ]
        )
        await self.serve(app, shutdown_timeout=1.0)

    async def _article(self, request: web.Request) -> web.Response:
        n = request.match_info["n"]
        return web.Response(text=_article(n), content_type="text/html")

    @staticmethod
    def _text(body: str, content_type: str):  # type: ignore[no-untyped-def]
        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=body, content_type=content_type)

        return serve

    async def _item(self, request: web.Request) -> web.Response:
        n = request.match_info["n"]
        return web.Response(
            text=json.dumps({"text": f"ITEM-{n} fetched by the page's script"}),
            content_type="application/json",
        )

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        colour = COLOURS[sum(map(ord, name)) % len(COLOURS)]
        return web.Response(body=png_bytes(320, 120, colour), content_type="image/png")

    @staticmethod
    def _video_page(attributes: str):  # type: ignore[no-untyped-def]
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Video</title></head>"
            "<body><p>A long recording.</p>"
            f'<video src="/media/video.mp4"{attributes} controls width="320"></video></body></html>'
        )

        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        return serve

    async def _video_file(self, request: web.Request) -> web.StreamResponse:
        if self.video is None:
            raise web.HTTPNotFound()
        return web.FileResponse(self.video, headers={"Content-Type": "video/mp4"})
