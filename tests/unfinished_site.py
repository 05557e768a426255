"""Pages that ask for what the network will never bring: the settle must not wait for it.

Saved news pages, served locally with their outside resources unreachable, ask for
``blob:`` URLs their scripts make (one of them revoked before it is loaded, one a
shared worker's, whose outcome the browser reports to no page), ``data:`` images,
``chrome-extension://invalid/`` probes and ``file:`` images, images from hosts that
do not resolve and from ports that refuse connections, through redirects, from
out-of-process iframes, from a service worker and from ``<link rel=preload>``. And
frames and workers close while their requests are in flight, which the browser
then reports on no session the recorder hears. Every one of these is over at once
in the browser (served from memory, refused, or cancelled); a capture that waits
for one of them waits out its caps.

Nothing here leaves the machine: the unresolvable host is ``unresolvable.test``,
which the browser the tests launch maps to "not found" itself
(:data:`RESOLVER_RULES`), before any DNS is asked; the refusing port is a socket
bound on 127.0.0.1 that never listens (:class:`RefusingPort`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from tests.loopback import Handler, LoopbackServer, html_page

#: The host that never resolves. ``.test`` is reserved (RFC 6761): never a real host.
UNRESOLVABLE = "http://unresolvable.test"
#: Chromium's own resolver answers "not found" for the host, with no DNS traffic.
RESOLVER_RULES = "--host-resolver-rules=MAP unresolvable.test ~NOTFOUND"
PROBE_URL = "chrome-extension://invalid/"
#: The image a page saved on Windows points at; Chromium reports it as ``file:///C%7C/…``.
LOCAL_FILE_URL = "file:///C|/Users/witness/Pictures/photo.jpg"
#: A 1x1 GIF, as a data: URL and as the bytes the page's script puts in a blob.
GIF_BASE64 = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
DATA_URL = "data:image/gif;base64," + GIF_BASE64
#: Each blob: URL the blob page makes, by what it is loaded as; the page writes
#: ``<name> <url>`` for each into itself, and what was read from it (the markers).
BLOB_LOADS = ("script", "fetch", "worker", "image", "shared-worker")
BLOB_MARKERS = ("BLOB-SCRIPT-RAN", "BLOB-FETCH-READ", "BLOB-WORKER-ANSWERED", "BLOB-IMAGE-SHOWN")
#: What the page writes once its revoked blob: URL has failed to load, as it must.
REVOKED_MARKER = "REVOKED-BLOB-REFUSED"
#: What the page writes once its service worker is running.
SERVICE_WORKER_MARKER = "SERVICE-WORKER-READY"
#: What the page writes once it has closed each frame or worker (:data:`GONE_PAGE`).
GONE_MARKERS = ("FRAME-REMOVED", "FRAME-NAVIGATED-AWAY", "WORKER-TERMINATED")


class RefusingPort:
    """A port on 127.0.0.1 that refuses every connection: bound, never listening.

    Held bound for as long as the test runs, so that no other process can take the
    port and answer on it.
    """

    def __init__(self) -> None:
        self._socket = socket.socket()

    def __enter__(self) -> Self:
        self._socket.bind(("127.0.0.1", 0))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._socket.close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"


def _html(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body>{body}</body></html>"
    )


# Each blob: URL is written into the page with what it was loaded as, so that a test
# can find each in the page info; then what each one served is written too.
BLOB_PAGE = _html(
    "Blob URLs",
    '<p>BLOB-PAGE-MARKER</p><pre id="urls"></pre><pre id="read"></pre>'
    + '<img id="made" alt="blob image">'
    + f"""<script>
const said = (text) => {{ document.getElementById("read").textContent += text + "\\n"; }};
const made = (name, parts, type) => {{
  const url = URL.createObjectURL(new Blob(parts, {{type}}));
  document.getElementById("urls").textContent += name + " " + url + "\\n";
  return url;
}};
const script = document.createElement("script");
script.src = made("script", ['said("{BLOB_MARKERS[0]}");'], "text/javascript");
document.body.appendChild(script);
fetch(made("fetch", ["{BLOB_MARKERS[1]}"], "text/plain"))
  .then((response) => response.text()).then(said);
