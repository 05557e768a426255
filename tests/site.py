"""A local web site that the capture tests load in a real Chromium.

There is no internet on the test machines, and a capture tool is only as good
as the awkward pages it has been tried on, so this site reproduces the awkward
cases in code: sub-resources of every kind, script-made content, an endless
feed, redirect chains, compressed and non-UTF-8 bodies, responses that never
end and a body too large to hold in memory. Everything, images included, is
generated here so that no binary fixture has to be committed.

The marker strings (``RICH-PAGE-MARKER`` and friends) are what the tests look
for in the recorded WARC; each appears only where the test needs it to, so
finding it proves the capture saw that exact part of the site.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import gzip
import hashlib
import random
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web

from tests.loopback import LoopbackServer
from tests.not_http_site import not_http_page, web_socket

#: Size of ``/big.bin`` unless the site is built with another ``big_size``.
BIG_SIZE = 200 * 1024 * 1024
#: ``/big.bin`` is generated and streamed in pieces of this size.
BIG_CHUNK = 1024 * 1024
#: Seed of the generator behind ``/big.bin``; fixed so the expected hash is reproducible.
BIG_SEED = 20240229

#: The sentence of ``/arabic``, which the page sends encoded in windows-1256.
ARABIC_TEXT = "شهادة من الشاهد الأول"
ARABIC_TITLE = "صفحة عربية"

#: How long the endless responses wait between two bytes.
TRICKLE_SECONDS = 1.0
#: Backstop for :meth:`TestSite.stop`: handlers still running after this are cancelled.
SHUTDOWN_TIMEOUT = 2.0

#: The feed loads batches 2 and 3 by script; there is no batch after this one.
FEED_LAST_BATCH = 3
FEED_BATCH_SIZE = 10
FEED_MARKER = "FEED-THIRD-BATCH-MARKER"
#: The value of the ``session`` cookie that opens ``/members``.
MEMBERS_COOKIE = "letmein"


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid single-colour PNG, built by hand so no image library or file is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    # 8-bit truecolour, no interlace; every scanline starts with filter type 0.
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def big_chunks(size: int = BIG_SIZE) -> Iterator[bytes]:
    """The body of ``/big.bin``: deterministic pseudo-random bytes, one chunk at a time.

    Random rather than repeated bytes so that a truncated, shifted or
    compressed copy cannot pass for the original; generated lazily so that
    neither the site nor the expected hash ever holds the whole body.
    """
    generator = random.Random(BIG_SEED)
    remaining = size
    while remaining > 0:
        piece = min(BIG_CHUNK, remaining)
        yield generator.randbytes(piece)
        remaining -= piece


@functools.cache
def big_body_sha256(size: int = BIG_SIZE) -> str:
    """Hex SHA-256 of ``/big.bin`` of ``size`` bytes, regenerated (cached: 200 MiB takes ~1 s)."""
    digest = hashlib.sha256()
    for piece in big_chunks(size):
        digest.update(piece)
    return digest.hexdigest()


def _html(title: str, body: str, charset: str = "utf-8") -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="{charset}"><title>{title}</title></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _gzip_page() -> bytes:
    lines = "\n".join(
        f"<p>GZIP-PAGE-MARKER line {n}: compressed on the wire, identical once decoded.</p>"
        for n in range(1, 61)
    )
    return _html("Gzip page", lines).encode("utf-8")


#: The uncompressed body of ``/gzip`` (a few KB), to compare with what a capture stored.
GZIP_PAGE_BODY: bytes = _gzip_page()
#: What ``/gzip`` actually sends; ``mtime=0`` keeps the bytes the same on every run.
GZIP_PAGE_COMPRESSED: bytes = gzip.compress(GZIP_PAGE_BODY, mtime=0)

INDEX_LINKS = (
    ("/rich", "Rich page: styles, font, script, fetch, iframe, srcset, lazy image"),
    ("/feed", "Infinite scroll feed"),
    ("/redirect/1", "Redirect chain 302, 301, 307"),
    ("/missing", "404 page"),
    ("/gzip", "Gzip-encoded page"),
    ("/arabic", "windows-1256 page"),
    ("/never-finishes", "Page with an image that never finishes"),
    ("/slow-document", "Document that never finishes"),
    ("/big", "Page with a 200 MiB resource"),
    ("/status/500", "Status 500"),
)

RICH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rich page</title>
<link rel=stylesheet href="/static/style.css"></head>
<body>
<h1>Rich page</h1>
<p>RICH-PAGE-MARKER: text in the page itself, with non-ASCII to prove UTF-8: café, Ωμέγα.</p>
<div class="hero"></div>
<p id="xhr"></p>
<iframe src="/frame" width="300" height="150" title="frame"></iframe>
<img srcset="/static/small.png 1x, /static/large.png 2x" src="/static/small.png" alt="srcset">
<div style="height: 5000px"></div>
<img loading="lazy" src="/static/lazy.png" width=50 height=50 alt="lazy">
<script src="/static/app.js"></script>
</body></html>
"""

