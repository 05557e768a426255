"""A hostile web server on 127.0.0.1, for the capture's limits (tests/test_hostile.py).

Written on raw asyncio streams rather than aiohttp so that it can break HTTP the way
a hostile server does: declare a 10 GB body and stream it for as long as anyone
reads, answer with a quarter of a megabyte of headers, redirect forever, never end
a response. Nothing large is ever built: the "10 GB" body is one 1 MiB block sent
again and again, and each route counts what it sent so a test can say how far the
capture read before its limits cut it.

Routes:

``/redirect/N``      302 to ``/redirect/N+1``, forever
``/huge``            an HTML page declaring ``HUGE_SIZE`` bytes, streamed lazily
``/silent``          reads the request and never answers, not even a status line
``/never-ends``      an HTML page whose chunked body gains a line every half second
``/huge-headers``    a page whose response carries ``HEADER_BYTES`` of header lines
``/big-headers-image`` the page ``/with-big-headers`` loads: an image under the same
                     flood of headers
``/busy``            a page whose script never yields the main thread again (an endless loop)
``/popups``          a page that opens popups (each opening another) and starts
                     downloads: ``<a download>``, an attachment in an iframe, and a
                     navigation to an attachment
``/attachment``, ``/file.bin`` the download's bytes, which start with ``DOWNLOAD_MARKER``
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from urllib.parse import urlsplit

#: What ``/huge`` declares as its Content-Length: 10 GiB, never materialised.
HUGE_SIZE = 10 * 1024**3
#: ``/huge`` sends this block over and over.
HUGE_BLOCK = b"<!-- " + b"x" * (1024 * 1024 - 9) + b" -->"
#: Header bytes ``/huge-headers`` sends: over Chromium's 256 KiB limit for a response head.
HEADER_BYTES = 256 * 1024 + 4096
#: Seconds between two lines of ``/never-ends``.
TRICKLE = 0.5
#: The first bytes of every download the hostile pages start; looked for on disk afterwards.
DOWNLOAD_MARKER = b"HOSTILE-DOWNLOAD-7f3c1e9a-"
#: The file name ``/popups`` asks the browser to save its downloads as.
DOWNLOAD_NAME = "hostile-download-7f3c1e9a.bin"
#: Each popup opens the next, up to this many (a popup storm, but a finite one).
POPUP_CHAIN = 50
#: How long the server waits for a request head, and how large the head may be.
REQUEST_TIMEOUT = 10.0
REQUEST_HEAD_LIMIT = 64 * 1024

POPUPS_PAGE = f"""<!doctype html>
<html><head><title>Popups and downloads</title></head>
<body>
<h1>POPUP-PAGE-MARKER</h1>
<a id="save" href="/file.bin" download="{DOWNLOAD_NAME}">save</a>
<script>
  for (let i = 0; i < 5; i++) window.open("/popup/" + i, "_blank");
  document.getElementById("save").click();
  const frame = document.createElement("iframe");
  frame.src = "/attachment?frame";
  document.body.append(frame);
  setTimeout(() => {{ location.href = "/attachment?navigation"; }}, 300);
