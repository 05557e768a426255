"""Requests for URLs that are not HTTP: facts for the page info, never WARC records.

Pages ask for more than HTTP: ``blob:`` and ``data:`` URLs made by their scripts,
images on the author's own disk (``file:///C|/…``), ``chrome-extension://invalid/``
(ad-blocker probes), WebSockets. None of these is an HTTP exchange, and warcio reads
the HTTP header block of a request or response record only when its target is
http: or https: (``archive.records.is_http_uri``), so written as such a record each
one failed ``warcio check``. The recorder leaves them out of the WARC; this log
keeps, for each, what the browser did with it in the Network domain's own words,
so nothing the page asked for is dropped without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from archive.hashing import sha256_bytes
from archive.records import is_http_uri
from archive.timeutil import rfc3339, utc_now
from capture.cdp import CDPSession, Handler
from capture.exchange import failure_text

#: Characters of a URL the page info keeps; past this, its size and SHA-256 stand in.
URL_KEPT = 2048
#: A ``data:`` URL is its content: only its start is kept, always with size and SHA-256.
DATA_URL_KEPT = 100


class Outcome(StrEnum):
    """What the browser did with a request that is not HTTP."""

    PENDING = "no outcome"  # neither answered nor failed when recording stopped
    REFUSED = "refused"  # Network.loadingFailed: not loaded (``error`` says why)
    CANCELLED = "cancelled"  # the page or the browser gave up on it
    SERVED = "served by the browser"  # answered from memory or the URL itself, no network
    OPENED = "opened"  # a WebSocket whose handshake was answered
    CLOSED = "closed"  # a WebSocket, closed again
    REDIRECTED = "redirected to HTTP"  # the WARC records it from there


def bounded_url(url: str) -> dict[str, Any]:
    """The URL as the page info gives it: whole when short, else its start with the
    size and SHA-256 of the whole (UTF-8), hashed as soon as the browser reports it.
    A ``data:`` URL always comes with its size and SHA-256."""
    is_data = url.startswith("data:")
    limit = DATA_URL_KEPT if is_data else URL_KEPT
    if len(url) <= limit and not is_data:
        return {"url": url}
    whole = url.encode("utf-8", "surrogatepass")
    fields: dict[str, Any] = {"url": url[:limit]}
    if len(url) > limit:
        fields["url_truncated"] = True
    fields.update(url_size=len(whole), url_sha256=sha256_bytes(whole))
    return fields


@dataclass
class NonHttpRequest:
    """One request for a URL that is not HTTP, and what became of it."""

    url_fields: dict[str, Any]  # from bounded_url: never the whole of a long URL
    scheme: str
    kind: str  # CDP's resource type (Image, Fetch, …) or "WebSocket"
    requested_at: datetime = field(default_factory=utc_now)
    outcome: Outcome = Outcome.PENDING
    error: str | None = None  # why it failed, in CDP's words
    #: What the browser reported answering with (``Network.Response``), if anything.
    answer: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What the page info lists under ``not_http``."""
        item: dict[str, Any] = {
            **self.url_fields,
            "scheme": self.scheme,
            "type": self.kind,
            "requested_at": rfc3339(self.requested_at),
            "outcome": self.outcome.value,
        }
        if self.error:
            item["error"] = self.error  # the key HTTP failures use too (the report reads it)
        item.update(self.answer)
        return item


