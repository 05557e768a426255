"""Attaching to the page's target and, before they run, to every child target.

:class:`Targets` owns the CDP sessions the recorder listens on: the page's (attached
before navigation starts) and one per child target (out-of-process iframes,
workers), auto-attached in flat mode and held at their first line
(``waitForDebuggerOnStart``) until the Network and Fetch domains are enabled on
them. Each session gets the same handlers, so every request of every frame is seen;
the handlers themselves are the Network and Fetch modules'.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from capture.cdp import CDPConnection, CDPError, CDPSession
from capture.nonhttp import NonHttpLog
from capture.recorder.limits import BROWSER_RESOURCE_BUFFER, BROWSER_TOTAL_BUFFER, SETUP_TIMEOUT

#: A CDP event handler of the recorder: called with the session the event came on.
SessionHandler = Callable[[CDPSession, dict[str, Any]], Any]
#: Told the session id of a child target that detached (its frame or worker is gone).
GoneHandler = Callable[[str], Coroutine[Any, Any, None]]

#: What every session is set up with, in this order: requests and responses, bodies
#: paused at the response stage, and child targets attached before they run.
_SETUP: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "Network.enable",
        {
            "maxResourceBufferSize": BROWSER_RESOURCE_BUFFER,
            "maxTotalBufferSize": BROWSER_TOTAL_BUFFER,
        },
    ),
    ("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Response"}]}),
    ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}),
)


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
        self._gone: GoneHandler | None = None

    async def attach(
        self, target_id: str, handlers: dict[str, SessionHandler], gone: GoneHandler
    ) -> None:
        """Attach to the page's target; must happen before navigation starts.

        ``handlers`` (CDP event -> handler) are set up on the page's session and on
        every child target's; ``gone`` hears of each child target that detaches.
        """
        self._handlers = handlers
        self._gone = gone
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
        if not resume:
            # The page's own target: set up in full before navigation starts.
            for method, params in _SETUP:
                await session.send(method, params, timeout=SETUP_TIMEOUT)
            return
        await self._setup_child(session)

    async def _setup_child(self, session: CDPSession) -> None:
        """Set up a child target held at its first line, and let it run.

        The commands are sent in order with the resume behind them, and their answers
        awaited together: the target takes them in the order sent, so the domains are
        on before its first line runs. Awaiting each answer first would hold a service
        worker for the whole setup timeout: its ``Network.enable`` is answered only
        once the worker runs, which it does only after ``runIfWaitingForDebugger``.
        """
        sent = [
            asyncio.ensure_future(session.send(method, params, timeout=SETUP_TIMEOUT))
            for method, params in (*_SETUP, ("Runtime.runIfWaitingForDebugger", {}))
        ]
        answers = await asyncio.gather(*sent, return_exceptions=True)
        for answer in answers[: len(_SETUP)]:
            if isinstance(answer, CDPError):
                # A worker target may not support every domain; its requests still show
                # up in its parent. Say so rather than stopping the capture.
                self.problems.append(f"child target only partly recorded: {answer}")
            elif isinstance(answer, BaseException):
                raise answer

    async def on_attached_to_target(self, session: CDPSession, params: dict[str, Any]) -> None:
        child = self.connection.session(params["sessionId"])
        await self._setup_session(child, resume=True)

    async def on_detached_from_target(self, session: CDPSession, params: dict[str, Any]) -> None:
        """A child target went (its frame removed or navigated away, its worker ended):
        no more events will come on its session."""
        child = params.get("sessionId")
        if not child:
            return
        self.connection.forget_session(child)
        if self._gone is not None:
            await self._gone(child)

    async def release(self) -> None:
        """Release the browser's paused requests: the Fetch domain off on every session."""
        for session in self._sessions:
            with contextlib.suppress(CDPError):
                await session.send("Fetch.disable", timeout=2.0)
