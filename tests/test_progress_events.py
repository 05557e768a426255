"""The typed progress events: each one's wire name and JSON, and the streams that carry them.

The wire is docs/api.md's (tests/test_docs.py holds each type to its row there); here
each type's ``to_json()`` is compared with the exact data the stream sent before the
events were typed, and the streams are shown to end, and coalesce, by the event's type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from archive.catalog import AnalysisRow
from capture.events import CaptureEvents, Published
from capture.progress_events import (
    AnalysisLink,
    BehaviourEnded,
    CaptureDone,
    CaptureFailedEvent,
    Event,
    MediaDownloading,
    MediaFound,
    Queued,
    ReadingTaken,
    ResourceRecorded,
    RunDone,
    RunEnded,
    RunFailed,
    RunStarted,
    StageEntered,
    TimelineWritten,
    TrustedTimeResult,
)

HREF = "/api/v1/captures/c1/analyses/1"

WIRE: list[tuple[Event, str, dict[str, Any]]] = [
    (Queued(), "state", {"stage": "queued"}),
    (
        StageEntered("prepare", id="c1", url="https://example.org/"),
        "state",
        {"stage": "prepare", "id": "c1", "url": "https://example.org/"},
    ),
    (StageEntered("load"), "state", {"stage": "load"}),
    (StageEntered("done", status="partial"), "state", {"stage": "done", "status": "partial"}),
    (StageEntered("failed", reasons=("gone",)), "state", {"stage": "failed", "reasons": ["gone"]}),
    (
        ResourceRecorded("https://example.org/a.css", 200, 3, 1234),
        "resource",
        {"url": "https://example.org/a.css", "status": 200, "recorded": 3, "bytes": 1234},
    ),
    (BehaviourEnded("scroll", False), "behaviour", {"name": "scroll", "finished": False}),
    (MediaFound(("https://v/1.mp4",)), "media", {"found": ["https://v/1.mp4"]}),
    (
        MediaDownloading("https://v/1.mp4", 10, None, "downloading"),
        "media",
        {"url": "https://v/1.mp4", "downloaded": 10, "total": None, "status": "downloading"},
    ),
    (
        TrustedTimeResult("pending", ("no TSA answered",)),
        "timestamp",
        {"state": "pending", "problems": ["no TSA answered"]},
    ),
    (
        CaptureDone("complete", (), "ab" * 32, AnalysisLink(1, HREF)),
        "done",
        {
            "status": "complete",
            "reasons": [],
            "manifest_sha256": "ab" * 32,
            "analysis": {"number": 1, "href": HREF},
        },
    ),
    (
        CaptureDone("partial", ("cut",), None, None),
        "done",
        {"status": "partial", "reasons": ["cut"], "manifest_sha256": None, "analysis": None},
    ),
    (CaptureFailedEvent(("refused",)), "failed", {"reasons": ["refused"]}),
    (TimelineWritten(3, "changed"), "timeline", {"target_id": 3, "kind": "changed"}),
    (
        RunStarted(2, "c1", ("ocr", "translate")),
        "run",
        {"number": 2, "capture": "c1", "steps": ["ocr", "translate"]},
    ),
    (
        ReadingTaken("ocr", "image", "https://example.org/p.png"),
        "reading",
        {"step": "ocr", "what": "image", "uri": "https://example.org/p.png"},
    ),
]


@pytest.mark.parametrize(("event", "name", "data"), WIRE, ids=[type(w[0]).__name__ for w in WIRE])
def test_each_event_sends_the_documented_name_and_data(
    event: Event, name: str, data: dict[str, Any]
) -> None:
    assert event.event_name == name
    assert event.to_json() == data
    assert json.loads(json.dumps(event.to_json())) == data


def _run(status: str, **fields: Any) -> AnalysisRow:
    return AnalysisRow(
        capture_id="c1",
        number=1,
        status=status,
        request={},
        operator=None,
        attempts=1,
        created_at="t0",
        started_at="t1",
        finished_at="t2",
        addendum_sha256=None,
        **fields,
    )


def test_a_run_ends_done_or_failed_as_the_catalog_says() -> None:
    summary = {"steps": [{"step": "ocr", "status": "done"}], "readings": 4}
    done = RunEnded.of(_run("done", summary=summary, timestamp="stamped"))
    assert isinstance(done, RunDone) and done.event_name == "done"
    assert done.to_json() == {
        "status": "done",
        "reasons": [],
        "summary": summary,
        "timestamp": "stamped",
    }
    failed = RunEnded.of(_run("failed", reasons=["no capture"]))
    assert isinstance(failed, RunFailed) and failed.event_name == "failed"
    assert failed.to_json() == {
        "status": "failed",
        "reasons": ["no capture"],
        "summary": {},
        "timestamp": "none",
    }


async def _followed(events: CaptureEvents, stream: str) -> list[Event]:
    return [published.event async for published in events.follow(stream)]


async def test_a_stream_ends_with_its_last_event_whatever_comes_after() -> None:
    events = CaptureEvents()
    ending = CaptureFailedEvent(("refused",))
    events.publish("c1", Queued())
    events.publish("c1", StageEntered("prepare", id="c1", url="https://example.org/"))
    events.publish("c1", ending)
    events.publish("c1", StageEntered("load"))  # after the end: never sent
    assert await _followed(events, "c1") == [
        Queued(),
        StageEntered("prepare", id="c1", url="https://example.org/"),
        ending,
    ]
    run = "c1/analysis-1"
    events.publish(run, StageEntered("open"))
    events.publish(run, RunEnded.of(_run("done")))
    events.publish(run, ReadingTaken("ocr", "image", "u"))
    assert [type(e) for e in await _followed(events, run)] == [StageEntered, RunDone]


async def test_resource_counts_are_coalesced_and_the_latest_is_kept() -> None:
    events = CaptureEvents()
    events.publish("c1", StageEntered("load"))
    for n in range(1, 6):  # within one interval: the first is sent, the rest wait
        events.publish("c1", ResourceRecorded(f"https://example.org/{n}", 200, n, n * 100))
    assert events.state("c1") == {"stage": "load", "recorded": 5, "bytes": 500}
    events.publish("c1", StageEntered("behaviours"))
    events.publish("c1", CaptureDone("complete", (), None, None))
    followed = [p async for p in events.follow("c1")]
    assert all(isinstance(p, Published) for p in followed)
    sent = [p.event for p in followed]
    resources = [e for e in sent if isinstance(e, ResourceRecorded)]
    assert [r.recorded for r in resources] == [1, 5]
    assert isinstance(sent[-2], StageEntered) and isinstance(sent[-1], CaptureDone)
    assert [p.seq for p in followed] == sorted(p.seq for p in followed)
