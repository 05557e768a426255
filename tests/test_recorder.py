"""The recorder against a playing video and oversized bodies, in the real browser.

A media player asks for the same file many times (it retries, seeks, reads ranges).
The recorder keeps one whole copy of a video's body; later responses for it flow to
the page untouched and are recorded with their headers only, pointing at the copy,
and the capture says so. And no body is recorded past the per-response limit: the
record holds the start of it, marked truncated, and says where it was cut.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from archive.warcfile import WarcFile
from capture.browser import Browser, target_id_of
from capture.recorder import PASSBACK_LIMIT, Recorder
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.media_site import BLOB_SIZES, RecorderMediaSite, blob_bytes
from tests.warcs import Record, read_records, warcio_check

#: Seconds the page's video must play in the browser for the test to count it as working.
PLAYED = 2.0
#: The per-response limit the tests set: below every blob the site serves.
LIMIT = 1024 * 1024

VIDEO_STATE = (
    "() => { const v = document.getElementById('v');"
    " return {ready: v.readyState, time: v.currentTime}; }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def media(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RecorderMediaSite]:
    async with RecorderMediaSite(tmp_path_factory.mktemp("recorder-media")) as running:
        yield running


@dataclass
class Recorded:
    records: list[Record]
    recorder: Recorder
    page_state: Any


async def record(
    browser: Browser,
    warc_path: Path,
    url: str,
    *,
    until: str,
    report: str,
    body_limit: int | None = None,
    budget: float = 30.0,
) -> Recorded:
    """Record ``url`` with the recorder alone (no pipeline) until ``until`` holds in the
    page; ``report`` is evaluated in the page just before recording stops."""
    context = await browser.new_context()
    connection = await browser.connect_recorder()
    loop = asyncio.get_running_loop()
    try:
        page = await context.new_page()
        with open(warc_path, "wb") as sink:
            warc = WarcFile(sink)
            recorder = Recorder(
                connection, warc, deadline=loop.time() + budget, body_limit=body_limit
            )
            await recorder.attach(await target_id_of(page))
            await page.goto(url)
            await page.wait_for_function(until, timeout=budget * 1000)
            state = await page.evaluate(report)
            await recorder.cut("the test had seen enough")
            await recorder.close()
            warc.close()
    finally:
        await context.close()
        await connection.close()
    assert warcio_check(warc_path).returncode == 0
    return Recorded(read_records(warc_path), recorder, state)


def responses(records: list[Record], url: str) -> list[Record]:
    return [r for r in records if r.type == "response" and r.uri == url]


async def test_a_played_video_is_recorded_whole_once_and_still_plays(
    media: RecorderMediaSite, browser: Browser, tmp_path: Path
) -> None:
    assert media.video_size > PASSBACK_LIMIT  # too big to hand back: the player asks again
    media.reset()
    video_url = media.url("/media/big.mp4")
    outcome = await record(
        browser,
        tmp_path / "played.warc.gz",
        media.url("/played"),
        until=f"document.getElementById('v').currentTime >= {PLAYED}",
        report=VIDEO_STATE,
    )
    # The page's player works: it has frames and playback advanced.
    assert outcome.page_state["ready"] >= 2 and outcome.page_state["time"] >= PLAYED

    found = responses(outcome.records, video_url)
    whole = [r for r in found if r.payload_size == media.video_size]
    assert len(whole) == 1, [(r.http_header("Content-Range"), r.payload_size) for r in found]
    [copy] = whole
    assert copy.payload_sha256 == media.video_sha256
    assert copy.header("WARC-Truncated") is None
    record_id = copy.header("WARC-Record-ID")

    # Every other response for the video is its headers only, pointing at the copy.
    repeats = [r for r in found if r is not copy]
    assert repeats, f"the player asked once only: {media.video_ranges}"
    for repeat in repeats:
        assert repeat.payload_size == 0
        assert repeat.http_status in (200, 206)
        assert repeat.header("WARC-Truncated") == "unspecified"
        assert repeat.header("X-Osint-Body-Recorded-In") == record_id
        assert f"is in record {record_id}" in (repeat.header("X-Osint-Body-Note") or "")
    assert sum(r.payload_size for r in found) == media.video_size

    assert outcome.recorder.repeats_not_recorded() == [
        f"{len(repeats)} repeated request(s) for {video_url} not recorded again; "
        f"the whole body is in record {record_id}"
    ]


async def test_the_played_video_through_the_pipeline_keeps_one_copy_and_plays(
    media: RecorderMediaSite, browser: Browser, tmp_path: Path
) -> None:
    media.reset()
    video_url = media.url("/media/big.mp4")
    # ?hold keeps a request open until the player has reported a second of playback:
    # the capture settles sooner than that on its own.
    manifest = await capture_into(
        CaptureRequest(media.url("/played?hold"), timeout=30, media=None),
        tmp_path,
        browser=browser,
    )
    warc = tmp_path / "captures" / manifest.id / str(manifest.warc)
    assert warcio_check(warc).returncode == 0
    records = read_records(warc)
    found = responses(records, video_url)
    assert [r.payload_size for r in found if r.payload_size] == [media.video_size]
    copy_id = next(r.header("WARC-Record-ID") for r in found if r.payload_size)
    # The page's player had real bytes: it reported playback and no error.
    assert media.played_seconds() >= 1.0, media.beacons
    assert not [b for b in media.beacons if "error" in b]
    [info] = [r for r in records if (r.uri or "").startswith("urn:pageinfo:")]
    assert info.payload is not None
    listed = [e for e in json.loads(info.payload)["resources"] if e["url"] == video_url]
    assert [e["body"] for e in listed].count("complete") == 1
    assert {e.get("recorded_in") for e in listed if e["body"] == "repeat"} == {copy_id}
    # A repeat's body is not reported lost: it is in the copy, and the manifest says where.
    assert not [r for r in manifest.reasons if video_url in r], manifest.reasons
    assert any(
        f"not recorded again; the whole body is in record {copy_id}" in note
        for note in manifest.extra["notes"]
    ), manifest.extra


async def test_a_repeat_is_only_a_repeat_with_the_same_validators(
    media: RecorderMediaSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await record(
        browser,
        tmp_path / "twice.warc.gz",
        media.url("/twice"),
        until="window.received.length === 4",
        report="() => window.received",
    )
    size = BLOB_SIZES["buffered"]
    assert outcome.page_state == [size] * 4  # the page got every body whole
    digest = hashlib.sha256(blob_bytes("buffered")).hexdigest()
    same = responses(outcome.records, media.url("/media/same.mp4"))
    [first] = [r for r in same if r.payload_size]
    [repeat] = [r for r in same if not r.payload_size]
    assert (first.payload_size, first.payload_sha256) == (size, digest)
    assert repeat.payload_size == 0
    assert repeat.header("X-Osint-Body-Recorded-In") == first.header("WARC-Record-ID")
    # A changed ETag says the file may have changed: each response is recorded whole.
    changing = responses(outcome.records, media.url("/media/changing.mp4"))
    assert [(r.payload_size, r.payload_sha256) for r in changing] == [(size, digest)] * 2
    assert [r.header("X-Osint-Body-Recorded-In") for r in changing] == [None, None]
    assert outcome.recorder.repeats_not_recorded() == [
        f"1 repeated request(s) for {media.url('/media/same.mp4')} not recorded again; "
        f"the whole body is in record {first.header('WARC-Record-ID')}"
    ]


async def test_a_body_larger_than_the_limit_is_cut_there_and_says_so(
    media: RecorderMediaSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await record(
        browser,
        tmp_path / "oversized.warc.gz",
        media.url("/oversized"),
        until="Object.keys(window.received).length === 3",
        report="() => window.received",
        body_limit=LIMIT,
        budget=20.0,
    )
    note = f"body cut at {LIMIT} bytes: larger than the per-response limit of {LIMIT} bytes"
    for name, size in BLOB_SIZES.items():
        assert size > LIMIT
        [found] = responses(outcome.records, media.url(f"/blob/{name}.bin"))
        assert found.payload_size == LIMIT, name
        # The record holds the start of the body exactly as sent.
        assert found.payload_sha256 == hashlib.sha256(blob_bytes(name)[:LIMIT]).hexdigest()
        assert found.header("WARC-Truncated") == "length", name
        assert (found.header("X-Osint-Body-Note") or "").startswith(note), name
    # The page kept working: bodies that flow to it arrived whole; a streamed body is
    # handed back as recorded, as one cut by the time budget is.
    assert outcome.page_state == {
        "buffered": BLOB_SIZES["buffered"],
        "chunked": BLOB_SIZES["chunked"],
        "streamed": LIMIT,
    }


async def test_the_limit_is_named_in_the_manifest(
    media: RecorderMediaSite,
    browser: Browser,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("capture.recorder.limits.BODY_LIMIT", LIMIT)
    manifest = await capture_into(
        CaptureRequest(media.url("/oversized"), timeout=20, media=None), tmp_path, browser=browser
    )
    assert manifest.status == "partial"
    note = f"body cut at {LIMIT} bytes: larger than the per-response limit of {LIMIT} bytes"
    for name in BLOB_SIZES:
        url = media.url(f"/blob/{name}.bin")
        assert [r for r in manifest.reasons if url in r and note in r], manifest.reasons
