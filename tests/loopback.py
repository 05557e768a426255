"""The common shape of the tests' local servers: an aiohttp app on 127.0.0.1."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """An aiohttp application on 127.0.0.1, port chosen by the OS; ``async with`` runs it.

    Subclasses build their application in ``start()`` and hand it to :meth:`serve`.
    """

    __test__ = False  # a helper, not a test class, even when its name says Test
    what = "local server"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

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
