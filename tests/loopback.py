"""The common shape of the tests' local servers: an aiohttp app on 127.0.0.1."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    """An aiohttp application on 127.0.0.1, port chosen by the OS; ``async with`` runs it.

    Subclasses build their application in ``start()`` and hand it to :meth:`serve`.
    """

    __test__ = False  # a helper, not a test class, even when its name says Test
    what = "local server"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        #: Requests served, by path, when :meth:`count_hits` is the app's middleware.
        self.hits: collections.Counter[str] = collections.Counter()

    @web.middleware
    async def count_hits(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count each request by path, and forbid caching, so that every load the
        browser makes reaches the server and is counted."""
        self.hits[request.path] += 1
        response = await handler(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        raise NotImplementedError

    async def serve(self, app: web.Application, *, shutdown_timeout: float = 2.0) -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._port = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"the {self.what} is not running")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def html_page(text: str) -> Handler:
    """A handler that serves ``text`` as an HTML page."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    return serve
