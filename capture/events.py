"""Progress of each capture, for anyone following it (the API's event stream, the CLI).

Events are kept per capture (a bounded history) so a follower that arrives late
still sees how far the capture got; ``resource`` counts are coalesced so a page
with thousands of requests does not flood a slow follower.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

#: Events after which a capture's stream ends.
TERMINAL = ("done", "failed")
#: ``resource`` events closer together than this are merged into the latest.
RESOURCE_INTERVAL = 0.25
#: Captures whose history is remembered (oldest forgotten first).
REMEMBERED = 200
#: Events kept per capture.
HISTORY = 500


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: dict[str, Any]


@dataclass
class _Stream:
    history: list[Event] = field(default_factory=list)
    followers: set[asyncio.Queue[Event]] = field(default_factory=set)
    last_resource: float = 0.0
    pending_resource: dict[str, Any] | None = None
    ended: bool = False


class CaptureEvents:
    """The event streams of all captures of one server."""

    def __init__(self) -> None:
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._seq = itertools.count(1)

    def publish(self, capture_id: str, kind: str, data: dict[str, Any]) -> None:
        stream = self._stream(capture_id)
        if stream.ended:
            return
        if kind == "resource":
            now = asyncio.get_running_loop().time()
            if now - stream.last_resource < RESOURCE_INTERVAL:
                stream.pending_resource = data
                return
            stream.last_resource = now
        elif stream.pending_resource is not None:
            self._emit(stream, "resource", stream.pending_resource)
        stream.pending_resource = None
        self._emit(stream, kind, data)
        if kind in TERMINAL:
            stream.ended = True

    def state(self, capture_id: str) -> dict[str, Any] | None:
        """The latest stage and counts of a capture, as far as this server has seen."""
        stream = self._streams.get(capture_id)
        if stream is None:
            return None
        state: dict[str, Any] = {}
        for event in stream.history:
            if event.kind == "state":
                state["stage"] = event.data.get("stage")
            elif event.kind == "resource":
                state["recorded"] = event.data.get("recorded")
                state["bytes"] = event.data.get("bytes")
        if stream.pending_resource:
            state["recorded"] = stream.pending_resource.get("recorded")
            state["bytes"] = stream.pending_resource.get("bytes")
        return state

    def known(self, capture_id: str) -> bool:
        return capture_id in self._streams

    async def follow(self, capture_id: str) -> AsyncIterator[Event]:
        """Every event of a capture so far, then new ones until it is done or failed."""
        stream = self._stream(capture_id)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        stream.followers.add(queue)
        try:
            for event in list(stream.history):
                yield event
                if event.kind in TERMINAL:
                    return
            seen = stream.history[-1].seq if stream.history else 0
            while True:
                event = await queue.get()
                if event.seq <= seen:
                    continue
                yield event
                if event.kind in TERMINAL:
                    return
        finally:
            stream.followers.discard(queue)

    def _emit(self, stream: _Stream, kind: str, data: dict[str, Any]) -> None:
        event = Event(next(self._seq), kind, data)
        stream.history.append(event)
        if len(stream.history) > HISTORY:
            # Keep the first events (queued, stages) and the latest ones.
            del stream.history[10 : len(stream.history) - HISTORY + 10]
        for queue in stream.followers:
            queue.put_nowait(event)

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
