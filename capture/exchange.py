"""One HTTP exchange as the browser saw it, and how it becomes WARC records.

The recorder fills an :class:`Exchange` from CDP events (request, raw headers,
response, body, finish or failure); :func:`to_records` turns it into a response
record and a request record that point at each other. Nothing here talks to the
browser.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord

from archive.records import Headers, Payload, new_record_id, request_record, response_record

#: Headers that describe the bytes on the wire, not the payload we hold. The browser
#: hands bodies over decoded and de-chunked, so these are kept under ``X-Orig-`` names.
WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class BodyState(StrEnum):
    """How much of a response body the record holds."""

    COMPLETE = "complete"
    NONE = "none"  # the response has no body by definition (redirect, 204, 304)
    TRUNCATED = "truncated"  # cut by the time budget or a size limit
    UNAVAILABLE = "unavailable"  # the browser did not hand it over
    #: A repeated request for a media URL whose whole body another record of this
    #: capture already holds (``Exchange.recorded_in``): the page was given the
    #: response's own bytes, and this record keeps its headers only.
    REPEAT = "repeat"


@dataclass
class Exchange:
    """A request and (perhaps) its response, in one frame of the page."""

    key: str  # the network request id: unique across the browser's targets
    url: str
    method: str
    resource_type: str
    frame_id: str | None
    started_at: datetime
    request_headers: Headers = field(default_factory=list)
    raw_request_headers: Headers | None = None
    post_data: bytes | None = None
    status: int | None = None
    status_text: str = ""
    response_headers: Headers = field(default_factory=list)
    raw_response_headers: Headers | None = None
    headers_text: str | None = None
    mime_type: str | None = None
    protocol: str | None = None
    remote_ip: str | None = None
    security: dict[str, Any] | None = None
    body: Payload | None = None
    body_state: BodyState = BodyState.UNAVAILABLE
    body_note: str | None = None
    #: Why the body could not be kept (the spool file's write failed: a full disk);
    #: the record holds what was kept before it.
    spool_error: OSError | None = None
    #: The whole body was taken while the response was paused (its length known), so
    #: nothing more can arrive even if the page never reads it to the end.
    body_whole: bool = False
    live: bool = False  # body copied chunk by chunk as the page receives it
    live_pending: list[bytes] | None = None  # chunks that arrived before the buffered part
    received_length: int = 0  # decoded bytes the renderer reported (Network.dataReceived)
    passed_to_page: bool = True
    #: For a ``REPEAT``: the WARC-Record-ID of the response record with the whole body.
    recorded_in: str | None = None
    error: str | None = None
    finished: bool = False
    written: bool = False
    response_record_id: str = field(default_factory=new_record_id)
    request_record_id: str = field(default_factory=new_record_id)

    @property
    def has_response(self) -> bool:
        return self.status is not None

    def summary(self) -> dict[str, Any]:
        """What page info lists for every resource."""
        item: dict[str, Any] = {
            "url": self.url,
            "method": self.method,
            "type": self.resource_type,
            "status": self.status,
            "mime": self.mime_type,
            "body": self.body_state.value,
        }
        if self.body is not None:
            item["size"] = self.body.size
            item["sha256"] = self.body.sha256
        if self.body_note:
            item["note"] = self.body_note
        if not self.passed_to_page:
            item["passed_to_page"] = False
        if self.recorded_in:
            item["recorded_in"] = self.recorded_in
        if self.error:
            item["error"] = self.error
        if self.remote_ip:
            item["ip"] = self.remote_ip
        return item


def headers_from_cdp(headers: dict[str, str] | None) -> Headers:
    """CDP joins repeated headers with newlines; split them back into separate lines."""
    result: Headers = []
    for name, value in (headers or {}).items():
        for line in str(value).split("\n"):
            result.append((name, line))
    return result


def parse_headers_text(text: str) -> tuple[int, str, Headers] | None:
    """Status and headers exactly as received on an HTTP/1.x connection."""
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def failure_text(params: dict[str, Any]) -> str:
    """Why a request failed, in CDP's words (a ``Network.loadingFailed`` event)."""
    reason = params.get("errorText") or "failed"
    if params.get("blockedReason"):
        reason += f" (blocked: {params['blockedReason']})"
    if params.get("canceled"):
        reason += " (canceled)"
    return reason


def post_data_from_cdp(request: dict[str, Any]) -> bytes | None:
    entries = request.get("postDataEntries")
    if entries:
        return b"".join(base64.b64decode(entry.get("bytes", "")) for entry in entries)
    if "postData" in request:
        return str(request["postData"]).encode("utf-8")
    return None


