"""Which exchange a network request id names, and which are still waited for.

The ledger is the one owner of the recorder's exchanges. The Network handlers, the
Fetch handler and the writer all reach an exchange by its key, and two CDP quirks
decide what that key finds, so the maps live in one place and every change to them
goes through the methods below:

- an out-of-process iframe's document request is announced on the parent target
  and answered on the child's, so exchanges are keyed by the network request id
  (unique across the browser), never by session;
- the Fetch pause comes from the browser process and can overtake the Network
  domain's ``requestWillBeSent`` from the renderer, so an exchange may be made from
  the pause (``early``) and adopted when the Network domain catches up.

Raw headers (the ``...ExtraInfo`` events) can come before their request or response;
the ledger holds them until there is an exchange to put them on.

The ledger also remembers which session announced each request: a frame or worker
that closes (an iframe removed or navigated away, a worker ended) takes its session
with it, and the browser reports no outcome for what that session still had open.
:meth:`Ledger.orphaned` names those requests, so that they are finished rather than
waited for.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from typing import Any

from archive.records import Headers
from archive.timeutil import utc_now
from capture.exchange import Exchange, headers_from_cdp, post_data_from_cdp


class Ledger:
    """Every exchange of the page in order, by network request id while open."""

    def __init__(self) -> None:
        #: Every HTTP exchange of the page and its child targets, in the order started.
        self.exchanges: list[Exchange] = []
        #: Event-loop time when a request last started or an exchange was last written:
        #: how long the network has been quiet is counted from here (``None``: never).
        self.last_activity: float | None = None
        self._active: dict[str, Exchange] = {}
        self._early: dict[str, Exchange] = {}
        self._req_extra: dict[str, deque[Headers]] = defaultdict(deque)
        self._resp_extra: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        #: Request id -> the session that announced the open exchange (or paused the
        #: early one) under it.
        self._active_on: dict[str, str | None] = {}
        self._early_on: dict[str, str | None] = {}
        #: Request id -> the last Fetch pause's response (status and headers) under it.
        self._paused: dict[str, dict[str, Any]] = {}

    def touch(self) -> None:
        """The network is busy now (a request started, an exchange was written)."""
        self.last_activity = asyncio.get_running_loop().time()

    def active(self, key: str) -> Exchange | None:
        """The exchange the Network domain announced under ``key`` and that is still open."""
        return self._active.get(key)

    def deactivate(self, key: str) -> None:
        """``key`` no longer names an open exchange (another request took the id)."""
        self._active.pop(key, None)

    def adopt(self, key: str, request: dict[str, Any], frame_id: str | None) -> Exchange:
        """The exchange for a request the Network domain announces: the one a Fetch pause
        made before it for the same URL, or a new one."""
        exchange = self._early.pop(key, None)
        if exchange is None or exchange.url != request["url"]:
            exchange = self._new_exchange(key, request, frame_id)
        return exchange

    def activate(self, exchange: Exchange, session_id: str | None) -> None:
        """Open ``exchange`` under its key, announced on ``session_id``, with raw request
        headers that came before it."""
        key = exchange.key
        self._active[key] = exchange
        self._active_on[key] = session_id
        if self._req_extra[key] and exchange.raw_request_headers is None:
            exchange.raw_request_headers = self._req_extra[key].popleft()

    def hold_request_headers(self, key: str, headers: Headers) -> None:
        """Raw request headers with no exchange to take them yet."""
        self._req_extra[key].append(headers)

    def hold_response_extra(self, key: str, params: dict[str, Any]) -> None:
        """A ``responseReceivedExtraInfo`` with no exchange to take it yet."""
        self._resp_extra[key].append(params)

    def held_response_extra(self, key: str) -> dict[str, Any] | None:
        """The oldest ``responseReceivedExtraInfo`` held for ``key``, taken; or ``None``."""
        if self._resp_extra[key]:
            return self._resp_extra[key].popleft()
        return None

    def for_pause(
        self, network_id: str, params: dict[str, Any], session_id: str | None
    ) -> Exchange:
        """The exchange a paused response belongs to.

        The Fetch pause comes from the browser process and can overtake the Network
        domain's ``requestWillBeSent`` from the renderer; such an exchange waits in
        ``_early`` until the Network domain catches up and adopts it.
        """
        key = network_id
        url = params["request"]["url"]
        exchange = self._active.get(key)
        if exchange is not None and exchange.url == url and not exchange.written:
            return exchange
        early = self._early.get(key)
        if early is None or early.url != url:
            early = self._new_exchange(key, params["request"], params.get("frameId"))
            early.resource_type = params.get("resourceType", "Other")
            self._early[key] = early
            self._early_on[key] = session_id
        return early

    def hold_paused_response(self, key: str, params: dict[str, Any]) -> None:
        """The response a Fetch pause showed for ``key``, in case the Network domain
        never reports it (:meth:`paused_response`)."""
        self._paused[key] = params

    def paused_response(self, exchange: Exchange) -> dict[str, Any] | None:
        """The response the Fetch pause showed for ``exchange``, as ``Network.Response``
        fields would give it; ``None`` if there was no pause for it.

        A service worker's own script is answered in a pause and a ``loadingFinished``
        only, never a ``responseReceived``: without this its record would have no
        response, its body taken and dropped.
        """
        params = self._paused.pop(exchange.key, None)
        if params is None or params["request"]["url"] != exchange.url:
            return None
        headers = {}
        for header in params.get("responseHeaders") or []:
            name = header["name"]
            headers[name] = (
                f"{headers[name]}\n{header['value']}" if name in headers else header["value"]
            )
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        return {
            "status": params.get("responseStatusCode"),
            "statusText": params.get("responseStatusText") or "",
            "headers": headers,
            "mimeType": content_type.split(";")[0].strip().lower() or None,
        }

    def settle(self, exchange: Exchange) -> None:
        """``exchange`` is being written: activity now, and nothing waits for it any more."""
        self.touch()
        for waiting in (self._active, self._early):
            if waiting.get(exchange.key) is exchange:
                del waiting[exchange.key]
        paused = self._paused.get(exchange.key)
        if paused is not None and paused["request"]["url"] == exchange.url:
            del self._paused[exchange.key]

    def pending(self) -> list[Exchange]:
        """Requests not yet written to the WARC (loading, or not read to the end by the page)."""
        waiting = [*self._active.values(), *self._early.values()]
        return [e for e in waiting if not e.written]

    def orphaned(self, session_id: str) -> list[Exchange]:
        """Requests still open that ``session_id`` announced: when that session's target
        has gone, the browser will report nothing more of them.

        Navigations are not among them: the browser process runs a frame's navigation
        and reports its end on the session that holds the frame next (an iframe that
        navigates to its parent's site leaves its own process, and its session, midway).
        """
        found = [
            exchange
            for open_now, announced_on in (
                (self._active, self._active_on),
                (self._early, self._early_on),
            )
            for key, exchange in open_now.items()
            if announced_on.get(key) == session_id
        ]
        # One the browser finished is its handler's to write (it may be taking the body).
        return [e for e in found if not (e.written or e.finished) and e.resource_type != "Document"]

    def _new_exchange(self, key: str, request: dict[str, Any], frame_id: str | None) -> Exchange:
        exchange = Exchange(
            key=key,
            url=request["url"],
            method=request.get("method", "GET"),
            resource_type="Other",
            frame_id=frame_id,
            started_at=utc_now(),
            request_headers=headers_from_cdp(request.get("headers")),
            post_data=post_data_from_cdp(request),
        )
        self.exchanges.append(exchange)
        return exchange