STYLE_CSS = """@font-face { font-family: TestFont; src: url("/static/font.woff2") format("woff2"); }
body { font-family: TestFont, sans-serif }
.hero { background-image: url("/static/bg.png"); height: 50px }
"""

# The markers it writes are not in the HTML, so finding them in a capture proves
# the script ran (INJECTED-BY-SCRIPT) and its fetch was answered (XHR-PAYLOAD-MARKER,
# which only /api/data.json contains).
APP_JS = """// Loaded at the end of <body>, so the elements it touches already exist.
const injected = document.createElement("p");
injected.id = "injected";
injected.textContent = "INJECTED-BY-SCRIPT";
document.body.insertBefore(injected, document.body.firstChild);
fetch("/api/data.json")
  .then((response) => response.json())
  .then((data) => { document.getElementById("xhr").textContent = data.message; });
"""

FRAME_PAGE = _html(
    "Frame", '<p>IFRAME-CONTENT-MARKER</p>\n<img src="/static/frame.png" width=10 height=10>'
)

# Not a decodable font: Chromium rejects it after downloading it, which is all
# the tests need (the request happens and is recorded).
FONT_WOFF2 = b"wOF2\x00\x01\x00\x00" + bytes(range(256)) * 4

#: ``/static/<name>`` -> (content type, body). Distinct colours tell the images apart.
STATIC: dict[str, tuple[str, bytes]] = {
    "style.css": ("text/css; charset=utf-8", STYLE_CSS.encode("utf-8")),
    "app.js": ("text/javascript; charset=utf-8", APP_JS.encode("utf-8")),
    "font.woff2": ("font/woff2", FONT_WOFF2),
    "bg.png": ("image/png", png_bytes(8, 8, (0, 0, 255))),
    "frame.png": ("image/png", png_bytes(10, 10, (255, 255, 0))),
    "small.png": ("image/png", png_bytes(10, 10, (255, 0, 0))),
    "large.png": ("image/png", png_bytes(20, 20, (0, 160, 0))),
    "lazy.png": ("image/png", png_bytes(50, 50, (255, 0, 255))),
}

# The marker is deliberately absent from this page and its script: it only
# exists in the JSON of batch 3, so seeing it means the scroll got that far.
FEED_SCRIPT = """<script>
(() => {
  const items = document.getElementById("items");
  const sentinel = document.getElementById("sentinel");
  const lastBatch = %(last)d;
  let next = 2;
  let loading = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (loading || !entries.some((entry) => entry.isIntersecting)) return;
    loading = true;
    try {
      const response = await fetch("/feed/batch?n=" + next);
      const batch = await response.json();
      for (const text of batch.items) {
        const item = document.createElement("div");
        item.className = "item";
        item.style.height = "400px";
        item.textContent = text;
        items.appendChild(item);
      }
      next += 1;
      // Observing again reports at once if the sentinel is still in view.
      observer.unobserve(sentinel);
      if (next <= lastBatch) observer.observe(sentinel);
    } catch (error) {
      console.error("feed stopped", error);
      observer.disconnect();
    } finally {
      loading = false;
    }
  }, {rootMargin: "200px"});
  observer.observe(sentinel);
})();
</script>"""


def feed_items(batch: int) -> list[str]:
    """Texts of the items of a feed batch (1-based); only batch 3 carries the marker."""
    first = (batch - 1) * FEED_BATCH_SIZE + 1
    suffix = f" {FEED_MARKER}" if batch == 3 else ""
    return [f"feed item {n}{suffix}" for n in range(first, first + FEED_BATCH_SIZE)]


def _feed_page() -> str:
    items = "\n".join(
        f'<div class=item style="height:400px">{text}</div>' for text in feed_items(1)
    )
    body = (
        f'<h1>Feed</h1>\n<div id="items">\n{items}\n</div>\n'
        f'<div id="sentinel" style="height:1px"></div>\n'
        f"{FEED_SCRIPT % {'last': FEED_LAST_BATCH}}"
    )
    return _html("Feed", body)


