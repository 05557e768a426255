"""The Network domain's events, turned into exchanges: requests, headers, responses, the end.

Handlers are named after the CDP events they handle. They keep no state of their
own: exchanges are the ledger's, bodies in flight are :class:`Bodies`', origins
are :class:`TlsOrigins`'; a finished exchange goes to the writer. Requests that are
not HTTP are left to the recorder's :class:`~capture.nonhttp.NonHttpLog`, which
listens to the same events.
"""

from __future__ import annotations

import base64
from collections.abc import Coroutine
from typing import Any

from archive.records import is_http_uri
from capture.cdp import CDPSession
from capture.exchange import (
    BodyState,
    Exchange,
    failure_text,
    headers_from_cdp,
    post_data_from_cdp,
)
from capture.recorder.attaching import SessionHandler
from capture.recorder.bodies import Bodies, check_received
from capture.recorder.ledger import Ledger
from capture.recorder.tls import TlsOrigins
from capture.recorder.writing import RecordWriter

#: Why a request has no outcome: the target that made it went before the browser said.
TARGET_GONE = (
    "no outcome: the frame or worker that made the request closed before the browser reported one"
)


class NetworkEvents:
    """Handlers for the Network domain, on every target's session."""

    def __init__(
        self, ledger: Ledger, bodies: Bodies, tls: TlsOrigins, writer: RecordWriter
    ) -> None:
        self.ledger = ledger
        self.bodies = bodies
        self.tls = tls
        self.writer = writer

    def handlers(self) -> dict[str, SessionHandler]:
        return {
            "Network.requestWillBeSent": self.on_request_will_be_sent,
            "Network.requestWillBeSentExtraInfo": self.on_request_extra_info,
            "Network.responseReceived": self.on_response_received,
            "Network.responseReceivedExtraInfo": self.on_response_extra_info,
            "Network.dataReceived": self.on_data_received,
            "Network.loadingFinished": self.on_loading_finished,
            "Network.loadingFailed": self.on_loading_failed,
        }

    def on_request_will_be_sent(
        self, session: CDPSession, params: dict[str, Any]
    ) -> Coroutine[Any, Any, None] | None:
        """Synchronous, so that the exchange exists before the next event is handled.

        An ``async`` handler runs as a task, after the events read in the same batch;
        a ``responseReceived`` right behind it would find no exchange and be lost.
        Only the writing of a finished redirect hop is left to a task.
        """
        key = params["requestId"]
        request = params["request"]
        redirect = params.get("redirectResponse")
        self.ledger.touch()
        previous = self.ledger.active(key)
        if previous is not None and redirect is None and previous.url == request["url"]:
            # The same request announced again (a child target does this for its
            # own document): one exchange, not two.
            return None
        self.ledger.deactivate(key)
        if is_http_uri(request["url"]):  # any other scheme is the NonHttpLog's
            exchange = self.ledger.adopt(key, request, params.get("frameId"))
            exchange.resource_type = params.get("type", exchange.resource_type)
            exchange.request_headers = headers_from_cdp(request.get("headers"))
            exchange.post_data = post_data_from_cdp(request)
            self.ledger.activate(exchange, session.session_id)
        if previous is not None and redirect is not None:
            # Each hop of a redirect chain is its own response record.
            self._apply_response(previous, redirect)
            previous.body_state = BodyState.NONE
            previous.finished = True
            return self.writer.write(previous)
        if previous is not None:
            # Never seen in practice; if it happens, keep what there is and say so.
            previous.error = previous.error or "replaced by another request with the same id"
            return self.writer.write(previous)
        return None

    def on_request_extra_info(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        headers = headers_from_cdp(params.get("headers"))
        exchange = self.ledger.active(key)
        if exchange is not None and exchange.raw_request_headers is None:
            exchange.raw_request_headers = headers
        else:
            self.ledger.hold_request_headers(key, headers)

    def on_response_received(self, session: CDPSession, params: dict[str, Any]) -> None:
        exchange = self.ledger.active(params["requestId"])
        if exchange is None:
            return
        self._apply_response(exchange, params["response"])
        exchange.resource_type = params.get("type", exchange.resource_type)
        if exchange.live:
            self.bodies.start_live(session, exchange)

    def on_response_extra_info(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self.ledger.active(key)
        if exchange is not None and exchange.raw_response_headers is None:
            _apply_response_extra(exchange, params)
        else:
            self.ledger.hold_response_extra(key, params)

    def on_data_received(self, session: CDPSession, params: dict[str, Any]) -> None:
        exchange = self.ledger.active(params["requestId"])
        if exchange is None:
            return
        exchange.received_length += params.get("dataLength", 0)
        data = params.get("data")
        if data is None or not exchange.live or exchange.written:
            return
        self.bodies.add_live_chunk(exchange, base64.b64decode(data))

    async def on_loading_finished(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self.ledger.active(key)
        if exchange is None:
            return
        exchange.finished = True
        if not exchange.has_response:
            # It finished, so it was answered: the Fetch pause saw how.
            paused = self.ledger.paused_response(exchange)
            if paused is not None:
                self._apply_response(exchange, paused)
        await self.bodies.until_taken(key, live=True)
        if exchange.body is None and exchange.body_state not in (BodyState.NONE, BodyState.REPEAT):
            await self.bodies.take_late(session, exchange)
        elif exchange.live and exchange.body is not None:
            check_received(exchange)
        await self.writer.write(exchange)

    async def on_loading_failed(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self.ledger.active(key)
        if exchange is None:
            return
        exchange.error = failure_text(params)
        exchange.finished = True
        await self.bodies.until_taken(key, live=False)
        if exchange.has_response and exchange.body_state == BodyState.COMPLETE:
            pass
        elif exchange.has_response and exchange.body is not None:
            exchange.body_state = BodyState.TRUNCATED
        await self.writer.write(exchange)

    async def on_target_gone(self, session_id: str) -> None:
        """A child target (a frame removed or navigated away, a worker ended) detached:
        what its session still had open is finished, with no outcome from the browser.

        The browser cancels a closed frame's requests but reports it on no session we
        hear; waiting for them would hold every network-quiet wait to its cap.
        """
        for exchange in self.ledger.orphaned(session_id):
            await self.bodies.abandon(exchange.key)
            if exchange.written:
                continue  # the cut wrote it meanwhile, as it stood
            exchange.error = exchange.error or TARGET_GONE
            if exchange.has_response and exchange.body is None:
                exchange.body_state = BodyState.UNAVAILABLE
                exchange.body_note = exchange.body_note or TARGET_GONE
            elif exchange.has_response and not exchange.body_whole:
                assert exchange.body is not None
                if exchange.body_state == BodyState.COMPLETE:
                    exchange.body_state = BodyState.TRUNCATED
                    exchange.body_note = f"body cut at {exchange.body.size} bytes: {TARGET_GONE}"
            await self.writer.write(exchange)

    def _apply_response(self, exchange: Exchange, response: dict[str, Any]) -> None:
        exchange.status = response.get("status")
        exchange.status_text = response.get("statusText", "")
        exchange.response_headers = headers_from_cdp(response.get("headers"))
        exchange.mime_type = response.get("mimeType")
        exchange.protocol = response.get("protocol")
        exchange.remote_ip = response.get("remoteIPAddress") or exchange.remote_ip
        if response.get("securityDetails"):
            exchange.security = response["securityDetails"]
            self.tls.note(exchange)
        if exchange.raw_response_headers is None:
            extra = self.ledger.held_response_extra(exchange.key)
            if extra is not None:
                _apply_response_extra(exchange, extra)


def _apply_response_extra(exchange: Exchange, params: dict[str, Any]) -> None:
    exchange.raw_response_headers = headers_from_cdp(params.get("headers"))
    exchange.headers_text = params.get("headersText")