def response_headers_for_record(exchange: Exchange) -> tuple[int, str, Headers, list[str]]:
    """Status, headers to write, and the conversions made to describe the decoded body.

    The payload is the body as the browser received it after undoing transfer and
    content encodings. Headers that describe the encoded form are renamed (never
    dropped) and a ``Content-Length`` for the stored payload is added.
    """
    status = exchange.status or 0
    reason = exchange.status_text
    headers = exchange.raw_response_headers or exchange.response_headers
    if exchange.headers_text:
        parsed = parse_headers_text(exchange.headers_text)
        if parsed:
            status, reason, headers = parsed
    converted: Headers = []
    conversions: list[str] = []
    for name, value in headers:
        if name.startswith(":"):
            continue
        if name.lower() in WIRE_HEADERS:
            converted.append((f"X-Orig-{name}", value))
            if name.lower() != "content-length":
                conversions.append(f"{name.lower()} {value} decoded by the browser")
        else:
            converted.append((name, value))
    size = exchange.body.size if exchange.body is not None else 0
    converted.append(("Content-Length", str(size)))
    return status, reason, converted, conversions


REDACTED_COOKIE = "[redacted: cookies lent by the investigator for this capture]"


def request_headers_for_record(exchange: Exchange, *, redact_cookies: bool = False) -> Headers:
    """Request headers as sent; lent cookies never reach the WARC (``redact_cookies``)."""
    headers = exchange.raw_request_headers or exchange.request_headers
    result: Headers = []
    authority = None
    for name, value in headers:
        if name == ":authority":
            authority = value
        if name.startswith(":"):
            continue
        if redact_cookies and name.lower() == "cookie":
            value = REDACTED_COOKIE
        result.append((name, value))
    if not any(name.lower() == "host" for name, _ in result):
        result.insert(0, ("Host", authority or urlsplit(exchange.url).netloc))
    return result


def warc_protocols(exchange: Exchange) -> list[str]:
    """``WARC-Protocol`` values: the HTTP version, then TLS if any (IIPC proposal)."""
    protocols = []
    if exchange.protocol:
        protocols.append(exchange.protocol.lower())
    tls = (exchange.security or {}).get("protocol")
    if tls:
        protocols.append(tls.lower().replace(" ", "/"))
    return protocols


def status_line_version(exchange: Exchange) -> str:
    """The HTTP version the response's status line gives, from CDP's ``Response.protocol``.

    An HTTP/1.0 server's answer says ``HTTP/1.0``. HTTP/2 and HTTP/3 responses (and
    a response whose protocol the browser did not report) are written in HTTP/1.1
    form, the only other form WARC readers parse; ``WARC-Protocol`` keeps ``h2`` or
    ``h3``.
    """
    return "HTTP/1.0" if (exchange.protocol or "").lower() == "http/1.0" else "HTTP/1.1"


def to_records(exchange: Exchange, *, redact_cookies: bool = False) -> list[ArcWarcRecord]:
    """The response record (when there was a response), then the request record."""
    records: list[ArcWarcRecord] = []
    if exchange.has_response:
        status, reason, headers, conversions = response_headers_for_record(exchange)
        extra: list[tuple[str, str]] = []
        if exchange.remote_ip:
            extra.append(("WARC-IP-Address", exchange.remote_ip))
        extra.extend(("WARC-Protocol", p) for p in warc_protocols(exchange))
        if exchange.spool_error is not None:
            extra.append(("WARC-Truncated", "unspecified"))
        elif exchange.body_state == BodyState.TRUNCATED:
            extra.append(
                ("WARC-Truncated", "time" if "time" in (exchange.body_note or "") else "length")
            )
        elif exchange.body_state in (BodyState.UNAVAILABLE, BodyState.REPEAT):
            extra.append(("WARC-Truncated", "unspecified"))
        if exchange.recorded_in:
            extra.append(("X-Osint-Body-Recorded-In", exchange.recorded_in))
        if conversions:
            extra.append(("X-Osint-Conversion", "; ".join(conversions)))
        if exchange.body_note:
            extra.append(("X-Osint-Body-Note", exchange.body_note))
        records.append(
            response_record(
                exchange.url,
                status=status,
                reason=reason,
                headers=headers,
                body=exchange.body if exchange.body is not None else Payload(),
                record_id=exchange.response_record_id,
                date=exchange.started_at,
                version=status_line_version(exchange),
                extra=extra,
            )
        )
    split = urlsplit(exchange.url)
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    request_extra = [("X-Osint-Error", exchange.error)] if exchange.error else []
    if redact_cookies:
        request_extra.append(("X-Osint-Redacted", "Cookie header values (lent cookies)"))
    records.append(
        request_record(
            exchange.url,
            method=exchange.method,
            path=path,
            headers=request_headers_for_record(exchange, redact_cookies=redact_cookies),
            body=Payload(exchange.post_data) if exchange.post_data else None,
            record_id=exchange.request_record_id,
            date=exchange.started_at,
            concurrent_to=exchange.response_record_id if exchange.has_response else None,
            extra=request_extra,
        )
    )
    return records
