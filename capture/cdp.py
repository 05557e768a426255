"""A small Chrome DevTools Protocol client over one WebSocket, with flat sessions.

Playwright drives the page; this client records it. It needs what Playwright's
``CDPSession`` does not offer: sessions for child targets (out-of-process iframes,
workers) in flat mode, so that the recorder sees every request of every frame
before the target runs its first line of script.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from archive.errors import Failed

log = logging.getLogger(__name__)

#: Seconds a command may take before the recorder gives up on it.
COMMAND_TIMEOUT = 30.0

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]


class CDPError(Failed):
    """The browser answered a command with an error, or went away."""

    def __init__(self, method: str, message: str, code: int | None = None) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.message = message
        self.code = code


class CDPConnection:
    """One WebSocket to the browser; commands and events for every attached session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self._ws = ws
        self._http = http
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._handlers: dict[tuple[str | None, str], list[Handler]] = defaultdict(list)
        self._reader = asyncio.create_task(self._read_loop(), name="cdp-reader")
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()

    @classmethod
    async def connect(cls, ws_url: str) -> CDPConnection:
        http = aiohttp.ClientSession()
        try:
            # Bodies arrive base64-encoded inside single messages: no size cap here,
            # the recorder bounds what it asks for.
            ws = await http.ws_connect(ws_url, max_msg_size=0, heartbeat=None)
        except Exception:
            await http.close()
            raise
        return cls(ws, http)

    def session(self, session_id: str | None) -> CDPSession:
        return CDPSession(self, session_id)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> dict[str, Any]:
        if self.closed.is_set():
            raise CDPError(method, "browser connection is closed")
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = (method, future)
        try:
            await self._ws.send_str(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise CDPError(method, f"no answer within {timeout:g} s") from exc
        finally:
            self._pending.pop(message["id"], None)

    def on(self, method: str, handler: Handler, *, session_id: str | None = None) -> None:
        self._handlers[(session_id, method)].append(handler)

    def forget_session(self, session_id: str) -> None:
        for key in [k for k in self._handlers if k[0] == session_id]:
            del self._handlers[key]

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()
        await self._http.close()
        self._fail_pending("connection closed")
        self.closed.set()

    async def _read_loop(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._dispatch(json.loads(msg.data))
        finally:
            self._fail_pending("browser connection lost")
            self.closed.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            method, future = self._pending.get(message["id"], ("", None))
            if future is None or future.done():
                return
            if "error" in message:
                error = message["error"]
                future.set_exception(CDPError(method, error.get("message", ""), error.get("code")))
            else:
                future.set_result(message.get("result", {}))
            return
        key = (message.get("sessionId"), message.get("method", ""))
        for handler in list(self._handlers.get(key, ())):
            try:
                result = handler(message.get("params", {}))
            except Exception:
                log.exception("CDP event handler for %s failed", key[1])
                continue
            if asyncio.iscoroutine(result):
                task = asyncio.create_task(result)
                self._tasks.add(task)
                task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("CDP event handler failed", exc_info=task.exception())

    def _fail_pending(self, why: str) -> None:
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError(method, why))


class CDPSession:
    """Commands and events of one target, over the shared connection."""

    def __init__(self, connection: CDPConnection, session_id: str | None) -> None:
        self.connection = connection
        self.session_id = session_id

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = COMMAND_TIMEOUT
    ) -> dict[str, Any]:
        return await self.connection.send(
            method, params, session_id=self.session_id, timeout=timeout
        )

    def on(self, method: str, handler: Handler) -> None:
        self.connection.on(method, handler, session_id=self.session_id)
