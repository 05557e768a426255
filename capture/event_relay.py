"""Progress events across a team's processes, relayed through PostgreSQL's LISTEN/NOTIFY.

Embedded, the capture runs in the server's process and its events reach the server's
streams directly (:class:`~capture.events.CaptureEvents`). In team mode a worker on
another machine runs it, so each process sends every event it emits (after the
streams' coalescing: at most four ``resource`` events a second per capture) as one
``NOTIFY`` on :data:`CHANNEL`, and each server listens and publishes what others sent
into its own streams: a follower of ``/captures/ID/events`` on any server sees the
stages as the worker enters them.

The payload is JSON: the sending process's ``origin`` (a process ignores its own), the
``stream`` (a capture's id, or an analysis run's stream id), the ``event`` name and its
``data`` (the SSE ``data``, exactly). PostgreSQL refuses a payload of 8000 bytes or
more, so a bigger event is sent with its long texts and lists cut, each cut saying so;
one still too big is not sent, and the sender logs it. A lost event loses only
liveness: the catalog's status is right everywhere.

Sending never blocks a capture: events wait in a bounded queue for the sender's own
connection; when it is full, or PostgreSQL is away, events are dropped and counted in
the log. Both connections are made again after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import psycopg

from capture.events import CaptureEvents
from capture.progress_events import Event

log = logging.getLogger(__name__)

#: The one channel every process of a team sends on and listens to.
CHANNEL = "osint_capture_events"
#: PostgreSQL refuses payloads of 8000 bytes or more; leave room for the envelope's growth.
MAX_PAYLOAD = 7900
#: Events waiting for the sender; beyond this they are dropped (and counted).
QUEUE_SIZE = 10_000
#: Seconds between attempts to connect again.
RETRY_SECONDS = 2.0
#: How long start() waits for the listener's LISTEN before going on without it.
LISTEN_WAIT_SECONDS = 10.0
#: Cuts tried in turn on an event too big to send: (longest text kept, longest list kept).
CUTS = ((1000, 50), (200, 10), (60, 3))


class EventRelay:
    """This process's events sent on :data:`CHANNEL`; with ``listen``, others' received
    into ``events`` (a server's streams). Attach with :meth:`start`, end with :meth:`stop`."""

    def __init__(self, conninfo: str, events: CaptureEvents, *, listen: bool) -> None:
        self._conninfo = conninfo
        self._events = events
        self._listen = listen
        self.origin = uuid.uuid4().hex
        self._queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(QUEUE_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self.dropped = 0

    async def start(self) -> None:
        """Start sending (every event ``events`` emits from now on) and listening."""
        self._events.relay = self.send
        self._tasks.append(asyncio.create_task(self._send_loop(), name="event-relay-send"))
        if self._listen:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="event-relay-listen"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_SECONDS)

    async def stop(self) -> None:
        """Stop both; events not yet sent are dropped."""
        if self._events.relay == self.send:
            self._events.relay = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def send(self, stream_id: str, event: Event) -> None:
        """Queue ``event`` for the sender (called on the loop; never waits)."""
        try:
            self._queue.put_nowait((stream_id, event))
        except asyncio.QueueFull:
            self._drop(f"{event.event_name} event of {stream_id}: the relay's queue is full")

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 100 == 0:
            log.warning("event relay: %s (%d dropped so far)", why, self.dropped)

    async def _send_loop(self) -> None:
        failing = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                if not failing:  # once per outage: events wait in the queue meanwhile
                    log.warning("event relay: cannot connect to send (%s); retrying", exc)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            failing = False
            async with conn:
                await self._send_on(conn)

    async def _send_on(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Send queued events until the connection fails (that event is dropped)."""
        while True:
            stream_id, event = await self._queue.get()
            payload = encode(self.origin, stream_id, event)
            if payload is None:
                self._drop(f"a {event.event_name} event of {stream_id} is too big to relay")
                continue
            try:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except psycopg.Error as exc:
                self._drop(f"a {event.event_name} event of {stream_id} was lost ({exc})")
                return

    async def _listen_loop(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    async for notify in conn.notifies():
                        self._receive(notify.payload)
            except psycopg.Error as exc:
                log.warning("event relay: listening failed (%s); connecting again", exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _receive(self, payload: str) -> None:
        """Another process's event, published into this one's streams."""
        try:
            message = json.loads(payload)
            if message.get("origin") == self.origin:
                return
            event = decode(str(message["event"]), message["data"])
            stream_id = str(message["stream"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("event relay: an unreadable notification was ignored (%s)", exc)
            return
        if event is None:
            log.warning("event relay: a %r event this version does not know was ignored",
                        message.get("event"))  # fmt: skip
            return
        self._events.publish(stream_id, event, relayed=True)


def encode(origin: str, stream_id: str, event: Event) -> str | None:
    """The notification's payload, cut to fit if need be; ``None`` if it cannot fit."""
    data = event.to_json()
    for cut in ((None, None), *CUTS):
        shown = data if cut == (None, None) else _cut(data, *cut)
        payload = json.dumps(
            {"origin": origin, "stream": stream_id, "event": event.event_name, "data": shown},
            ensure_ascii=False,
            default=str,
        )
        if len(payload.encode("utf-8")) <= MAX_PAYLOAD:
            return payload
    return None


def _cut(value: Any, text: int | None, items: int | None) -> Any:
    """``value`` with every text longer than ``text`` and list longer than ``items`` cut,
    each cut saying so."""
    assert text is not None and items is not None
    if isinstance(value, str) and len(value) > text:
        return f"{value[:text]}... [cut from {len(value)} characters to relay it]"
    if isinstance(value, list):
        kept = [_cut(item, text, items) for item in value[:items]]
        if len(value) > items:
            kept.append(f"... [{len(value) - items} more not relayed]")
        return kept
    if isinstance(value, dict):
        return {key: _cut(item, text, items) for key, item in value.items()}
    return value


def decode(event_name: str, data: object) -> Event | None:
    """The event a payload's ``event`` and ``data`` name (``None`` if none matches): the
    first type of that name that reads ``data`` back with the same fields."""
    if not isinstance(data, dict):
        return None
    for cls in _types().get(event_name, ()):
        try:
            event = cls.from_json(data)
        except (TypeError, ValueError, KeyError):
            continue
        if set(event.to_json()) == set(data):
            return event
    return None


def _types() -> dict[str, list[type[Event]]]:
    """Every event type with a wire name, by name, in the order they are defined."""
    found: dict[str, list[type[Event]]] = {}
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        name = getattr(cls, "event_name", None)
        if isinstance(name, str):
            found.setdefault(name, []).append(cls)
    return found
