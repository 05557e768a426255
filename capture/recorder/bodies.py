"""How a response body is taken: the plan, and the four ways of carrying it out.

One function, :func:`plan_body`, holds the whole policy of how a body is taken
(none, buffer, stream, live). :class:`Bodies` carries the plan out and owns what is
in flight for bodies: the tasks taking each paused or live body (``loadingFinished``
and the cut wait for them), the bytes kept against the per-response limit, failed
spool writes, and why reading must stop. It asks the browser for bytes only
(``Fetch.getResponseBody``, ``Fetch.takeResponseBodyAsStream`` + ``IO.read``,
``Network.streamResourceContent``, ``Network.getResponseBody``); continuing or
fulfilling a paused response is the Fetch handler's (``fetch.py``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

from archive.records import Payload
from capture.cdp import CDPError, CDPSession
from capture.exchange import BodyState, Exchange
from capture.recorder.limits import (
    BUFFER_LIMIT,
    GONE_GRACE,
    IO_CHUNK,
    SETUP_TIMEOUT,
    STREAM_GRACE,
    Deadline,
)

log = logging.getLogger(__name__)


class BodyPlan(StrEnum):
    NONE = "none"  # no body by definition
    BUFFER = "buffer"  # Fetch.getResponseBody while paused, then continue
    STREAM = "stream"  # Fetch.takeResponseBodyAsStream + IO.read to disk, then fulfill
    LIVE = "live"  # continue now; chunks arrive as Network.dataReceived (streamResourceContent)


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
    length = int_or_none(names.get("content-length"))
    if length is not None and "content-encoding" not in names:
        return BodyPlan.BUFFER if length <= BUFFER_LIMIT else BodyPlan.STREAM
    if length is not None and length <= BUFFER_LIMIT // 8:
        return BodyPlan.BUFFER  # compressed, but even a 8:1 ratio stays in bounds
    return BodyPlan.LIVE


class Bodies:
    """Takes response bodies into payloads, within the per-response limit and the deadline."""

    def __init__(self, deadline: Deadline, *, body_limit: int, spool_dir: Path | None) -> None:
        self.deadline = deadline
        #: Where bodies too large for memory are spooled until their record is written:
        #: the capture's work directory, on the data disk (``None``: the system's temp).
        self.spool_dir = spool_dir
        #: Writes of bodies to their spool files that failed (a full disk); each cut a
        #: body, and the capture cannot be complete.
        self.spool_errors: list[OSError] = []
        #: Bytes of one response body recorded at most.
        self.body_limit = body_limit
        self.bytes_recorded = 0
        #: Why recording stopped (set by the cut); a body being streamed ends at once.
        self.cut_reason: str | None = None
        self._body_tasks: dict[str, asyncio.Task[None]] = {}
        self._live_tasks: dict[str, asyncio.Task[None]] = {}

    # -- the tasks in flight ---------------------------------------------------------------

    def taking(self, key: str, task: asyncio.Task[None]) -> None:
        """``task`` takes the body of the paused response ``key`` (the Fetch handler's)."""
        self._body_tasks[key] = task

    async def until_taken(self, key: str, *, live: bool) -> None:
        """Wait for the task taking ``key``'s paused body, and its live one if ``live``.

        Shielded: a waiting handler that is cancelled never cancels the taking.
        """
        for tasks in (self._body_tasks, self._live_tasks) if live else (self._body_tasks,):
            task = tasks.get(key)
            if task is not None:
                await asyncio.shield(task)

    async def abandon(self, key: str) -> None:
        """Stop taking ``key``'s body: the target it came from went, and a command sent
        to a target that went is never answered. What is taken within
        :data:`~capture.recorder.limits.GONE_GRACE` is kept."""
        tasks = [
            task
            for task in (self._body_tasks.get(key), self._live_tasks.get(key))
            if task is not None and not task.done()
        ]
        if not tasks:
            return
        _, running = await asyncio.wait(tasks, timeout=GONE_GRACE)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)

    async def stop(self, reason: str) -> None:
        """Stop reading (streams end at their next look) and give running takes a moment."""
        self.cut_reason = reason
        tasks = [*self._body_tasks.values(), *self._live_tasks.values()]
        running = [task for task in tasks if not task.done()]
        if running:
            await asyncio.wait(running, timeout=3.0)

    # -- buffer and stream: the paused response ----------------------------------------------

    async def take_buffered(self, session: CDPSession, request_id: str, exchange: Exchange) -> bool:
        """The whole body of a paused response in one answer; ``False`` if refused."""
        try:
            result = await session.send(
                "Fetch.getResponseBody",
                {"requestId": request_id},
                timeout=self.deadline.remaining(),
            )
        except CDPError as exc:
            exchange.body_state = BodyState.UNAVAILABLE
            exchange.body_note = f"browser did not hand over the body: {exc.message}"
            return False
        exchange.body = self.new_body()
        exchange.body_state = BodyState.COMPLETE
        exchange.body_whole = True
        self.keep(exchange, exchange.body, decode_body(result))
        return True

    async def take_stream(self, session: CDPSession, request_id: str, exchange: Exchange) -> bool:
        """A large or unbounded paused body, streamed to a spool file.

        ``False`` when the browser would not hand over the stream: nothing was read,
        and the response is still paused.
        """
        try:
            handle = (
                await session.send(
                    "Fetch.takeResponseBodyAsStream",
                    {"requestId": request_id},
                    timeout=self.deadline.remaining(),
                )
            )["stream"]
        except CDPError as exc:
            exchange.body_state = BodyState.UNAVAILABLE
            exchange.body_note = f"browser did not hand over the body stream: {exc.message}"
            return False
        body = self.new_body()
        exchange.body = body
        exchange.body_state = BodyState.COMPLETE
        try:
            await self._read_stream(session, handle, exchange, body)
        finally:
            with contextlib.suppress(CDPError):
                await session.send("IO.close", {"handle": handle}, timeout=SETUP_TIMEOUT)
        return True

    async def _read_stream(
        self, session: CDPSession, handle: str, exchange: Exchange, body: Payload
    ) -> None:
        """``IO.read`` until the end, the per-response limit, an error or the cut."""
        reading: asyncio.Task[dict[str, Any]] | None = None
        while True:
            if reading is None:
                # One read in flight at a time, never abandoned while data may come:
                # a dropped answer would lose a chunk.
                reading = asyncio.ensure_future(
                    session.send(
                        "IO.read",
                        {"handle": handle, "size": IO_CHUNK},
                        timeout=self.deadline.remaining() + STREAM_GRACE,
                    )
                )
            done, _ = await asyncio.wait({reading}, timeout=min(1.0, self.deadline.remaining()))
            if not done:
                if self.cut_reason or self.deadline.expired():
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
            self.keep(exchange, body, decode_body(chunk))
            if exchange.body_state == BodyState.TRUNCATED:
                break  # at the per-response limit: read no further
            if chunk.get("eof"):
                exchange.body_whole = True  # read to the end: nothing more can come
                break
            if self.cut_reason or self.deadline.expired():
                # A fast server answers every read at once: the deadline is checked
                # here too, or a body that never ends would be read for ever.
                self._cut_stream(exchange, body)
                break

    def _cut_stream(self, exchange: Exchange, body: Payload) -> None:
        why = self.cut_reason or "the time budget ran out"
        exchange.body_state = BodyState.TRUNCATED
        exchange.body_note = f"body cut at {body.size} bytes: {why} (time)"

    # -- live and late: the body flows to the page ---------------------------------------------

    def start_live(self, session: CDPSession, exchange: Exchange) -> None:
        """Copy the body as the page receives it, from its response on (plan ``live``)."""
        exchange.live_pending = []
        task = asyncio.create_task(self._start_live_body(session, exchange))
        self._live_tasks[exchange.key] = task

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
        body = self.new_body()
        exchange.body_state = BodyState.COMPLETE
        self.keep(exchange, body, base64.b64decode(result.get("bufferedData", "")))
        for chunk in exchange.live_pending or ():
            self.keep(exchange, body, chunk)
        exchange.live_pending = None
        exchange.body = body

    def add_live_chunk(self, exchange: Exchange, chunk: bytes) -> None:
        """One chunk of a live body (``Network.dataReceived``)."""
        if exchange.live_pending is not None:
            exchange.live_pending.append(chunk)  # must follow the buffered data
        elif exchange.body is not None:
            self.keep(exchange, exchange.body, chunk)

    async def take_late(self, session: CDPSession, exchange: Exchange) -> None:
        """The copy the browser kept, after ``loadingFinished`` (live streaming was refused)."""
        request_id = exchange.key
        try:
            result = await session.send(
                "Network.getResponseBody",
                {"requestId": request_id},
                timeout=max(1.0, self.deadline.remaining()),
            )
        except CDPError as exc:
            exchange.body_state = BodyState.UNAVAILABLE
            exchange.body_note = f"browser did not keep the body: {exc.message}"
            return
        exchange.body = self.new_body()
        exchange.body_state = BodyState.COMPLETE
        self.keep(exchange, exchange.body, decode_body(result))
        check_received(exchange)

    # -- keeping bytes -----------------------------------------------------------------------

    def new_body(self) -> Payload:
        return Payload(spool_dir=self.spool_dir)

    def keep(self, exchange: Exchange, body: Payload, data: bytes) -> None:
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


def check_received(exchange: Exchange) -> None:
    """A body shorter than what the renderer reported receiving is not complete: say so."""
    assert exchange.body is not None
    if exchange.body_state != BodyState.COMPLETE:
        return  # already cut (at the size limit), and said where
    if exchange.body.size < exchange.received_length:
        exchange.body_state = BodyState.TRUNCATED
        exchange.body_note = (
            f"browser handed over {exchange.body.size} of {exchange.received_length} bytes received"
        )


def decode_body(result: dict[str, Any]) -> bytes:
    data = result.get("body", result.get("data", ""))
    if result.get("base64Encoded"):
        return base64.b64decode(data)
    return str(data).encode("utf-8")


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
