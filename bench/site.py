"""The benchmarks' local web site: article pages, the 20-page site, and a big video.

Each article page is what a capture usually meets: a stylesheet, a script that
fetches JSON (XHR) and writes it into the page, three images above the fold and
one lazy image far below it that only loads once the page is scrolled. The video
page points a ``<video>`` element at a file on disk, served with ranges like any
web server, so the media stage downloads it whole: ``/video`` with
``preload="none"`` (the browser leaves the file alone; only the media stage
fetches it) and ``/video-played`` without (the browser fetches it too, and the
recorder keeps what it fetched).

The site pages ``/site/{n}`` (the capture benchmark's twenty) are what a capture
must keep whole: three images, a stylesheet, a script that writes a block with a
recognisable text (:func:`late_text`) and one more image 200 ms after the load
event, and a lazy image (``loading=lazy``) 3,000 px down at the end.
:func:`site_items` names every URL a page loads, for the benchmark that looks for
each of them in the capture's WARC.
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


#: Milliseconds after the load event at which a site page's script adds its block.
LATE_DELAY_MS = 200

#: A site page's script: its block (text and image) added ``LATE_DELAY_MS`` after load.
LATE_SCRIPT = """window.addEventListener('load', () => setTimeout(() => {
  const block = document.createElement('section');
  block.id = 'late';
  const p = document.createElement('p');
  p.textContent = %(text)s;
  const img = document.createElement('img');
  img.src = %(image)s;
  img.width = 320;
  img.height = 120;
  img.alt = 'late figure';
  block.append(p, img);
  document.querySelector('main').prepend(block);
}, %(delay)d));
"""


def late_text(n: str) -> str:
    """The text the script of ``/site/{n}`` writes after load: found only if it ran."""
    return f"LATE-BLOCK-{n} written by the page script {LATE_DELAY_MS} ms after load"


def site_items(n: str) -> dict[str, str]:
    """Every path ``/site/{n}`` loads, by what it is: what a whole capture keeps."""
    return {
        "image 1": f"/img/site-{n}-1.png",
        "image 2": f"/img/site-{n}-2.png",
        "image 3": f"/img/site-{n}-3.png",
        "stylesheet": f"/static/style.css?page=site-{n}",
        "script": f"/static/late.js?page={n}",
        "late image": f"/img/site-{n}-late.png",
        "lazy image": f"/img/site-{n}-lazy.png",
    }


def _site_page(n: str) -> str:
    items = site_items(n)
    images = "".join(
        f'<img src="{items[f"image {i}"]}" width="320" height="120" alt="figure {i}">'
        for i in (1, 2, 3)
    )
    words = " ".join(f"Page {n}, sentence {k} of an ordinary report." for k in range(40))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Site page {n}</title>
<link rel="stylesheet" href="{items["stylesheet"]}">
<script src="{items["script"]}" defer></script></head>
<body><main><h1>Site page {n}</h1><p>{words}</p>{images}
<div class="spacer"></div>
<img src="{items["lazy image"]}" loading="lazy" width="320" height="120" alt="lazy">
</main></body></html>
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
    """Article pages ``/article/{n}``, site pages ``/site/{n}`` and, when given a file,
    ``/video`` playing it."""

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
                web.get("/site/{n}", self._site_page),
                web.get("/static/late.js", self._late_script),
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

    async def _site_page(self, request: web.Request) -> web.Response:
        return web.Response(text=_site_page(request.match_info["n"]), content_type="text/html")

    async def _late_script(self, request: web.Request) -> web.Response:
        n = request.query.get("page", "")
        script = LATE_SCRIPT % {
            "text": json.dumps(late_text(n)),
            "image": json.dumps(site_items(n)["late image"]),
            "delay": LATE_DELAY_MS,
        }
        return web.Response(text=script, content_type="text/javascript")

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
