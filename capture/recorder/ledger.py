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

    def activate(self, exchange: Exchange) -> None:
        """Open ``exchange`` under its key, with raw request headers that came before it."""
        key = exchange.key
        self._active[key] = exchange
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

    def for_pause(self, network_id: str, params: dict[str, Any]) -> Exchange:
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
        return early

    def settle(self, exchange: Exchange) -> None:
        """``exchange`` is being written: activity now, and nothing waits for it any more."""
        self.touch()
        for waiting in (self._active, self._early):
            if waiting.get(exchange.key) is exchange:
                del waiting[exchange.key]

    def pending(self) -> list[Exchange]:
        """Requests not yet written to the WARC (loading, or not read to the end by the page)."""
        waiting = [*self._active.values(), *self._early.values()]
        return [e for e in waiting if not e.written]

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
