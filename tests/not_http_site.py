"""What a page asks for beyond HTTP, and a server that still answers in HTTP/1.0.

``/not-http`` on the test site (tests/site.py serves it) asks for the kinds of URL
found on saved news pages, blogs and wikis that are not HTTP: an image on its
author's own disk (``file:///C|/…``, as pages saved on Windows carry), an
ad-blocker probe (``chrome-extension://invalid/``), ``data:`` images, ``blob:``
URLs its script makes (one for an image, one it fetches) and a WebSocket. The
markers it writes into the page show that the browser did serve what it could.

:class:`Http10Server` is a raw asyncio server that answers ``HTTP/1.0 200 OK``,
which aiohttp cannot be made to do (it runs like the other local servers, as a
``LoopbackServer``); it keeps each request line it received, so a test can
compare the WARC's request line with what was really sent.
"""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from tests.loopback import LoopbackServer

#: A 1x1 GIF: a data: URL short enough to be kept whole (with its size and SHA-256).
GIF_BASE64 = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
SHORT_DATA_URL = "data:image/gif;base64," + GIF_BASE64
#: An SVG as a data: URL, longer than the page info keeps of one.
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    '<rect width="40" height="40" fill="#094"/><circle cx="20" cy="20" r="9" fill="#fff"/></svg>'
)
LONG_DATA_URL = "data:image/svg+xml;base64," + base64.b64encode(SVG.encode()).decode()
#: The image a page saved on Windows points at; Chromium reports it as ``file:///C%7C/…``.
LOCAL_FILE_URL = "file:///C|/Users/witness/Pictures/photo.jpg"
PROBE_URL = "chrome-extension://invalid/"
#: What the page's script fetches from a blob: URL it made, and writes into the page.
BLOB_TEXT = "BLOB-FETCH-MARKER"
#: What the WebSocket at ``/ws`` sends, which the page writes into itself.
SOCKET_TEXT = "SOCKET-MESSAGE-MARKER"

NOT_HTTP_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not HTTP</title></head>
<body>
<p>NOT-HTTP-MARKER</p>
<img src="{LOCAL_FILE_URL}" alt="local file">
<img src="{PROBE_URL}" alt="probe">
<img src="{SHORT_DATA_URL}" alt="short data">
<img src="{LONG_DATA_URL}" alt="long data">
<img id="made" alt="blob">
<p id="fetched"></p>
<p id="socket"></p>
<script>
const text = new Blob(["{BLOB_TEXT}"], {{type: "text/plain"}});
fetch(URL.createObjectURL(text))
  .then((response) => response.text())
  .then((body) => {{ document.getElementById("fetched").textContent = body; }});
const gif = Uint8Array.from(atob("{GIF_BASE64}"), (c) => c.charCodeAt(0));
document.getElementById("made").src = URL.createObjectURL(new Blob([gif], {{type: "image/gif"}}));
const socket = new WebSocket(location.origin.replace("http", "ws") + "/ws");
socket.onmessage = (event) => {{
  document.getElementById("socket").textContent = event.data;
  socket.close();
}};
</script>
</body></html>
"""


async def not_http_page(request: web.Request) -> web.Response:
    return web.Response(text=NOT_HTTP_PAGE, content_type="text/html", charset="utf-8")


async def web_socket(request: web.Request) -> web.WebSocketResponse:
    """Send one message, then wait for the page to close the socket."""
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_str(SOCKET_TEXT)
    async for _ in socket:
        pass
    return socket


#: What :class:`Http10Server` serves: path -> (content type, body).
HTTP10_FILES = {
    "/": (
        "text/html",
        b'<!doctype html><title>Old server</title><p>HTTP10-MARKER</p><img src="/dot.gif">',
    ),
    "/dot.gif": ("image/gif", base64.b64decode(GIF_BASE64)),
}


class Http10Server(LoopbackServer):
    """Answers every request in HTTP/1.0 and closes the connection, on 127.0.0.1."""

    what = "HTTP/1.0 server"

    def __init__(self) -> None:
        super().__init__()
        self._server: asyncio.Server | None = None
        #: Each request line received, in order (``GET / HTTP/1.1``).
        self.request_lines: list[str] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._server = None
        self._port = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.request_lines.append(line)
        path = line.split(" ")[1] if line.count(" ") == 2 else "/"
        kind, body = HTTP10_FILES.get(path, ("text/plain", b"not here"))
        status = "200 OK" if path in HTTP10_FILES else "404 Not Found"
        header = (
            f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n\r\n"
        )
        writer.write(header.encode("ascii") + body)
        try:
            await writer.drain()
        finally:
            writer.close()