const worker = new Worker(made("worker", ['postMessage("{BLOB_MARKERS[2]}");'], "text/javascript"));
worker.onmessage = (event) => said(event.data);
const gif = Uint8Array.from(atob("{GIF_BASE64}"), (c) => c.charCodeAt(0));
const image = document.getElementById("made");
image.onload = () => said("{BLOB_MARKERS[3]}");
image.src = made("image", [gif], "image/gif");
// A shared worker's script is fetched for the worker, which no page's session hears:
// the browser reports no outcome for it to the recorder, ever.
new SharedWorker(made("shared-worker", ["onconnect = () => {{}};"], "text/javascript"));
</script>""",
)

REVOKED_PAGE = _html(
    "Revoked blob URL",
    '<p>REVOKED-PAGE-MARKER</p><p id="said"></p><img id="gone" alt="revoked blob">'
    + f"""<script>
const gone = URL.createObjectURL(new Blob(["never read"], {{type: "text/plain"}}));
URL.revokeObjectURL(gone);
document.getElementById("gone").src = gone;
fetch(gone).catch(() => {{ document.getElementById("said").textContent = "{REVOKED_MARKER}"; }});
</script>""",
)

DATA_PAGE = _html("Data URL", f'<p>DATA-PAGE-MARKER</p><img src="{DATA_URL}" alt="data image">')

#: Schemes the browser refuses outright: an ad-blocker probe (as an image and a
#: fetch) and an image on the author's own disk.
REFUSED_SCHEMES_PAGE = _html(
    "Refused schemes",
    f'<p>REFUSED-SCHEMES-MARKER</p><img src="{PROBE_URL}" alt="probe">'
    f'<img src="{LOCAL_FILE_URL}" alt="local file">'
    f'<script>fetch("{PROBE_URL}").catch(() => {{}});</script>',
)


def refused_page(refusing: str) -> str:
    """A port that refuses: an image asked for directly, through a redirect, and a frame."""
    return _html(
        "Refused",
        f'<p>REFUSED-PAGE-MARKER</p><img src="{refusing}/direct.png" alt="direct">'
        f'<img src="/redirect?to={refusing}/redirected.png" alt="redirected">'
        f'<iframe src="{refusing}/frame.html" width=200 height=100></iframe>',
    )


def unresolvable_page(other_site: str) -> str:
    """A host that does not resolve: an image, a redirect to it, a preload, a frame on it,
    what a service worker fetches from it, and an out-of-process iframe (another site)
    asking for it in turn."""
    return _html(
        "Unresolvable",
        f'<link rel="preload" href="{UNRESOLVABLE}/preload.woff2" as="font" crossorigin>'
        f'<p>UNRESOLVABLE-PAGE-MARKER</p><p id="sw"></p>'
        f'<img src="{UNRESOLVABLE}/direct.png" alt="direct">'
        f'<img src="/redirect?to={UNRESOLVABLE}/redirected.png" alt="redirected">'
        f'<iframe src="{UNRESOLVABLE}/frame.html" width=200 height=100></iframe>'
        f'<iframe src="{other_site}/frame" width=200 height=100></iframe>'
        f"""<script>
navigator.serviceWorker.register("/sw.js").then(() => navigator.serviceWorker.ready)
  .then(() => fetch("/sw-ready.json"))
  .then(() => {{ document.getElementById("sw").textContent = "{SERVICE_WORKER_MARKER}"; }});
