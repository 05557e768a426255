"""Progress events relayed between a team's processes through PostgreSQL's LISTEN/NOTIFY:
every event type crosses as itself, a big one is cut to fit (saying so), a process never
hears itself twice, and a listener's streams follow a sender's capture to its end.

Two relays on one real PostgreSQL stand for two processes; the cross-process test with a
real server and worker is tests/test_team_handover.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from capture import event_relay, progress_events
from capture import events as events_module
from capture.event_relay import MAX_PAYLOAD, EventRelay, decode, encode
from capture.events import CaptureEvents
from capture.progress_events import (
    AnalysisLink,
    CaptureDone,
    CaptureFailedEvent,
    Event,
    Queued,
    ResourceRecorded,
    StageEntered,
)
from tests.test_docs import _sample


def _every_event() -> list[Event]:
    """One of each event type with every field set, and the sparse forms streams send."""
    types = [
        cls
        for cls in vars(progress_events).values()
        if isinstance(cls, type)
        and issubclass(cls, Event)
        and isinstance(getattr(cls, "event_name", None), str)
    ]
    assert len(types) > 10, types
    return [
        *(_sample(cls) for cls in types),
        Queued(),
        StageEntered("load"),
        StageEntered("prepare", id="c-1", url="https://example.org/"),
        CaptureDone("complete", (), None, None),
        CaptureDone("partial", ("a", "b"), "ab" * 32, AnalysisLink(1, "/api/v1/x")),
    ]


def test_every_event_type_crosses_as_itself() -> None:
    for event in _every_event():
        payload = encode("origin", "c-1", event)
        assert payload is not None, event
        message = json.loads(payload)
        assert (message["stream"], message["event"]) == ("c-1", event.event_name)
        assert decode(message["event"], message["data"]) == event, event


def test_an_event_too_big_is_cut_to_fit_saying_so() -> None:
    huge = "https://example.org/" + "x" * 20_000
    event = ResourceRecorded(huge, 200, 5, 100)
    payload = encode("origin", "c-1", event)
    assert payload is not None and len(payload.encode()) <= MAX_PAYLOAD
    relayed = decode("resource", json.loads(payload)["data"])
    assert isinstance(relayed, ResourceRecorded) and relayed.recorded == 5
    assert relayed.url.startswith("https://example.org/xxx")
    assert "[cut from 20020 characters to relay it]" in relayed.url
    reasons = tuple(f"reason {n}: " + "ي" * 300 for n in range(200))
    ended = encode("origin", "c-1", CaptureFailedEvent(reasons))
    assert ended is not None and len(ended.encode()) <= MAX_PAYLOAD
    failed = decode("failed", json.loads(ended)["data"])
    assert isinstance(failed, CaptureFailedEvent) and "more not relayed]" in failed.reasons[-1]


def test_what_no_event_type_reads_is_not_an_event() -> None:
    assert decode("state", {"nope": 1}) is None
    assert decode("no-such-event", {"stage": "load"}) is None
    assert decode("done", ["not", "an", "object"]) is None


async def test_a_listeners_streams_follow_a_senders_capture(postgres_url: str) -> None:
    worker_events, server_events = CaptureEvents(), CaptureEvents()
    worker = EventRelay(postgres_url, worker_events, listen=False)
    server = EventRelay(postgres_url, server_events, listen=True)
    await server.start()
    await worker.start()
    try:
        server_events.publish("c-1", Queued())  # the server's own: never heard back
        following = asyncio.create_task(_follow(server_events, "c-1"))
        for event in (
            StageEntered("prepare", id="c-1", url="https://example.org/"),
            StageEntered("load"),
            ResourceRecorded("https://example.org/", 200, 1, 10),
            StageEntered("seal"),
            CaptureDone("complete", (), "ab" * 32, None),
        ):
            worker_events.publish("c-1", event)
        seen = await asyncio.wait_for(following, 20)
    finally:
        await worker.stop()
        await server.stop()
    assert [(e.event_name, e.to_json().get("stage")) for e in seen] == [
        ("state", "queued"),
        ("state", "prepare"),
        ("state", "load"),
        ("resource", None),
        ("state", "seal"),
        ("done", None),
    ]
    assert server_events.state("c-1") == {"stage": "seal", "recorded": 1, "bytes": 10}
    assert worker.dropped == 0 and server.dropped == 0


async def _follow(events: CaptureEvents, stream_id: str) -> list[Event]:
    return [published.event async for published in events.follow(stream_id)]


async def test_a_relay_with_its_database_gone_keeps_events_waiting_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_relay, "LISTEN_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(event_relay, "QUEUE_SIZE", 3)
    events = CaptureEvents()
    relay = EventRelay("postgresql://nobody@127.0.0.1:1/none", events, listen=True)
    await asyncio.wait_for(relay.start(), 5)
    try:
        for stage in ("prepare", "load", "behaviours", "cut", "derived"):
            events.publish("c-1", StageEntered(stage))
        await asyncio.sleep(0.5)
        # Three wait for the connection; those beyond the queue's room are dropped, counted.
        assert relay.dropped == 2
        assert events.state("c-1") == {"stage": "derived"}  # this process's streams go on
    finally:
        await relay.stop()


async def test_a_follower_that_missed_the_end_learns_it_from_the_catalog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lost notification does not leave a follower waiting forever: after a quiet spell
    it asks (the server asks the catalog), and the answer ends its stream."""
    monkeypatch.setattr(events_module, "QUIET_SECONDS", 0.05)
    streams = CaptureEvents()
    streams.publish("c1", StageEntered("load"))
    asked = 0

    async def ended() -> Event | None:
        nonlocal asked
        asked += 1
        return CaptureDone("complete", (), "a" * 64, analysis=None) if asked == 3 else None

    seen = [p.event async for p in streams.follow("c1", ended=ended)]
    assert [type(e) for e in seen] == [StageEntered, CaptureDone] and asked == 3
    assert [type(p.event) async for p in streams.follow("c1")] == [StageEntered, CaptureDone]