class NonHttpLog:
    """Follows the Network domain for requests that are not HTTP, on every target."""

    def __init__(self) -> None:
        self.requests: list[NonHttpRequest] = []
        self._open: dict[str, NonHttpRequest] = {}
        #: Request id -> its URL (bounded): a repeated announcement is not a new request.
        self._seen: dict[str, dict[str, Any]] = {}

    def listen(self, session: CDPSession) -> None:
        """Follow ``session``'s Network events (the recorder calls this for each target)."""
        for method, handler in self._handlers().items():
            session.on(method, handler)

    def _handlers(self) -> dict[str, Handler]:
        return {
            "Network.requestWillBeSent": self.on_request_will_be_sent,
            "Network.responseReceived": self.on_response_received,
            "Network.loadingFinished": self.on_loading_finished,
            "Network.loadingFailed": self.on_loading_failed,
            "Network.webSocketCreated": self.on_web_socket_created,
            "Network.webSocketHandshakeResponseReceived": self.on_web_socket_handshake,
            "Network.webSocketFrameError": self.on_web_socket_frame_error,
            "Network.webSocketClosed": self.on_web_socket_closed,
        }

    def on_request_will_be_sent(self, params: dict[str, Any]) -> None:
        key, url = params["requestId"], params["request"]["url"]
        if is_http_uri(url):
            left = self._open.pop(key, None)
            if left is not None:  # the recorder has it from here
                left.outcome = Outcome.REDIRECTED
            return
        self._start(key, url, params.get("type", "Other"))

    def on_response_received(self, params: dict[str, Any]) -> None:
        request = self._open.get(params["requestId"])
        if request is not None:
            response = params.get("response", {})
            request.answer = {
                "status": response.get("status"),
                "mime": response.get("mimeType"),
                "protocol": response.get("protocol"),
            }

    def on_loading_finished(self, params: dict[str, Any]) -> None:
        request = self._open.pop(params["requestId"], None)
        if request is not None:
            request.outcome = Outcome.SERVED

    def on_loading_failed(self, params: dict[str, Any]) -> None:
        request = self._open.pop(params["requestId"], None)
        if request is None:
            return
        request.error = failure_text(params)
        aborted = params.get("canceled") or params.get("errorText") == "net::ERR_ABORTED"
        request.outcome = Outcome.CANCELLED if aborted else Outcome.REFUSED

    def on_web_socket_created(self, params: dict[str, Any]) -> None:
        self._start(params["requestId"], params["url"], "WebSocket")

    def on_web_socket_handshake(self, params: dict[str, Any]) -> None:
        request = self._open.get(params["requestId"])
        if request is not None:
            request.outcome = Outcome.OPENED
            request.answer = {"status": params.get("response", {}).get("status")}

    def on_web_socket_frame_error(self, params: dict[str, Any]) -> None:
        request = self._open.get(params["requestId"])
        if request is not None:
            request.error = params.get("errorMessage") or "frame error"

    def on_web_socket_closed(self, params: dict[str, Any]) -> None:
        request = self._open.pop(params["requestId"], None)
        if request is None:
            return
        if request.outcome is Outcome.OPENED:
            request.outcome = Outcome.CLOSED
        else:
            request.outcome = Outcome.REFUSED
            request.error = request.error or "closed before its handshake was answered"

    def _start(self, key: str, url: str, kind: str) -> None:
        fields = bounded_url(url)
        if self._seen.get(key) == fields:
            return  # a child target announcing its own request again
        self._seen[key] = fields
        request = NonHttpRequest(fields, url.partition(":")[0].lower(), kind)
        self.requests.append(request)
        self._open[key] = request

    # -- what the capture says of them ----------------------------------------------

    def facts(self) -> list[dict[str, Any]]:
        """Every request that was not HTTP, for the page info's ``not_http``."""
        return [request.summary() for request in self.requests]

    def refusals(self) -> list[dict[str, Any]]:
        """Those the browser refused, for the page info's ``failed_requests`` (which the
        court report lists)."""
        return [r.summary() for r in self.requests if r.outcome is Outcome.REFUSED]

    def reasons(self) -> list[str]:
        """One sentence per refused request, for the manifest's reasons: the page asked
        for it and did not get it."""
        return [
            f"not loaded (not HTTP, refused by the browser): {r.url_fields['url']} ({r.error})"
            for r in self.requests
            if r.outcome is Outcome.REFUSED and r.kind != "WebSocket"
        ]

    def notes(self) -> list[str]:
        """One sentence per WebSocket: the page received messages the WARC does not hold."""
        return [
            f"WebSocket {r.url_fields['url']} ({r.outcome.value}): its messages are not recorded"
            for r in self.requests
            if r.kind == "WebSocket"
        ]