FEED_PAGE = _feed_page()

#: What ``/arabic`` sends: the page in windows-1256, which its headers and meta declare.
ARABIC_PAGE: bytes = _html(ARABIC_TITLE, f"<p>{ARABIC_TEXT}</p>", "windows-1256").encode("cp1256")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TestSite(LoopbackServer):
    """The test site on 127.0.0.1, on a port the OS chooses so parallel runs never clash.

    ``hits`` counts requests per path (query left out), so tests can tell
    whether the browser asked for something, and how often. Every response
    says ``Cache-Control: no-store``: the browser is shared by the whole test
    session, and a resource (or a 301) served from its cache would never reach
    the network, hence never the capture.
    """

    what = "test site"

    def __init__(self, big_size: int = BIG_SIZE) -> None:
        super().__init__()
        self.big_size = big_size
        self.hits: collections.Counter[str] = collections.Counter()
        # Set by stop(): the endless responses watch it, so stopping never waits on them.
        self._stopping = asyncio.Event()

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (which starts with ``/``) on the running site."""
        return self.origin + path

    async def start(self) -> None:
        self._stopping.clear()
        app = web.Application(middlewares=[self._count_hits])
        app.on_response_prepare.append(_no_store)
        app.add_routes(
            [
                web.get("/", self._index),
                web.get("/rich", self._rich),
                web.get("/frame", self._frame),
                web.get("/api/data.json", self._data),
                web.get("/static/{name}", self._static),
                web.get("/feed", self._feed),
                web.get("/feed/batch", self._feed_batch),
                web.get("/redirect/1", _redirect(web.HTTPFound, "/redirect/2")),
                web.get("/redirect/2", _redirect(web.HTTPMovedPermanently, "/redirect/3")),
                web.get("/redirect/3", _redirect(web.HTTPTemporaryRedirect, "/final")),
                web.get("/final", self._final),
                web.get("/missing", self._missing),
                web.get("/gzip", self._gzip),
                web.get("/arabic", self._arabic),
                web.get("/never-finishes", self._never_finishes),
                web.get("/hang", self._hang),
                web.get("/slow-document", self._slow_document),
                web.get("/big", self._big),
                web.get("/big.bin", self._big_bin),
                web.get(r"/status/{code:\d{3}}", self._status),
                web.get("/cross-frame", self._cross_frame),
                web.get("/lost-resource", self._lost_resource),
                web.get("/members", self._members),
                web.get("/not-http", not_http_page),
                web.get("/ws", web_socket),
            ]
        )
        await self.serve(app, shutdown_timeout=SHUTDOWN_TIMEOUT)

    async def _cross_frame(self, request: web.Request) -> web.Response:
        """An iframe from another site (localhost vs 127.0.0.1): Chromium puts it in its
        own process, so only auto-attaching to child targets records what it loads."""
        frame = f"http://localhost:{self.port}/frame"
        body = f'<p>CROSS-FRAME-MARKER</p><iframe src="{frame}" width=300 height=150></iframe>'
        return _html_response(_html("Cross-site frame", body))

    async def _lost_resource(self, request: web.Request) -> web.Response:
        """A page whose image lives on a port where nothing listens: a lost resource."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        body = f'<p>LOST-RESOURCE-MARKER</p><img src="http://127.0.0.1:{dead_port}/gone.png">'
        return _html_response(_html("Lost resource", body))

    async def _members(self, request: web.Request) -> web.Response:
        """Members-only content, shown only with the session cookie ``session=letmein``."""
        if request.cookies.get("session") == MEMBERS_COOKIE:
            body = "<p>MEMBERS-ONLY-MARKER: the post behind the login.</p>"
        else:
            body = "<p>LOGIN-WALL-MARKER: log in to see this post.</p>"
        return _html_response(_html("Members", body))

    async def stop(self) -> None:
        """Stop serving; endless responses are cut so this returns within seconds."""
        self._stopping.set()
        await super().stop()

    # -- plumbing ---------------------------------------------------------------

    @web.middleware
    async def _count_hits(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await handler(request)

    async def _trickle(
        self, request: web.Request, response: web.StreamResponse, byte: bytes
    ) -> None:
        """Write ``byte`` every second until the client leaves or the site stops.

        When the site stops, the connection is closed rather than the body
        ended, so a client can never mistake what it got for a whole response.
        """
        try:
            while not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), TRICKLE_SECONDS)
                except TimeoutError:
                    await response.write(byte)
        except ConnectionError:
            return  # the client went away
        if request.transport is not None:
            request.transport.close()

    # -- pages ------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        links = "\n".join(f'<li><a href="{href}">{text}</a></li>' for href, text in INDEX_LINKS)
        return _html_response(_html("Test site index", f"<h1>Test site</h1>\n<ul>\n{links}\n</ul>"))

    async def _rich(self, request: web.Request) -> web.Response:
        return _html_response(RICH_PAGE)

    async def _frame(self, request: web.Request) -> web.Response:
        return _html_response(FRAME_PAGE)

    async def _data(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "XHR-PAYLOAD-MARKER"})

    async def _static(self, request: web.Request) -> web.Response:
        found = STATIC.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        content_type, body = found
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _feed(self, request: web.Request) -> web.Response:
        return _html_response(FEED_PAGE)

    async def _feed_batch(self, request: web.Request) -> web.Response:
        try:
            batch = int(request.query.get("n", ""))
        except ValueError:
            raise web.HTTPBadRequest(text="n must be a number") from None
        if not 1 <= batch <= FEED_LAST_BATCH:
            raise web.HTTPNotFound(text=f"no feed batch {batch}")
        return web.json_response(
            {"batch": batch, "items": feed_items(batch), "last": batch == FEED_LAST_BATCH}
        )

    async def _final(self, request: web.Request) -> web.Response:
        return _html_response(_html("Final", "<p>REDIRECT-FINAL-MARKER</p>"))

    async def _missing(self, request: web.Request) -> web.Response:
        return _html_response(_html("Not found", "<p>NOT-FOUND-MARKER</p>"), status=404)

    async def _gzip(self, request: web.Request) -> web.Response:
        # Compressed here rather than by aiohttp, which only compresses on request
        # (enable_compression), so the bytes on the wire are exactly ours and
        # Content-Length is the compressed size.
        return web.Response(
            body=GZIP_PAGE_COMPRESSED,
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(GZIP_PAGE_COMPRESSED)),
            },
        )

    async def _arabic(self, request: web.Request) -> web.Response:
        return web.Response(
            body=ARABIC_PAGE, headers={"Content-Type": "text/html; charset=windows-1256"}
        )

    async def _never_finishes(self, request: web.Request) -> web.Response:
        body = '<p>NEVER-FINISHES-MARKER</p>\n<img src="/hang" width=10 height=10 alt="hang">'
        return _html_response(_html("Never finishes", body))

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """An image whose headers and first bytes arrive, and whose end never does."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(b"\x89PNG\r\n\x1a\n")
        except ConnectionError:
            return response
        await self._trickle(request, response, b"\x00")
        return response

    async def _slow_document(self, request: web.Request) -> web.StreamResponse:
        """A document that is readable at once and never complete."""
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        first = "<html><head><title>Slow</title></head><body><p>SLOW-DOC-FIRST-PART</p>"
        try:
            await response.write(first.encode("utf-8"))
        except ConnectionError:
            return response
        await self._trickle(request, response, b" ")
        return response

    async def _big(self, request: web.Request) -> web.Response:
        body = '<p>A big download.</p>\n<a href="/big.bin">big.bin</a>\n<img src="/big.bin">'
        return _html_response(_html("Big", body))

    async def _big_bin(self, request: web.Request) -> web.StreamResponse:
        """``big_size`` bytes streamed a MiB at a time, never held in memory whole."""
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = self.big_size
        await response.prepare(request)
        try:
            for piece in big_chunks(self.big_size):
                if self._stopping.is_set():
                    if request.transport is not None:
                        request.transport.close()
                    break
                await response.write(piece)
        except ConnectionError:
            pass  # the client went away
        return response

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if not 200 <= code <= 599:
            raise web.HTTPNotFound(text=f"status {code} is not served")
        if code in (204, 205, 304):  # these may not carry a body
            return web.Response(status=code)
        return _html_response(_html(f"Status {code}", f"<p>STATUS-{code}</p>"), status=code)


def _html_response(html: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def _redirect(kind: type[web.HTTPMove], location: str) -> Handler:
    """A handler answering with redirect ``kind`` to the relative ``location``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raise kind(location=location)

    return handler


async def _no_store(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
