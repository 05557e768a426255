"""The recorder: every request and response of a page, through the browser's own stack.

It attaches to the page's target over CDP (and, automatically, to every child
target such as out-of-process iframes and workers, before they run), listens to
the Network domain for requests, headers, addresses and TLS details, and pauses
each response in the Fetch domain to take its body. Handlers are named after the
CDP events they handle. One function, :func:`plan_body`, holds the whole policy of
how a body is taken.

Two bounds besides the time budget. A body is never recorded past ``body_limit``
(:data:`BODY_LIMIT` by default): the record holds what came before the limit and
says it was cut. And a media player asks for the same video again and again (it
seeks, it retries, it reads ranges); once the whole body of an audio or video URL
is recorded, later responses for that URL with the same length and validators
flow to the page untouched and are recorded with their headers only, pointing at
the record that holds the body (:meth:`Recorder.repeats_not_recorded` says so in
words for the manifest).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.records import Payload, is_http_uri, metadata_record
from archive.timeutil import utc_now
from archive.warcfile import WarcFile
from capture.cdp import CDPConnection, CDPError, CDPSession
from capture.exchange import (
    BodyState,
    Exchange,
    failure_text,
    headers_from_cdp,
    post_data_from_cdp,
    to_records,
)
from capture.nonhttp import NonHttpLog

log = logging.getLogger(__name__)

#: Bodies of known length up to this are taken whole while the response is paused.
BUFFER_LIMIT = 8 * 1024 * 1024
#: Streamed bodies up to this are handed back to the page after recording; larger
#: ones are recorded in full but the page gets an empty body (noted in the record).
#: A media player then asks again, and that repeat flows to it untouched.
PASSBACK_LIMIT = 32 * 1024 * 1024
#: No response body is recorded past this many bytes (``Recorder(body_limit=...)``).
BODY_LIMIT = 1024 * 1024 * 1024
#: What Chromium keeps per resource for ``Network.getResponseBody`` (late bodies).
BROWSER_RESOURCE_BUFFER = 32 * 1024 * 1024
BROWSER_TOTAL_BUFFER = 256 * 1024 * 1024
#: Bytes asked for per ``IO.read`` when streaming a body.
IO_CHUNK = 1024 * 1024
#: How long past the deadline an outstanding read may still answer.
STREAM_GRACE = 5.0
#: How long setup commands may take.
SETUP_TIMEOUT = 10.0

ProgressCallback = Callable[[str, dict[str, Any]], None]


class BodyPlan(StrEnum):
    NONE = "none"  # no body by definition
    BUFFER = "buffer"  # Fetch.getResponseBody while paused, then continue
    STREAM = "stream"  # Fetch.takeResponseBodyAsStream + IO.read to disk, then fulfill
    LIVE = "live"  # continue now; chunks arrive as Network.dataReceived (streamResourceContent)


@dataclass(frozen=True)
class WholeCopy:
    """The first whole body of a media URL recorded in this capture, and what identifies it.

    A later response for the URL is taken as a repeat of it only if it describes the
    same representation: the same total length, and the same ``ETag`` and
    ``Last-Modified`` (both absent counts as the same).
    """

    exchange: Exchange
    total: int
    etag: str | None
    last_modified: str | None


def plan_body(
    method: str, status: int, headers: list[dict[str, str]], resource_type: str
) -> BodyPlan:
    """How to take a body: the one place that decides between memory, disk and live.

    Small bodies of known size are taken whole while paused. Large ones of known
    size are streamed from the paused response. Bodies of unknown size (chunked,
    or compressed so that the decoded size is unknown) flow to the page as they
    arrive and are copied chunk by chunk, so a response that never ends still
    leaves what arrived, and the page renders progressively as it would unrecorded.
    """
    names = {h["name"].lower(): h["value"] for h in headers}
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return BodyPlan.NONE
    if 300 <= status < 400 and "location" in names:
        return BodyPlan.NONE
    length = _int_or_none(names.get("content-length"))
    if length is not None and "content-encoding" not in names:
        return BodyPlan.BUFFER if length <= BUFFER_LIMIT else BodyPlan.STREAM
    if length is not None and length <= BUFFER_LIMIT // 8:
        return BodyPlan.BUFFER  # compressed, but even a 8:1 ratio stays in bounds
    return BodyPlan.LIVE


class Recorder:
    """Records one page (and its child targets) into one WARC file."""

    def __init__(
        self,
        connection: CDPConnection,
        warc: WarcFile,
        *,
        deadline: float,
        on_progress: ProgressCallback | None = None,
        redact_cookies: bool = False,
        body_limit: int | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.connection = connection
        #: Where bodies too large for memory are spooled until their record is written:
        #: the capture's work directory, on the data disk (``None``: the system's temp).
        self.spool_dir = spool_dir
        #: Writes of bodies to their spool files that failed (a full disk); each cut a
        #: body, and the capture cannot be complete.
        self.spool_errors: list[OSError] = []
        #: Bytes of one response body recorded at most (``None``: :data:`BODY_LIMIT`).
        self.body_limit = BODY_LIMIT if body_limit is None else body_limit
        self.redact_cookies = redact_cookies
        self.warc = warc
        self.deadline = deadline
        self.on_progress = on_progress or (lambda kind, data: None)
        self.exchanges: list[Exchange] = []
        self.page_session: CDPSession | None = None
        self.main_frame_id: str | None = None
        self.problems: list[str] = []
        self.tls_origins: dict[str, dict[str, Any]] = {}
        self.non_http = NonHttpLog()  # requests that are not HTTP: facts, never records
        self._active: dict[str, Exchange] = {}
        self._early: dict[str, Exchange] = {}
        self._req_extra: dict[str, deque[Any]] = defaultdict(deque)
        self._resp_extra: dict[str, deque[Any]] = defaultdict(deque)
        self._body_tasks: dict[str, asyncio.Task[None]] = {}
        self._live_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sessions: list[CDPSession] = []
        self._cut_reason: str | None = None
        self._write_lock = asyncio.Lock()
        self._whole_media: dict[str, WholeCopy] = {}
        self.bytes_recorded = 0
        self.records_written = 0
        #: Event-loop time when a request last started or an exchange was last written:
        #: how long the network has been quiet is counted from here (``None``: never).
        self.last_activity: float | None = None

    # -- attaching ---------------------------------------------------------------------

    async def attach(self, target_id: str) -> None:
        """Attach to the page's target; must happen before navigation starts."""
        result = await self.connection.send(
            "Target.attachToTarget", {"targetId": target_id, "flatten": True}, timeout=SETUP_TIMEOUT
        )
        self.main_frame_id = target_id
        self.page_session = self.connection.session(result["sessionId"])
        await self._setup_session(self.page_session, resume=False)

    async def _setup_session(self, session: CDPSession, *, resume: bool) -> None:
        self._sessions.append(session)
        handlers = {
            "Network.requestWillBeSent": self.on_request_will_be_sent,
            "Network.requestWillBeSentExtraInfo": self.on_request_extra_info,
            "Network.responseReceived": self.on_response_received,
            "Network.responseReceivedExtraInfo": self.on_response_extra_info,
            "Network.dataReceived": self.on_data_received,
            "Network.loadingFinished": self.on_loading_finished,
            "Network.loadingFailed": self.on_loading_failed,
            "Fetch.requestPaused": self.on_request_paused,
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

    # -- Network domain ----------------------------------------------------------------

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
        self.last_activity = asyncio.get_running_loop().time()
        previous = self._active.get(key)
        if previous is not None and redirect is None and previous.url == request["url"]:
            # The same request announced again (a child target does this for its
            # own document): one exchange, not two.
            return None
        self._active.pop(key, None)
        if is_http_uri(request["url"]):  # any other scheme is self.non_http's
            exchange = self._early.pop(key, None)
            if exchange is None or exchange.url != request["url"]:
                exchange = self._new_exchange(key, request, params.get("frameId"))
            exchange.resource_type = params.get("type", exchange.resource_type)
            exchange.request_headers = headers_from_cdp(request.get("headers"))
            exchange.post_data = post_data_from_cdp(request)
            self._active[key] = exchange
            if self._req_extra[key] and exchange.raw_request_headers is None:
                exchange.raw_request_headers = self._req_extra[key].popleft()
        if previous is not None and redirect is not None:
            # Each hop of a redirect chain is its own response record.
            self._apply_response(previous, redirect)
            previous.body_state = BodyState.NONE
            previous.finished = True
            return self._write(previous)
        if previous is not None:
            # Never seen in practice; if it happens, keep what there is and say so.
            previous.error = previous.error or "replaced by another request with the same id"
            return self._write(previous)
        return None

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

    def on_request_extra_info(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        headers = headers_from_cdp(params.get("headers"))
        exchange = self._active.get(key)
        if exchange is not None and exchange.raw_request_headers is None:
            exchange.raw_request_headers = headers
        else:
            self._req_extra[key].append(headers)

    def on_response_received(self, session: CDPSession, params: dict[str, Any]) -> None:
        exchange = self._active.get(params["requestId"])
        if exchange is None:
            return
        self._apply_response(exchange, params["response"])
        exchange.resource_type = params.get("type", exchange.resource_type)
        if exchange.live:
            exchange.live_pending = []
            task = asyncio.create_task(self._start_live_body(session, exchange))
            self._live_tasks[exchange.key] = task

    def on_response_extra_info(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self._active.get(key)
        if exchange is not None and exchange.raw_response_headers is None:
            self._apply_response_extra(exchange, params)
        else:
            self._resp_extra[key].append(params)

    def on_data_received(self, session: CDPSession, params: dict[str, Any]) -> None:
        exchange = self._active.get(params["requestId"])
        if exchange is None:
            return
        exchange.received_length += params.get("dataLength", 0)
        data = params.get("data")
        if data is None or not exchange.live or exchange.written:
            return
        chunk = base64.b64decode(data)
        if exchange.live_pending is not None:
            exchange.live_pending.append(chunk)  # must follow the buffered data
        elif exchange.body is not None:
            self._keep(exchange, exchange.body, chunk)

    async def _start_live_body(self, session: CDPSession, exchange: Exchange) -> None:
        """Ask for the body's chunks as they arrive; what came before is handed over first."""
        request_id = exchange.key
        try:
            result = await session.send(
                "Network.streamResourceContent", {"requestId": request_id}, timeout=SETUP_TIMEOUT
            )
        except CDPError as exc:
            # Fall back to the copy the browser keeps, taken after loadingFinished.
            exchange.live = False
            exchange.live_pending = None
            log.debug("no live body for %s: %s", exchange.url, exc)
            return
        body = self._new_body()
        exchange.body_state = BodyState.COMPLETE
        self._keep(exchange, body, base64.b64decode(result.get("bufferedData", "")))
        for chunk in exchange.live_pending or ():
            self._keep(exchange, body, chunk)
        exchange.live_pending = None
        exchange.body = body

    async def on_loading_finished(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self._active.get(key)
        if exchange is None:
            return
        exchange.finished = True
        for tasks in (self._body_tasks, self._live_tasks):
            task = tasks.get(key)
            if task is not None:
                await asyncio.shield(task)
        if exchange.body is None and exchange.body_state not in (BodyState.NONE, BodyState.REPEAT):
            await self._take_late_body(session, exchange)
        elif exchange.live and exchange.body is not None:
            _check_received(exchange)
        await self._write(exchange)

    async def on_loading_failed(self, session: CDPSession, params: dict[str, Any]) -> None:
        key = params["requestId"]
        exchange = self._active.get(key)
        if exchange is None:
            return
        exchange.error = failure_text(params)
        exchange.finished = True
        task = self._body_tasks.get(key)
        if task is not None:
            await asyncio.shield(task)
        if exchange.has_response and exchange.body_state == BodyState.COMPLETE:
            pass
        elif exchange.has_response and exchange.body is not None:
            exchange.body_state = BodyState.TRUNCATED
        await self._write(exchange)

    # -- Fetch domain ------------------------------------------------------------------

    async def on_request_paused(self, session: CDPSession, params: dict[str, Any]) -> None:
        request_id = params["requestId"]
        status = params.get("responseStatusCode")
        network_id = params.get("networkId")
        http = is_http_uri(params["request"]["url"])
        if status is None or params.get("responseErrorReason") or not network_id or not http:
            await self._continue(session, request_id)
            return
        exchange = self._exchange_for_pause(session, network_id, params)
        plan = plan_body(
            exchange.method,
            status,
            params.get("responseHeaders") or [],
            params.get("resourceType", ""),
        )
        first = None if plan is BodyPlan.NONE else self._whole_copy_of(exchange, params)
        if plan is BodyPlan.NONE:
            exchange.body_state = BodyState.NONE
            await self._continue(session, request_id)
        elif first is not None:
            # The page gets this response's own bytes; the record points at the copy.
            self._mark_repeat(exchange, first)
            await self._continue(session, request_id)
        elif plan is BodyPlan.LIVE:
            exchange.live = True
            await self._continue(session, request_id)
        else:
            task = asyncio.create_task(self._take_paused_body(session, params, exchange, plan))
            self._body_tasks[exchange.key] = task
            await task

    def _exchange_for_pause(
        self, session: CDPSession, network_id: str, params: dict[str, Any]
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
        return early

    async def _take_paused_body(
        self, session: CDPSession, params: dict[str, Any], exchange: Exchange, plan: BodyPlan
    ) -> None:
        request_id = params["requestId"]
        if plan is BodyPlan.BUFFER:
            try:
                result = await session.send(
                    "Fetch.getResponseBody", {"requestId": request_id}, timeout=self._remaining()
                )
            except CDPError as exc:
                exchange.body_state = BodyState.UNAVAILABLE
                exchange.body_note = f"browser did not hand over the body: {exc.message}"
            else:
                exchange.body = self._new_body()
                exchange.body_state = BodyState.COMPLETE
                exchange.body_whole = True
                self._keep(exchange, exchange.body, _decode_body(result))
                self._note_whole_copy(exchange, params)
            await self._continue(session, request_id)
            return
        await self._stream_body(session, params, exchange)

    async def _stream_body(
        self, session: CDPSession, params: dict[str, Any], exchange: Exchange
    ) -> None:
        """Large or unbounded bodies: stream to a spool file, then hand back to the page."""
        request_id = params["requestId"]
        try:
            handle = (
                await session.send(
                    "Fetch.takeResponseBodyAsStream",
                    {"requestId": request_id},
                    timeout=self._remaining(),
                )
            )["stream"]
        except CDPError as exc:
            exchange.body_state = BodyState.UNAVAILABLE
            exchange.body_note = f"browser did not hand over the body stream: {exc.message}"
            await self._continue(session, request_id)
            return
        body = self._new_body()
        exchange.body = body
        exchange.body_state = BodyState.COMPLETE
        reading: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                if reading is None:
                    # One read in flight at a time, never abandoned while data may come:
                    # a dropped answer would lose a chunk.
                    reading = asyncio.ensure_future(
                        session.send(
                            "IO.read",
                            {"handle": handle, "size": IO_CHUNK},
                            timeout=self._remaining() + STREAM_GRACE,
                        )
                    )
                done, _ = await asyncio.wait({reading}, timeout=min(1.0, self._remaining()))
                if not done:
                    if self._cut_reason or self._expired():
                        reading.cancel()
                        self._cut_stream(exchange, body)
                        break
                    continue
                try:
                    chunk = reading.result()
                except CDPError as exc:
                    exchange.body_state = BodyState.TRUNCATED
                    exchange.body_note = f"body cut at {body.size} bytes: {exc.message}"
                    break
                reading = None
                self._keep(exchange, body, _decode_body(chunk))
                if exchange.body_state == BodyState.TRUNCATED:
                    break  # at the per-response limit: read no further
                if chunk.get("eof"):
                    exchange.body_whole = True  # read to the end: nothing more can come
                    break
                if self._cut_reason or self._expired():
                    # A fast server answers every read at once: the deadline is checked
                    # here too, or a body that never ends would be read for ever.
                    self._cut_stream(exchange, body)
                    break
        finally:
            with contextlib.suppress(CDPError):
                await session.send("IO.close", {"handle": handle}, timeout=SETUP_TIMEOUT)
        # Before the page hears back: a player that asks again must find the copy.
        self._note_whole_copy(exchange, params)
        await self._fulfill(session, params, exchange)

    def _new_body(self) -> Payload:
        return Payload(spool_dir=self.spool_dir)

    def _keep(self, exchange: Exchange, body: Payload, data: bytes) -> None:
        """Add ``data`` to ``body`` up to the per-response limit; past it, say where it was cut.

        The part kept is the start of the body exactly as received: the limit only
        decides where the record stops, never what it holds.
        """
        if exchange.spool_error is not None:
            return
        if exchange.body_state == BodyState.TRUNCATED and body.size >= self.body_limit:
            return
        room = self.body_limit - body.size
        if len(data) > room:
            data = data[: max(0, room)]
            exchange.body_state = BodyState.TRUNCATED
            exchange.body_note = (
                f"body cut at {body.size + len(data)} bytes: larger than the per-response "
                f"limit of {self.body_limit} bytes"
            )
        if not data:
            return
        try:
            body.write(data)
        except OSError as exc:
            # Runs in a CDP event's task: raising would lose the error and leave the
            # exchange waiting for ever. The record keeps what was stored, and the
            # pipeline fails the capture with :attr:`spool_errors`.
            exchange.spool_error = exc
            exchange.body_state = BodyState.TRUNCATED
            exchange.body_note = (
                f"body cut at {body.size} bytes: the rest could not be stored ({exc})"
            )
            self.spool_errors.append(exc)
            return
        self.bytes_recorded += len(data)

    # -- repeated media ------------------------------------------------------------------

    def _note_whole_copy(self, exchange: Exchange, params: dict[str, Any]) -> None:
        """Remember the first whole body of a media URL, so its repeats need not be taken."""
        if exchange.url in self._whole_media or exchange.body is None:
            return
        if exchange.body_state != BodyState.COMPLETE or not exchange.body_whole:
            return
        headers = _header_map(params.get("responseHeaders"))
        if exchange.method != "GET" or not _is_media(params.get("resourceType"), headers):
            return
        status = params.get("responseStatusCode")
        span = _span(status, headers)
        if span is None or span[0] != 0 or span[1] != exchange.body.size:
            return  # only part of the representation
        self._whole_media[exchange.url] = WholeCopy(
            exchange, span[2], headers.get("etag"), headers.get("last-modified")
        )

    def _whole_copy_of(self, exchange: Exchange, params: dict[str, Any]) -> WholeCopy | None:
        """The recorded whole copy this paused response repeats, if it is a repeat."""
        first = self._whole_media.get(exchange.url)
        if first is None or first.exchange is exchange or exchange.method != "GET":
            return None
        if first.exchange.body_state != BodyState.COMPLETE:
            return None
        headers = _header_map(params.get("responseHeaders"))
        span = _span(params.get("responseStatusCode"), headers)
        if span is None or span[2] != first.total:
            return None
        if (headers.get("etag"), headers.get("last-modified")) != (
            first.etag,
            first.last_modified,
        ):
            return None
        return first

    def _mark_repeat(self, exchange: Exchange, first: WholeCopy) -> None:
        exchange.body_state = BodyState.REPEAT
        exchange.recorded_in = first.exchange.response_record_id
        exchange.body_note = (
            "body not recorded again: the whole body of this URL "
            f"({first.total} bytes, same length and validators) is in record "
            f"{first.exchange.response_record_id}"
        )

    def repeats_not_recorded(self) -> list[str]:
        """One sentence per media URL whose repeated requests were recorded headers only.

        For the manifest's notes: the page received bytes that these records do not
        hold, and a reader must know where the body is instead. Not a loss (so not a
        reason, and the capture can be complete): the server gave the same length and
        validators (ETag, Last-Modified) as for the body recorded whole.
        """
        counts: dict[tuple[str, str], int] = {}
        for exchange in self.exchanges:
            if exchange.written and exchange.body_state == BodyState.REPEAT:
                key = (exchange.url, exchange.recorded_in or "")
                counts[key] = counts.get(key, 0) + 1
        return [
            f"{n} repeated request(s) for {url} not recorded again; "
            f"the whole body is in record {record_id}"
            for (url, record_id), n in counts.items()
        ]

    def _cut_stream(self, exchange: Exchange, body: Payload) -> None:
        why = self._cut_reason or "the time budget ran out"
        exchange.body_state = BodyState.TRUNCATED
        exchange.body_note = f"body cut at {body.size} bytes: {why} (time)"

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
                timeout=max(SETUP_TIMEOUT, self._remaining()),
            )
        except CDPError as exc:
            log.debug("fulfill failed for %s: %s", exchange.url, exc)

    async def _continue(self, session: CDPSession, request_id: str) -> None:
        with contextlib.suppress(CDPError):
            await session.send(
                "Fetch.continueRequest", {"requestId": request_id}, timeout=SETUP_TIMEOUT
            )

    async def _take_late_body(self, session: CDPSession, exchange: Exchange) -> None:
        request_id = exchange.key
        try:
            result = await session.send(
                "Network.getResponseBody",
                {"requestId": request_id},
                timeout=max(1.0, self._remaining()),
            )
        except CDPError as exc:
            exchange.body_state = BodyState.UNAVAILABLE
            exchange.body_note = f"browser did not keep the body: {exc.message}"
            return
        exchange.body = self._new_body()
        exchange.body_state = BodyState.COMPLETE
        self._keep(exchange, exchange.body, _decode_body(result))
        _check_received(exchange)

    # -- responses, TLS ------------------------------------------------------------------

    def _apply_response(self, exchange: Exchange, response: dict[str, Any]) -> None:
        exchange.status = response.get("status")
        exchange.status_text = response.get("statusText", "")
        exchange.response_headers = headers_from_cdp(response.get("headers"))
        exchange.mime_type = response.get("mimeType")
        exchange.protocol = response.get("protocol")
        exchange.remote_ip = response.get("remoteIPAddress") or exchange.remote_ip
        if response.get("securityDetails"):
            exchange.security = response["securityDetails"]
            self._note_tls(exchange)
        if exchange.raw_response_headers is None and self._resp_extra[exchange.key]:
            self._apply_response_extra(exchange, self._resp_extra[exchange.key].popleft())

    def _apply_response_extra(self, exchange: Exchange, params: dict[str, Any]) -> None:
        exchange.raw_response_headers = headers_from_cdp(params.get("headers"))
        exchange.headers_text = params.get("headersText")

    def _note_tls(self, exchange: Exchange) -> None:
        split = urlsplit(exchange.url)
        origin = f"{split.scheme}://{split.netloc}"
        if origin in self.tls_origins or self.page_session is None:
            return
        self.tls_origins[origin] = {"origin": origin, "security_details": exchange.security}
        session = self.page_session
        task = asyncio.create_task(self._record_certificate(session, origin))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_certificate(self, session: CDPSession, origin: str) -> None:
        """TLS details and the certificate chain of an origin, as a metadata record."""
        info = self.tls_origins[origin]
        try:
            result = await session.send(
                "Network.getCertificate", {"origin": origin}, timeout=SETUP_TIMEOUT
            )
            info["certificate_chain_pem"] = [_pem(der) for der in result.get("tableNames", [])]
        except CDPError as exc:
            info["certificate_chain_pem"] = []
            info["certificate_error"] = exc.message
        info["recorded_at"] = utc_now().isoformat()
        payload = Payload(json.dumps(info, indent=2, sort_keys=True).encode("utf-8"))
        record = metadata_record(
            origin + "/",
            content_type="application/json",
            payload=payload,
            extra=[("X-Osint-Metadata", "tls-certificate-chain")],
        )
        async with self._write_lock:
            await self.warc.write_async(record)
        payload.close()

    # -- writing and finishing -------------------------------------------------------------

    async def _write(self, exchange: Exchange) -> None:
        if exchange.written:
            return
        exchange.written = True
        exchange.live = False  # chunks arriving after this are not part of the record
        self.last_activity = asyncio.get_running_loop().time()
        for waiting in (self._active, self._early):
            if waiting.get(exchange.key) is exchange:
                del waiting[exchange.key]
        async with self._write_lock:
            for record in to_records(exchange, redact_cookies=self.redact_cookies):
                await self.warc.write_async(record)
        if exchange.body is not None:
            exchange.body.close()
        self.records_written += 1
        self.on_progress(
            "resource",
            {
                "url": exchange.url,
                "status": exchange.status,
                "recorded": self.records_written,
                "bytes": self.bytes_recorded,
            },
        )

    def pending(self) -> list[Exchange]:
        """Requests not yet written to the WARC (loading, or not read to the end by the page)."""
        waiting = [*self._active.values(), *self._early.values()]
        return [e for e in waiting if not e.written]

    async def cut(self, reason: str) -> list[Exchange]:
        """Stop at the time budget: record what arrived and return what was cut."""
        self._cut_reason = reason
        tasks = [*self._body_tasks.values(), *self._live_tasks.values()]
        running = [task for task in tasks if not task.done()]
        if running:
            await asyncio.wait(running, timeout=3.0)
        cut = []
        for exchange in self.pending():
            if exchange.written:
                continue
            if exchange.has_response and (
                exchange.body_whole or exchange.body_state == BodyState.REPEAT
            ):
                # A response the page never read to the end, but whose body we hold whole
                # (here, or for a repeat in the record it points at).
                await self._write(exchange)
                continue
            cut.append(exchange)
            exchange.error = exchange.error or f"still loading when the capture stopped: {reason}"
            if (
                exchange.has_response
                and exchange.body is not None
                and exchange.body_state == BodyState.COMPLETE
                and not exchange.finished
            ):
                exchange.body_state = BodyState.TRUNCATED
                exchange.body_note = f"body cut at {exchange.body.size} bytes: {reason} (time)"
            if exchange.has_response and exchange.body is None:
                exchange.body_state = BodyState.UNAVAILABLE
                exchange.body_note = (
                    exchange.body_note or "response still loading when the capture stopped"
                )
            await self._write(exchange)
        return cut

    async def close(self) -> None:
        """Let pending metadata writes finish and release the browser's paused requests."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=SETUP_TIMEOUT)
        async with self._write_lock:
            # A handler that began writing an exchange just before (a response finishing
            # as the capture stops) is queued on this lock: its records reach the file
            # before the owner closes it, never after.
            pass
        for session in self._sessions:
            with contextlib.suppress(CDPError):
                await session.send("Fetch.disable", timeout=2.0)

    def _remaining(self) -> float:
        return max(0.05, self.deadline - asyncio.get_running_loop().time())

    def _expired(self) -> bool:
        return asyncio.get_running_loop().time() >= self.deadline


def _check_received(exchange: Exchange) -> None:
    """A body shorter than what the renderer reported receiving is not complete: say so."""
    assert exchange.body is not None
    if exchange.body_state != BodyState.COMPLETE:
        return  # already cut (at the size limit), and said where
    if exchange.body.size < exchange.received_length:
        exchange.body_state = BodyState.TRUNCATED
        exchange.body_note = (
            f"browser handed over {exchange.body.size} of {exchange.received_length} bytes received"
        )


def _header_map(headers: list[dict[str, str]] | None) -> dict[str, str]:
    return {h["name"].lower(): h["value"] for h in headers or []}


def _is_media(resource_type: str | None, headers: dict[str, str]) -> bool:
    kind = headers.get("content-type", "").lower()
    return resource_type == "Media" or kind.startswith(("video/", "audio/"))


def _span(status: int | None, headers: dict[str, str]) -> tuple[int, int, int] | None:
    """(first byte, length, total length) of the representation a response carries.

    ``None`` when that cannot be told from the headers: an encoded body, a status
    other than 200 or 206, a missing or unknown length.
    """
    if "content-encoding" in headers:
        return None
    if status == 200:
        length = _int_or_none(headers.get("content-length"))
        return None if length is None else (0, length, length)
    if status != 206:
        return None
    unit, _, spec = headers.get("content-range", "").partition(" ")
    first_last, _, total = spec.partition("/")
    first, _, last = first_last.partition("-")
    numbers = [_int_or_none(x.strip()) for x in (first, last, total)]
    if unit.strip().lower() != "bytes" or None in numbers:
        return None
    start, end, whole = (n for n in numbers if n is not None)
    return start, end - start + 1, whole


def _decode_body(result: dict[str, Any]) -> bytes:
    data = result.get("body", result.get("data", ""))
    if result.get("base64Encoded"):
        return base64.b64decode(data)
    return str(data).encode("utf-8")


def _pem(der_base64: str) -> str:
    lines = [der_base64[i : i + 64] for i in range(0, len(der_base64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
