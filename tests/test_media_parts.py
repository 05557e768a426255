"""The media stage's parts on their own, without a browser: limits and finding."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from capture.exchange import Exchange
from capture.media import MediaCut, find_candidates
from capture.media.limits import check_progress, duration_cut, used_up

FAR = time.monotonic() + 3600


def test_a_download_is_cut_at_the_bytes_taken_or_a_declared_size_never_an_estimate() -> None:
    check_progress(
        {"downloaded_bytes": 10, "total_bytes_estimate": 500}, max_file=100, deadline=FAR
    )
    with pytest.raises(MediaCut, match="cut at 101"):
        check_progress({"downloaded_bytes": 101}, max_file=100, deadline=FAR)
    with pytest.raises(MediaCut, match="500 bytes, over the size limit of 100"):
        check_progress({"downloaded_bytes": 1, "total_bytes": 500}, max_file=100, deadline=FAR)
    with pytest.raises(MediaCut, match="time budget ran out at 7 bytes"):
        check_progress({"downloaded_bytes": 7}, max_file=100, deadline=time.monotonic() - 1)


def test_duration_and_used_up_say_why() -> None:
    assert duration_cut({"duration": 30}, 60) is None
    assert duration_cut({}, 60) is None
    assert duration_cut({"duration": 90}, 60) == "90 s long, over the duration limit of 60 s"
    assert used_up(deadline=FAR, remaining_bytes=1) is None
    assert used_up(deadline=FAR, remaining_bytes=0) == (
        "not downloaded: the media size limit per capture was used up"
    )
    assert used_up(deadline=time.monotonic() - 1, remaining_bytes=1) == (
        "not downloaded: the media time budget was used up"
    )


def _exchange(url: str, mime: str, status: int = 200) -> Exchange:
    return Exchange(
        url, url, "GET", "Media", None, datetime.now(UTC), status=status, mime_type=mime
    )


def test_candidates_each_url_once_in_order_segments_left_to_the_manifest() -> None:
    page = "http://site.test/watch"
    exchanges = [
        _exchange("http://site.test/live/index.m3u8", "application/vnd.apple.mpegurl"),
        _exchange("http://site.test/live/seg1.ts", "video/mp2t"),
        _exchange("http://site.test/live/seg2.m4s", "video/mp4"),
        _exchange("http://site.test/gone.mpd", "application/dash+xml", status=404),
        _exchange("http://site.test/clip.webm", "video/webm"),
    ]
    sources = ["http://site.test/clip.webm", "blob:http://site.test/x"]
    found = find_candidates(page, exchanges, sources, "text/html")
    assert [(c.url, c.found_as) for c in found] == [
        (page, "page-html5"),
        ("http://site.test/live/index.m3u8", "hls-manifest"),
        ("http://site.test/clip.webm", "video-element"),
    ]
    [direct] = find_candidates("http://site.test/a.mp4", [], [], "video/mp4")
    assert direct.found_as == "direct"
