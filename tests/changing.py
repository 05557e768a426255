"""A page that changes between requests, for watching, comparison and takedown tests.

The test sets what ``/watched`` shows next (its text, its picture's colour, a
video or none), or takes it down in one of the ways sites do: a 404, 410 or 451,
a redirect to a login page, or a "content unavailable" page served with 200.
"""

from __future__ import annotations

import html

from aiohttp import web

from tests.loopback import LoopbackServer
from tests.site import png_bytes

#: The forms a takedown takes, as :meth:`ChangingPage.take_down` accepts them.
TAKEDOWNS = ("404", "410", "451", "login", "unavailable")


class ChangingPage(LoopbackServer):
    """``/watched`` shows whatever the test set last; ``hits`` counts every request."""

    what = "changing page"

    def __init__(self) -> None:
        super().__init__()
        self.title = "Watched post"
        self.text = "The first version of the post."
        self.colour: tuple[int, int, int] = (0, 0, 255)
        self.video: bytes | None = None
        self.takedown: str | None = None

    def url(self, path: str = "/watched") -> str:
        return self.origin + path

    def show(
        self,
        text: str,
        *,
        colour: tuple[int, int, int] | None = None,
        video: bytes | None = None,
    ) -> None:
        """Serve the page (again) with ``text``, and a video when ``video`` is given."""
        self.text = text
        if colour is not None:
            self.colour = colour
        self.video = video
        self.takedown = None

    def take_down(self, how: str = "404") -> None:
        """Make ``/watched`` disappear the way ``how`` (one of :data:`TAKEDOWNS`) says."""
        if how not in TAKEDOWNS:
            raise ValueError(f"a takedown is one of {TAKEDOWNS}, not {how!r}")
        self.takedown = how

    async def start(self) -> None:
        app = web.Application(middlewares=[self.count_hits])
        app.add_routes(
            [
                web.get("/watched", self._watched),
                web.get("/picture.png", self._picture),
                web.get("/clip.mp4", self._clip),
                web.get("/login", self._login),
            ]
        )
        await self.serve(app)

    async def _watched(self, request: web.Request) -> web.StreamResponse:
        if self.takedown in ("404", "410", "451"):
            status = int(self.takedown)
            return _page("Not available", "<p>This page is not available.</p>", status)
        if self.takedown == "login":
            raise web.HTTPFound("/login?next=/watched")
        if self.takedown == "unavailable":
            body = "<h1>Sorry</h1><p>This content isn't available right now.</p>"
            return _page("Content unavailable", body, 200)
        video = '<video src="/clip.mp4" controls width="160"></video>' if self.video else ""
        body = (
            f"<h1>{html.escape(self.title)}</h1>"
            f"<p id='text'>{html.escape(self.text)}</p>"
            f"<img src='/picture.png' width='400' height='200' alt='picture'>{video}"
        )
        return _page(self.title, body, 200)

    async def _picture(self, request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(40, 20, self.colour), content_type="image/png")

    async def _clip(self, request: web.Request) -> web.Response:
        if self.video is None or self.takedown is not None:
            raise web.HTTPNotFound()
        return web.Response(body=self.video, content_type="video/mp4")

    async def _login(self, request: web.Request) -> web.Response:
        body = "<h1>Log in</h1><form><input name='user'><input type='password'></form>"
        return _page("Log in", body, 200)


def _page(title: str, body: str, status: int) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
