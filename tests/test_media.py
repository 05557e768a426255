"""Videos preserved whole with yt-dlp, from a local media site with ffmpeg-made videos."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from archive.hashing import sha256_file
from capture.asseen import AsSeen
from capture.browser import Browser
from capture.media import MediaLimits
from capture.progress_events import Event, MediaDownloading
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.videos import MediaSite
from tests.warcs import Record, read_records, warcio_check

FAST = MediaLimits(budget=60)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def media_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MediaSite]:
    async with MediaSite(tmp_path_factory.mktemp("media-files")) as running:
        yield running


async def capture(
    browser: Browser,
    data: Path,
    url: str,
    *,
    limits: MediaLimits = FAST,
    cookies: list[dict[str, Any]] | None = None,
    events: list[Event] | None = None,
) -> tuple[dict[str, Any], list[Record]]:
    as_seen = AsSeen(cookies=cookies) if cookies else None
    manifest = await capture_into(
        CaptureRequest(url, timeout=30, media=limits, as_seen=as_seen),
        data,
        browser=browser,
        progress=events.append if events is not None else None,
    )
    capture_dir = data / "captures" / manifest.id
    for artifact in manifest.artifacts:
        assert sha256_file(capture_dir / artifact.path) == (artifact.sha256, artifact.size)
    warc = capture_dir / manifest.warc
    assert warcio_check(warc).returncode == 0
    return manifest.to_dict(), read_records(warc)


def media_items(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in manifest["items"] if item["kind"] == "media"]


def media_records(records: list[Record]) -> list[Record]:
    return [
        r for r in records if r.type == "resource" and r.header("X-Osint-Media-Kind") == "media"
    ]


async def test_a_direct_mp4_is_archived_byte_for_byte(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    events: list[Event] = []
    manifest, records = await capture(
        browser, tmp_path, media_site.url("/media/clip.mp4"), events=events
    )
    assert manifest["status"] == "complete", manifest["reasons"]
    [item] = media_items(manifest)
    assert item["sha256"] == media_site.clip_sha256
    [record] = media_records(records)
    assert record.uri == media_site.url("/media/clip.mp4")
    assert record.payload_sha256 == media_site.clip_sha256
    assert record.header("WARC-Payload-Digest") == "sha256:" + media_site.clip_sha256
    facts = manifest["extra"]["media"][0]
    assert facts["remuxed"] is False and facts["extractor"] and facts["yt_dlp"]
    assert manifest["software"]["yt-dlp"] == facts["yt_dlp"]
    info = [
        r
        for r in records
        if r.type == "metadata"
        and r.header(
            "X-Osint-Metadata",
        )
    ]
    assert any(
        json.loads(r.payload)["osint_capture"]["found_as"] == "direct"
        for r in info
        if r.header("X-Osint-Metadata").startswith("media-info")
    )
    assert any(isinstance(e, MediaDownloading) and e.downloaded for e in events)


async def test_a_video_element_brings_its_subtitles_and_poster(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, records = await capture(browser, tmp_path, media_site.url("/media/video-page"))
    assert manifest["status"] == "complete", manifest["reasons"]
    [item] = media_items(manifest)
    assert item["sha256"] == media_site.clip_sha256
    [thumbnail] = [i for i in manifest["items"] if i["kind"] == "thumbnail"]
    assert thumbnail["url"] == media_site.url("/media/poster.png")
    [subtitles] = [i for i in manifest["items"] if i["kind"] == "subtitles"]
    assert subtitles["url"] == media_site.url("/media/subs.vtt")
    capture_dir = tmp_path / "captures" / manifest["id"]
    assert "شهادة مترجمة" in (capture_dir / subtitles["path"]).read_text(encoding="utf-8")
    [record] = media_records(records)
    assert record.uri == media_site.url("/media/clip.mp4")
    kinds = {r.header("X-Osint-Media-Kind") for r in records if r.type == "resource"}
    assert {"media", "subtitles", "thumbnail"} <= kinds
    images = [i for i in manifest["items"] if i["kind"] == "image"]
    assert [i["url"] for i in images] == [media_site.url("/media/poster.png")]
    assert media_records(records)[0].header("WARC-Refers-To-Target-URI") == media_site.url(
        "/media/video-page"
    )


async def test_an_hls_stream_is_joined_remuxed_and_reproducible(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    segments = sorted(media_site.hls_dir.glob("seg*.ts"))
    assert len(segments) >= 3, "the stream has several segments"
    first, records = await capture(browser, tmp_path / "a", media_site.url("/media/hls-page"))
    second, _ = await capture(browser, tmp_path / "b", media_site.url("/media/hls-page"))
    assert first["status"] == "complete", first["reasons"]
    [item] = media_items(first)
    assert item["remuxed"] is True
    assert item["sha256"] == media_items(second)[0]["sha256"], "same source, same bytes"
    [record] = media_records(records)
    assert record.uri == "urn:media:" + media_site.url("/media/hls/index.m3u8")
    assert "remux" in record.header("X-Osint-Conversion")
    assert record.payload[4:8] == b"ftyp"


async def test_a_second_stream_format_is_preserved(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    page = media_site.second_format_page
    manifest, _ = await capture(browser, tmp_path, media_site.url(page))
    assert manifest["status"] == "complete", manifest["reasons"]
    assert len(media_items(manifest)) == 1


async def test_a_missing_video_leaves_the_capture_partial_with_the_reason(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, _ = await capture(browser, tmp_path, media_site.url("/media/broken-page"))
    assert manifest["status"] == "partial"
    assert any("gone.mp4" in reason for reason in manifest["reasons"])
    assert not media_items(manifest)


async def test_a_video_over_the_size_limit_is_cut_and_not_kept(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    limits = MediaLimits(max_file_bytes=media_site.large_size // 2, budget=60)
    manifest, records = await capture(
        browser, tmp_path, media_site.url("/media/large.mp4"), limits=limits
    )
    assert manifest["status"] == "partial"
    assert any("size limit" in reason for reason in manifest["reasons"])
    assert not media_items(manifest) and not media_records(records)
    assert not any(a["kind"] == "media" for a in manifest["artifacts"])


async def test_a_slow_video_over_the_time_budget_is_cut(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    manifest, _ = await capture(
        browser, tmp_path, media_site.url("/media/slow-page"), limits=MediaLimits(budget=4)
    )
    assert manifest["status"] == "partial"
    assert any("time budget" in reason for reason in manifest["reasons"])
    assert not media_items(manifest)


async def test_a_members_only_video_downloads_with_the_session_cookie_only(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    page = media_site.url("/media/members-page")
    without, _ = await capture(browser, tmp_path / "anon", page)
    assert without["status"] == "partial" and not media_items(without)
    assert any("members.mp4" in reason for reason in without["reasons"])
    cookie = {"name": "session", "value": "letmein", "domain": "127.0.0.1", "path": "/"}
    manifest, records = await capture(browser, tmp_path / "member", page, cookies=[cookie])
    assert manifest["status"] == "complete", manifest["reasons"]
    assert media_items(manifest)[0]["sha256"] == media_site.clip_sha256
    info = [
        r
        for r in records
        if r.type == "metadata" and (r.header("X-Osint-Metadata") or "").startswith("media-info")
    ]
    assert info and all(b"letmein" not in r.payload for r in info)


async def test_a_stream_over_the_duration_limit_is_not_downloaded(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    limits = MediaLimits(max_duration=1, budget=60)
    manifest, _ = await capture(browser, tmp_path, media_site.url("/media/hls-page"), limits=limits)
    assert manifest["status"] == "partial"
    assert any("duration limit" in reason for reason in manifest["reasons"])
    assert not media_items(manifest)


async def test_the_per_capture_size_limit_bounds_the_first_file_too(
    media_site: MediaSite, browser: Browser, tmp_path: Path
) -> None:
    limits = MediaLimits(max_capture_bytes=1000, budget=60)
    manifest, _ = await capture(browser, tmp_path, media_site.url("/media/clip.mp4"), limits=limits)
    assert manifest["status"] == "partial"
    assert any("size limit of 1000 bytes" in reason for reason in manifest["reasons"])
    assert not media_items(manifest)
