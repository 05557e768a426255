"""Progress of each capture, for anyone following it (the API's event stream, the CLI).

Events are kept per capture (a bounded history) so a follower that arrives late
still sees how far the capture got; :class:`ResourceRecorded` counts are coalesced
so a page with thousands of requests does not flood a slow follower. What ends a
stream, and what is coalesced, is decided by the event's type
(:mod:`capture.progress_events`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from capture.progress_events import (
    CaptureDone,
    CaptureFailedEvent,
    Event,
    Queued,
    ResourceRecorded,
    RunEnded,
    StageEntered,
)

#: Events after which a stream ends (a capture's or an analysis run's).
TERMINAL: tuple[type[Event], ...] = (CaptureDone, CaptureFailedEvent, RunEnded)
#: ``resource`` events closer together than this are merged into the latest.
RESOURCE_INTERVAL = 0.25
#: Captures whose history is remembered (oldest forgotten first).
REMEMBERED = 200
#: Events kept per capture.
HISTORY = 500
#: Seconds without an event after which a follower asks whether the work ended unheard.
QUIET_SECONDS = 10.0

#: What a follower asks after a quiet spell: the terminal event, if the work ended.
EndCheck = Callable[[], Awaitable[Event | None]]


@dataclass(frozen=True)
class Published:
    """An event as a stream published it: ``seq`` is its SSE ``id``."""

    seq: int
    event: Event


@dataclass
class _Stream:
    history: list[Published] = field(default_factory=list)
    followers: set[asyncio.Queue[Published]] = field(default_factory=set)
    last_resource: float = 0.0
    pending_resource: ResourceRecorded | None = None
    ended: bool = False


class CaptureEvents:
    """The event streams of all captures of one server."""

    def __init__(self) -> None:
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._seq = itertools.count(1)
        #: Team mode: where each event this process emits is also sent, for the other
        #: processes' streams (:class:`capture.event_relay.EventRelay`).
        self.relay: Callable[[str, Event], None] | None = None

    def publish(self, stream_id: str, event: Event, *, relayed: bool = False) -> None:
        """``event`` on the stream ``stream_id`` (a capture's id, or an analysis run's
        :func:`~capture.analysis.worker.stream_id`); nothing after its last event.
        ``relayed``: it came from another process, so it is not sent on again."""
        stream = self._stream(stream_id)
        if stream.ended:
            return
        if isinstance(event, ResourceRecorded):
            now = asyncio.get_running_loop().time()
            if now - stream.last_resource < RESOURCE_INTERVAL:
                stream.pending_resource = event
                return
            stream.last_resource = now
        elif stream.pending_resource is not None:
            self._emit(stream_id, stream, stream.pending_resource, relayed)
        stream.pending_resource = None
        self._emit(stream_id, stream, event, relayed)
        if isinstance(event, TERMINAL):
            stream.ended = True

    def state(self, capture_id: str) -> dict[str, Any] | None:
        """The latest stage and counts of a capture, as far as this server has seen."""
        stream = self._streams.get(capture_id)
        if stream is None:
            return None
        state: dict[str, Any] = {}
        for published in stream.history:
            event = published.event
            if isinstance(event, StageEntered | Queued):
                state["stage"] = event.stage
            elif isinstance(event, ResourceRecorded):
                state["recorded"] = event.recorded
                state["bytes"] = event.bytes
        if stream.pending_resource:
            state["recorded"] = stream.pending_resource.recorded
            state["bytes"] = stream.pending_resource.bytes
        return state

    def known(self, capture_id: str) -> bool:
        return capture_id in self._streams

    async def follow(
        self, stream_id: str, *, ended: EndCheck | None = None
    ) -> AsyncIterator[Published]:
        """Every event of a stream so far, then new ones until it is done or failed.

        ``ended``: asked after each :data:`QUIET_SECONDS` without an event, it returns
        the stream's terminal event if the work ended without this process hearing it
        (in team mode a worker's events come through a relay, and a notification can be
        lost with a connection); that event is published here and ends the stream.
        """
        stream = self._stream(stream_id)
        queue: asyncio.Queue[Published] = asyncio.Queue()
        stream.followers.add(queue)
        try:
            for published in list(stream.history):
                yield published
                if isinstance(published.event, TERMINAL):
                    return
            seen = stream.history[-1].seq if stream.history else 0
            while True:
                published = await self._next(stream_id, queue, ended)
                if published.seq <= seen:
                    continue
                yield published
                if isinstance(published.event, TERMINAL):
                    return
        finally:
            stream.followers.discard(queue)

    async def _next(
        self, stream_id: str, queue: asyncio.Queue[Published], ended: EndCheck | None
    ) -> Published:
        while True:
            try:
                return await asyncio.wait_for(queue.get(), QUIET_SECONDS if ended else None)
            except TimeoutError:
                assert ended is not None
                terminal = await ended()
                if terminal is not None:
                    self.publish(stream_id, terminal, relayed=True)

    def _emit(self, stream_id: str, stream: _Stream, event: Event, relayed: bool) -> None:
        if self.relay is not None and not relayed:
            self.relay(stream_id, event)
        published = Published(next(self._seq), event)
        stream.history.append(published)
        if len(stream.history) > HISTORY:
            # Keep the first events (queued, stages) and the latest ones.
            del stream.history[10 : len(stream.history) - HISTORY + 10]
        for queue in stream.followers:
            queue.put_nowait(published)

    def _stream(self, capture_id: str) -> _Stream:
        stream = self._streams.get(capture_id)
        if stream is None:
            stream = self._streams[capture_id] = _Stream()
            while len(self._streams) > REMEMBERED:
                oldest, old = next(iter(self._streams.items()))
                if old.followers:
                    break
                del self._streams[oldest]
        else:
            self._streams.move_to_end(capture_id)
        return stream
