"""Attaching to the page's target and, before they run, to every child target.

:class:`Targets` owns the CDP sessions the recorder listens on: the page's (attached
before navigation starts) and one per child target (out-of-process iframes,
workers), auto-attached in flat mode and held at their first line
(``waitForDebuggerOnStart``) until the Network and Fetch domains are enabled on
them. Each session gets the same handlers, so every request of every frame is seen;
the handlers themselves are the Network and Fetch modules'.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from capture.cdp import CDPConnection, CDPError, CDPSession
from capture.nonhttp import NonHttpLog
from capture.recorder.limits import BROWSER_RESOURCE_BUFFER, BROWSER_TOTAL_BUFFER, SETUP_TIMEOUT

#: A CDP event handler of the recorder: called with the session the event came on.
SessionHandler = Callable[[CDPSession, dict[str, Any]], Any]


class Targets:
    """The page's session and its children's, each set up with the recorder's handlers."""

    def __init__(self, connection: CDPConnection, non_http: NonHttpLog) -> None:
        self.connection = connection
        self.non_http = non_http
        self.page_session: CDPSession | None = None
        self.main_frame_id: str | None = None
        #: Child targets that could not be set up in full (their requests still show
        #: up in their parent).
        self.problems: list[str] = []
        self._sessions: list[CDPSession] = []
        self._handlers: dict[str, SessionHandler] = {}

    async def attach(self, target_id: str, handlers: dict[str, SessionHandler]) -> None:
        """Attach to the page's target; must happen before navigation starts.

        ``handlers`` (CDP event -> handler) are set up on the page's session and on
        every child target's.
        """
        self._handlers = handlers
        result = await self.connection.send(
            "Target.attachToTarget", {"targetId": target_id, "flatten": True}, timeout=SETUP_TIMEOUT
        )
        self.main_frame_id = target_id
        self.page_session = self.connection.session(result["sessionId"])
        await self._setup_session(self.page_session, resume=False)

    async def _setup_session(self, session: CDPSession, *, resume: bool) -> None:
        self._sessions.append(session)
        handlers = {
            **self._handlers,
            "Target.attachedToTarget": self.on_attached_to_target,
            "Target.detachedFromTarget": self.on_detached_from_target,
        }
        for method, handler in handlers.items():
            session.on(method, lambda params, h=handler, s=session: h(s, params))
        self.non_http.listen(session)
        try:
            await session.send(
                "Network.enable",
                {
                    "maxResourceBufferSize": BROWSER_RESOURCE_BUFFER,
                    "maxTotalBufferSize": BROWSER_TOTAL_BUFFER,
                },
                timeout=SETUP_TIMEOUT,
            )
            await session.send(
                "Fetch.enable",
                {"patterns": [{"urlPattern": "*", "requestStage": "Response"}]},
                timeout=SETUP_TIMEOUT,
            )
            await session.send(
                "Target.setAutoAttach",
                {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
                timeout=SETUP_TIMEOUT,
            )
        except CDPError as exc:
            # A worker target may not support every domain; its requests still show
            # up in its parent. Say so rather than stopping the capture.
            if resume:
                self.problems.append(f"child target only partly recorded: {exc}")
            else:
                raise
        finally:
            if resume:
                with contextlib.suppress(CDPError):
                    await session.send("Runtime.runIfWaitingForDebugger", timeout=SETUP_TIMEOUT)

    async def on_attached_to_target(self, session: CDPSession, params: dict[str, Any]) -> None:
        child = self.connection.session(params["sessionId"])
        await self._setup_session(child, resume=True)

    def on_detached_from_target(self, session: CDPSession, params: dict[str, Any]) -> None:
        if params.get("sessionId"):
            self.connection.forget_session(params["sessionId"])

    async def release(self) -> None:
        """Release the browser's paused requests: the Fetch domain off on every session."""
        for session in self._sessions:
            with contextlib.suppress(CDPError):
                await session.send("Fetch.disable", timeout=2.0)
