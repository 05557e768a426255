"""The Fetch domain: every response paused at the response stage, and what then happens to it.

A paused response is continued untouched (no body, a repeat, or a body taken live
as it flows to the page), or held while its body is taken (buffered, or streamed
and then handed to the page with ``Fetch.fulfillRequest``). :func:`plan_body`
decides which; :class:`Bodies` takes the bytes; :class:`Repeats` says whether a
media response repeats a whole copy already recorded. The exchange a pause belongs
to is the ledger's (the pause may come before the Network domain announces it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

from archive.records import is_http_uri
from capture.cdp import CDPError, CDPSession
from capture.exchange import BodyState, Exchange
from capture.recorder.attaching import SessionHandler
from capture.recorder.bodies import Bodies, BodyPlan, plan_body
from capture.recorder.ledger import Ledger
from capture.recorder.limits import PASSBACK_LIMIT, SETUP_TIMEOUT, Deadline
from capture.recorder.repeats import Repeats, mark_repeat

log = logging.getLogger(__name__)


class FetchPauses:
    """The handler for ``Fetch.requestPaused``, on every target's session."""

    def __init__(
        self, ledger: Ledger, bodies: Bodies, repeats: Repeats, deadline: Deadline
    ) -> None:
        self.ledger = ledger
        self.bodies = bodies
        self.repeats = repeats
        self.deadline = deadline

    def handlers(self) -> dict[str, SessionHandler]:
        return {"Fetch.requestPaused": self.on_request_paused}

    async def on_request_paused(self, session: CDPSession, params: dict[str, Any]) -> None:
        request_id = params["requestId"]
        status = params.get("responseStatusCode")
        network_id = params.get("networkId")
        http = is_http_uri(params["request"]["url"])
        if status is None or params.get("responseErrorReason") or not network_id or not http:
            await self._continue(session, request_id)
            return
        exchange = self.ledger.for_pause(network_id, params, session.session_id)
        self.ledger.hold_paused_response(exchange.key, params)
        plan = plan_body(
            exchange.method,
            status,
            params.get("responseHeaders") or [],
            params.get("resourceType", ""),
        )
        first = None if plan is BodyPlan.NONE else self.repeats.whole_copy_of(exchange, params)
        if plan is BodyPlan.NONE:
            exchange.body_state = BodyState.NONE
            await self._continue(session, request_id)
        elif first is not None:
            # The page gets this response's own bytes; the record points at the copy.
            mark_repeat(exchange, first)
            await self._continue(session, request_id)
        elif plan is BodyPlan.LIVE:
            exchange.live = True
            await self._continue(session, request_id)
        else:
            task = asyncio.create_task(self._take_paused_body(session, params, exchange, plan))
            self.bodies.taking(exchange.key, task)
            await task

    async def _take_paused_body(
        self, session: CDPSession, params: dict[str, Any], exchange: Exchange, plan: BodyPlan
    ) -> None:
        request_id = params["requestId"]
        if plan is BodyPlan.BUFFER:
            if await self.bodies.take_buffered(session, request_id, exchange):
                self.repeats.note_whole_copy(exchange, params)
            await self._continue(session, request_id)
            return
        await self._stream_body(session, params, exchange)

    async def _stream_body(
        self, session: CDPSession, params: dict[str, Any], exchange: Exchange
    ) -> None:
        """Large or unbounded bodies: stream to a spool file, then hand back to the page."""
        request_id = params["requestId"]
        if not await self.bodies.take_stream(session, request_id, exchange):
            await self._continue(session, request_id)
            return
        # Before the page hears back: a player that asks again must find the copy.
        self.repeats.note_whole_copy(exchange, params)
        await self._fulfill(session, params, exchange)

    async def _fulfill(
        self, session: CDPSession, params: dict[str, Any], exchange: Exchange
    ) -> None:
        """Give the page what was recorded, so it renders what the record holds."""
        body = exchange.body
        assert body is not None
        payload = b""
        if body.size <= PASSBACK_LIMIT:
            payload = body.read_all()
        else:
            exchange.passed_to_page = False
            whole = " in full" if exchange.body_state == BodyState.COMPLETE else ""
            note = (
                f"{body.size} bytes recorded{whole}; not passed to the page (over {PASSBACK_LIMIT})"
            )
            exchange.body_note = f"{exchange.body_note}; {note}" if exchange.body_note else note
        headers = [
            h
            for h in params.get("responseHeaders") or []
            if h["name"].lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        headers.append({"name": "Content-Length", "value": str(len(payload))})
        try:
            await session.send(
                "Fetch.fulfillRequest",
                {
                    "requestId": params["requestId"],
                    "responseCode": params.get("responseStatusCode") or 200,
                    "responsePhrase": params.get("responseStatusText") or None,
                    "responseHeaders": headers,
                    "body": base64.b64encode(payload).decode("ascii"),
                },
                timeout=max(SETUP_TIMEOUT, self.deadline.remaining()),
            )
        except CDPError as exc:
            log.debug("fulfill failed for %s: %s", exchange.url, exc)

    async def _continue(self, session: CDPSession, request_id: str) -> None:
        with contextlib.suppress(CDPError):
            await session.send(
                "Fetch.continueRequest", {"requestId": request_id}, timeout=SETUP_TIMEOUT
            )