</script>
</body></html>
"""


BUSY_PAGE = """<!doctype html><title>Busy</title><h1>BUSY-PAGE-MARKER</h1>
<script>setTimeout(() => { for (;;) {} }, 200);</script>
"""


def _popup_page(number: int) -> str:
    following = (
        f'<script>window.open("/popup/{number + 1}", "_blank");'
        'location.href = "/attachment?popup";</script>'
        if number < POPUP_CHAIN
        else ""
    )
    return f"<!doctype html><title>popup {number}</title><p>POPUP {number}</p>{following}"


def download_body() -> bytes:
    """The bytes of every download: the marker, then filler (small, but not tiny)."""
    return DOWNLOAD_MARKER + b"d" * (64 * 1024)


class HostileSite:
    """The hostile server, as an async context manager; ``sent`` counts bytes per route."""

    def __init__(self) -> None:
        self.port = 0
        self.sent: collections.Counter[str] = collections.Counter()
        self.hits: collections.Counter[str] = collections.Counter()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> HostileSite:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._closing.set()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # the endless responses end here
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- one connection --------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(
                        reader.readuntil(b"\r\n\r\n"), timeout=REQUEST_TIMEOUT
                    )
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                if len(head) > REQUEST_HEAD_LIMIT:
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                parts = request_line.split(" ")
                target = urlsplit(parts[1] if len(parts) > 1 else "/")
                route = target.path
                self.hits[route] += 1
                keep_open = await self._respond(route, target.query, writer)
                if not keep_open:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _send(self, writer: asyncio.StreamWriter, route: str, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent[route] += len(data)

    async def _respond(self, route: str, query: str, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; True when the connection may carry another."""
        if route.startswith("/redirect/"):
            number = int(route.rsplit("/", 1)[1] or 0)
            await self._send(writer, route, _head(302, [("Location", f"/redirect/{number + 1}")]))
            return True
        if route == "/huge":
            await self._huge(writer)
            return False
        if route == "/silent":
            await self._closing.wait()  # the request is read; no answer ever comes
            return False
        if route == "/never-ends":
            await self._never_ends(writer)
            return False
        if route == "/huge-headers":
            await self._page(writer, route, "<h1>HUGE-HEADERS-MARKER</h1>", _flood())
            return True
        if route == "/with-big-headers":
            body = '<h1>BIG-HEADERS-PAGE-MARKER</h1><img src="/big-headers-image">'
            await self._page(writer, route, body)
            return True
        if route == "/big-headers-image":
            await self._page(writer, route, "", _flood(), content_type="image/png")
            return True
        if route == "/busy":
            await self._page(writer, route, BUSY_PAGE)
            return True
        if route == "/popups":
            await self._page(writer, route, POPUPS_PAGE)
            return True
        if route.startswith("/popup/"):
            await self._page(writer, route, _popup_page(int(route.rsplit("/", 1)[1])))
            return True
        if route in ("/attachment", "/file.bin"):
            disposition = [("Content-Disposition", f'attachment; filename="{DOWNLOAD_NAME}"')]
            body = download_body()
            head = _head(
                200,
                [
                    ("Content-Type", "application/octet-stream"),
                    *(disposition if route == "/attachment" else []),
                    ("Content-Length", str(len(body))),
                ],
            )
            await self._send(writer, route, head + body)
            return True
        await self._page(writer, route, "<p>nothing here</p>", status=404)
        return True

    async def _page(
        self,
        writer: asyncio.StreamWriter,
        route: str,
        html: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        body = html.encode()
        headers = [("Content-Type", content_type), *(extra or [])]
        headers.append(("Content-Length", str(len(body))))
        await self._send(writer, route, _head(status, headers) + body)

    async def _huge(self, writer: asyncio.StreamWriter) -> None:
        headers = [("Content-Type", "text/html"), ("Content-Length", str(HUGE_SIZE))]
        await self._send(writer, "/huge", _head(200, headers))
        start = b"<!doctype html><h1>HUGE-BODY-MARKER</h1>"
        await self._send(writer, "/huge", start)
        left = HUGE_SIZE - len(start)
        while left > 0:
            block = HUGE_BLOCK[:left]
            await self._send(writer, "/huge", block)
            left -= len(block)

    async def _never_ends(self, writer: asyncio.StreamWriter) -> None:
        headers = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")]
        await self._send(writer, "/never-ends", _head(200, headers))
        line = 0
        while True:
            text = f"<p>NEVER-ENDS-LINE-{line}</p>\n".encode()
            await self._send(writer, "/never-ends", b"%x\r\n%s\r\n" % (len(text), text))
            line += 1
            await asyncio.sleep(TRICKLE)


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    reason = {200: "OK", 302: "Found", 404: "Not Found"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    if not any(name == "Content-Length" for name, _ in headers) and status == 302:
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _flood() -> list[tuple[str, str]]:
    """``HEADER_BYTES`` of header lines, 1 KiB each."""
    value = "v" * 1000
    return [(f"X-Flood-{n:04d}", value) for n in range(HEADER_BYTES // 1024)]