</script>""",
    )


#: The out-of-process iframe of the unresolvable page (it is on another site).
FRAME_PAGE = _html(
    "Frame",
    f'<p>FRAME-MARKER</p><img src="{UNRESOLVABLE}/in-frame.png" alt="in frame">'
    f'<img src="/redirect?to={UNRESOLVABLE}/in-frame-redirected.png" alt="redirected">',
)

#: A service worker that fetches while it installs: from the unresolvable host, and
#: from its own origin (which answers).
SERVICE_WORKER = f"""
self.addEventListener("install", (event) => {{
  event.waitUntil(Promise.all([
    fetch("{UNRESOLVABLE}/sw-install.json").catch(() => null),
    fetch("/sw-install.json"),
  ]));
}});
"""


def gone_page(other_site: str) -> str:
    """Frames and a worker that close with a request in flight.

    Each fetches ``/hang?by=…`` (headers and a few bytes, then nothing, ever) and says
    so once the headers are in; the page then removes the first frame, navigates the
    second to this page's own site (out of its process), and terminates the worker.
    """
    frame = f"{other_site}/hanging-frame?by="
    return _html(
        "Gone",
        '<p>GONE-PAGE-MARKER</p><p id="done"></p>'
        f'<iframe id="removed" src="{frame}removed" width=200 height=100></iframe>'
        f'<iframe id="navigated" src="{frame}navigated" width=200 height=100></iframe>'
        f"""<script>
const done = (text) => {{ document.getElementById("done").textContent += text + " "; }};
window.addEventListener("message", (event) => {{
  if (event.data === "started removed") {{
    document.getElementById("removed").remove();
    done("{GONE_MARKERS[0]}");
  }} else if (event.data === "started navigated") {{
    document.getElementById("navigated").src = "/plain";
    done("{GONE_MARKERS[1]}");
  }}
}});
const worker = new Worker("/hanging-worker.js");
worker.onmessage = () => {{ worker.terminate(); done("{GONE_MARKERS[2]}"); }};
</script>""",
    )


#: The frames of the gone page: fetch a response that never ends, say so when it starts.
HANGING_FRAME = """<!doctype html><p>HANGING-FRAME</p><script>
const by = new URLSearchParams(location.search).get("by");
fetch("/hang?by=" + by).then(() => parent.postMessage("started " + by, "*"));
</script>"""
HANGING_WORKER = 'fetch("/hang?by=worker").then(() => postMessage("started"));'


class UnfinishedSite(LoopbackServer):
    """The pages above; ``refusing`` is the origin of a port that refuses connections."""

    what = "test site of requests that never finish"

    def __init__(self, refusing: str) -> None:
        super().__init__()
        self.refusing = refusing

    async def start(self) -> None:
        pages = {
            "/blob": BLOB_PAGE,
            "/revoked": REVOKED_PAGE,
            "/data": DATA_PAGE,
            "/refused-schemes": REFUSED_SCHEMES_PAGE,
            "/frame": FRAME_PAGE,
            "/hanging-frame": HANGING_FRAME,
            "/plain": _html("Plain", "<p>PLAIN-MARKER</p>"),
        }
        app = web.Application(middlewares=[self.count_hits])
        for path, html in pages.items():
            app.router.add_get(path, html_page(html))
        app.router.add_get("/refused", self._page(lambda: refused_page(self.refusing)))
        app.router.add_get("/unresolvable", self._page(lambda: unresolvable_page(self.other_site)))
        app.router.add_get("/gone", self._page(lambda: gone_page(self.other_site)))
        app.router.add_get("/redirect", _redirect)
        app.router.add_get("/sw.js", _script(SERVICE_WORKER))
        app.router.add_get("/hanging-worker.js", _script(HANGING_WORKER))
        app.router.add_get("/sw-install.json", _json)
        app.router.add_get("/sw-ready.json", _json)
        app.router.add_get("/hang", _hang)
        await self.serve(app, shutdown_timeout=0.5)

    def url(self, path: str) -> str:
        return self.origin + path

    @property
    def other_site(self) -> str:
        """This server under another site's name: Chromium gives its frames a process
        of their own (an out-of-process iframe, a child target of the page's)."""
        return f"http://localhost:{self.port}"

    @staticmethod
    def _page(make: Callable[[], str]) -> Handler:
        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=make(), content_type="text/html")

        return serve


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


def _script(text: str) -> Handler:
    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/javascript")

    return serve


async def _json(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


async def _hang(request: web.Request) -> web.StreamResponse:
    """Headers and the first bytes of a body, then nothing until the server stops."""
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(b"HANG")
        await asyncio.sleep(3600)
    return response
