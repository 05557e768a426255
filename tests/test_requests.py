"""A capture request's one typed shape: what the queue row's ``request`` column keeps of
it, the rows today's code has already written, and a column that cannot be read."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import CATALOG_NAME, CaptureRow, Catalog, QueuedRequest
from archive.datadir import Archive
from archive.timeutil import rfc3339
from capture.analysis.options import AnalysisOptions
from capture.asseen import AsSeen, ReceivedFile
from capture.requests import (
    LOST_COOKIES,
    CaptureRequest,
    TargetRun,
    UnreadableRequest,
    claimed,
)
from capture.scheduler import Scheduler
from capture.service import CaptureService


def _row(request: dict[str, Any], **fields: Any) -> CaptureRow:
    """A queued capture row as the catalog hands it back."""
    values: dict[str, Any] = {
        "id": "c-1",
        "url": "https://example.org/page",
        "final_url": None,
        "case": "case-a",
        "note": "a note",
        "operator": "ana",
        "status": "running",
        "reasons": [],
        "started_at": None,
        "finished_at": None,
        "warc": None,
        "manifest_sha256": None,
        "created_at": "2026-01-01T00:00:00Z",
        "attempts": 1,
        "request": request,
    }
    return CaptureRow(**{**values, **fields})


ASKED = CaptureRequest(
    url="https://example.org/page",
    case="case-a",
    note="a note",
    operator="ana",
    timeout=45.0,
    analysis=AnalysisOptions(ocr=True, languages="ara+eng"),
    as_seen=AsSeen(
        screenshot=ReceivedFile(
            Path("/data/incoming/c-1/as-seen-view.png"), "ab" * 32, 10, "image/png"
        ),
        info={"title": "t", "viewport": {"width": 1280}, "received_at": "2026-01-01T00:00:00Z"},
        cookies_sent=True,
    ),
    target=TargetRun(7, "https://example.org/page", 3600),
)


def test_the_request_round_trips_through_the_queue_row() -> None:
    row = _row(ASKED.to_json(), target_id=7)
    assert CaptureRequest.from_row(row) == ASKED
    assert (
        CaptureRequest.from_json(
            ASKED.to_json(), url=ASKED.url, case="case-a", note="a note", operator="ana"
        )
        == ASKED
    )
    plain = CaptureRequest("https://example.org/")
    assert plain.to_json() == {"timeout": 90.0}
    assert CaptureRequest.from_json(plain.to_json(), url=plain.url) == plain
    # What is added at run time is never written.
    lent = replace(ASKED, as_seen=replace(ASKED.as_seen, cookies=[{"name": "s"}]), notes=("n",))
    assert lent.to_json() == ASKED.to_json()


def test_rows_in_todays_format_are_read() -> None:
    # As the service queued a request from the extension (the cookies sent, then lost).
    submitted = _row(
        {
            "timeout": 30,
            "analysis": {
                "ocr": True,
                "transcribe": False,
                "translate": False,
                "languages": "eng",
                "language": None,
            },
            "as_seen": {
                "files": {
                    "dom": {
                        "path": "/d/as-seen-dom.html",
                        "sha256": "cd" * 32,
                        "size": 5,
                        "content_type": "text/html; charset=utf-8",
                    }
                },
                "info": {"url": "https://example.org/page"},
                "cookies_sent": True,
            },
        },
        attempts=2,
        reasons=["the server stopped while this capture was running"],
    )
    request = claimed(submitted, None, None)
    assert (request.url, request.case, request.note, request.operator) == (
        "https://example.org/page",
        "case-a",
        "a note",
        "ana",
    )
    assert request.timeout == 30.0
    assert request.analysis == AnalysisOptions(ocr=True, languages="eng")
    assert request.as_seen is not None and request.as_seen.dom is not None
    assert request.as_seen.dom.sha256 == "cd" * 32 and request.as_seen.screenshot is None
    assert request.notes == (LOST_COOKIES,)
    assert request.history == ("the server stopped while this capture was running",)
    assert request.target is None
    # The cookies lent for it are handed to the pipeline, and nothing is noted.
    lent = claimed(submitted, [{"name": "s", "value": "v", "domain": "example.org"}], None)
    assert lent.notes == () and lent.as_seen.cookies == [
        {"name": "s", "value": "v", "domain": "example.org"}
    ]
    # An empty column (a row queued before any option) is the defaults.
    assert CaptureRequest.from_row(_row({})) == CaptureRequest(
        "https://example.org/page", case="case-a", note="a note", operator="ana"
    )


def test_a_scheduled_run_is_read_with_its_target(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with Catalog.open(tmp_path / CATALOG_NAME) as catalog:
        target = catalog.add_target(
            "https://example.org/a",
            interval_seconds=600,
            case="watched",
            operator="t",
            note=None,
            next_run_at=rfc3339(now),
            request={"timeout": 30},
        )
        scheduler = Scheduler(
            Archive(tmp_path, catalog), on_queued=lambda: None, default_timeout=90
        )
        (run,) = scheduler.tick(now)
        assert run.request == {
            "timeout": 30.0,
            "target": {"id": target.id, "url": "https://example.org/a", "interval_seconds": 600},
        }
        request = CaptureRequest.from_row(run)
    assert request == CaptureRequest(
        "https://example.org/a",
        case="watched",
        operator="t",
        timeout=30.0,
        target=TargetRun(target.id, "https://example.org/a", 600),
    )


@pytest.mark.parametrize(
    ("column", "named"),
    [
        ({"timeout": 30, "priority": "high"}, "unknown request field(s): priority"),
        ({"timeout": "soon"}, "timeout 'soon'"),
        ({"analysis": {"ocr": "yes"}}, "analysis option 'ocr'"),
        ({"as_seen": {"files": {"dom": {"path": "/x"}}}}, "KeyError"),
        ({"target": {"id": "seven"}}, "target"),
    ],
)
def test_a_garbled_request_is_named(column: dict[str, Any], named: str) -> None:
    with pytest.raises(UnreadableRequest) as raised:
        CaptureRequest.from_row(_row(column))
    assert "capture c-1: its queued request is unreadable" in str(raised.value)
    assert named in str(raised.value)


async def test_a_capture_whose_request_cannot_be_read_fails_with_why(tmp_path: Path) -> None:
    service = CaptureService(tmp_path / "data", workers=1)
    await service.start()
    try:
        garbled = [
            QueuedRequest(f"bad-{n}", f"https://example.org/{n}", None, None, "t", column)
            for n, column in enumerate([{"timeout": "soon"}, {"target": [1]}])
        ]
        for item in garbled:  # one after the other: the worker lives on after the first
            await service.queue.put(item)
            service.queue.wake()
            row = await _finished(service, item.capture_id)
            assert row.status == "failed", row
            (reason,) = row.reasons
            assert reason.startswith("capture could not run: ")
            assert f"capture {item.capture_id}: its queued request is unreadable" in reason
    finally:
        await service.stop()


async def _finished(service: CaptureService, capture_id: str) -> CaptureRow:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = service.archive.reader.get_capture(capture_id)
        if row is not None and row.status not in ("queued", "running"):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"capture {capture_id} did not finish")
