"""Keyframes of real videos made by ffmpeg (tests/text_video.py), chosen by real ffmpeg.

The videos are generated once for the module: a 30 s clip with Arabic banners and hard
cuts at 8 s and 20 s, a 35 s still picture whose caption changes at 15 s with no cut,
and a clip whose frames show their own frame number, against which every offset the
module reports is checked exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from capture.analysis import frames as frames_module
from capture.analysis.frames import FrameError, FrameSelection, keyframes
from capture.browser import Browser
from tests import text_video
from tests.text_images import levenshtein

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"
#: The counter clip: 24 s, cuts at frame 125 (5 s) and frame 265 (10.6 s).
COUNTER_DURATION = 24.0
COUNTER_CUTS = (5.0, 10.6)


@dataclass(frozen=True)
class Videos:
    captions: Path
    still: Path
    counter: Path
    audio: Path
    garbage: Path
    truncated: Path


@pytest.fixture(scope="module")
async def videos(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Videos:
    folder = tmp_path_factory.mktemp("frame-videos")
    captions = await text_video.make_caption_video(folder / "captions.mp4", browser=browser.browser)
    still = await text_video.make_caption_video(
        folder / "still.mp4",
        text_video.STATIC_CAPTIONS,
        text_video.STATIC_DURATION,
        cuts=(),
        still=True,
        browser=browser.browser,
    )
    counter = text_video.make_counter_video(folder / "counter.mp4", COUNTER_DURATION, COUNTER_CUTS)
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 64)
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(captions.read_bytes()[:4096])
    audio = text_video.make_audio_only(folder / "tone.m4a")
    return Videos(captions, still, counter, audio, garbage, truncated)


@pytest.fixture(scope="module")
def caption_frames(videos: Videos, tmp_path_factory: pytest.TempPathFactory) -> FrameSelection:
    return keyframes(videos.captions, tmp_path_factory.mktemp("scratch"))


def _offsets(selection: FrameSelection, reason: str | None = None) -> list[float]:
    return [f.offset for f in selection.frames if reason is None or f.reason == reason]


def test_first_frame_is_always_taken(videos: Videos, tmp_path: Path) -> None:
    only = keyframes(videos.captions, tmp_path, every=1000.0, scene=1.0)
    assert [(f.offset, f.reason) for f in only.frames] == [(0.0, "first")]
    frame = only.frames[0]
    assert (frame.width, frame.height) == text_video.SIZE
    with Image.open(frame.path) as image:
        assert image.size == text_video.SIZE and image.format == "PNG"
    assert only.duration == pytest.approx(text_video.DEFAULT_DURATION, abs=0.05)
    assert only.settings["every"] == 1000.0 and only.settings["scene"] == 1.0
    assert only.settings["ffmpeg"] == frames_module.ffmpeg_version() != "not found"


def test_scene_cuts_are_found_at_their_times(caption_frames: FrameSelection) -> None:
    assert caption_frames.frames[0].reason == "first"
    scenes = _offsets(caption_frames, "scene")
    assert len(scenes) == len(text_video.DEFAULT_CUTS)
    for found, cut in zip(scenes, text_video.DEFAULT_CUTS, strict=True):
        assert found == pytest.approx(cut, abs=0.5)
    # The floor counts from the last chosen frame: the cut at 8 s, so 18 s.
    assert _offsets(caption_frames, "interval") == pytest.approx([18.0])
    assert _offsets(caption_frames) == sorted(_offsets(caption_frames))
    assert caption_frames.dropped == 0
    # Only the kept PNG files stay in the scratch directory.
    folder = caption_frames.frames[0].path.parent
    assert sorted(folder.iterdir()) == sorted(f.path for f in caption_frames.frames)


def test_floor_samples_a_still_video_and_catches_its_caption_change(
    videos: Videos, tmp_path: Path
) -> None:
    selection = keyframes(videos.still, tmp_path)
    assert [(f.offset, f.reason) for f in selection.frames] == [
        (0.0, "first"),
        (10.0, "interval"),
        (20.0, "interval"),
        (30.0, "interval"),
    ]
    # The caption changed at 15 s with no cut: above the banner the 10 s and 20 s frames
    # are (nearly) the same picture, in the banner they differ.
    width, height = text_video.SIZE
    band, above = (0, height - 90, width, height), (0, 0, width, height - 100)
    with (
        Image.open(selection.frames[1].path) as before,
        Image.open(selection.frames[2].path) as after,
    ):
        picture = ImageChops.difference(before.crop(above), after.crop(above)).convert("L")
        banner = ImageChops.difference(before.crop(band), after.crop(band)).convert("L")
    assert picture.getextrema()[1] < 16 < banner.getextrema()[1]

    faster = keyframes(videos.still, tmp_path, every=4.0)
    assert _offsets(faster) == pytest.approx([0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0, 32.0])


def test_offsets_are_the_times_the_frames_show(videos: Videos, tmp_path: Path) -> None:
    selection = keyframes(videos.counter, tmp_path, every=5.0)
    for frame in selection.frames:
        shown = text_video.read_counter(frame.path)
        assert frame.offset == pytest.approx(shown / text_video.RATE, abs=1e-6), frame
    assert [round(o * text_video.RATE) for o in _offsets(selection, "scene")] == [125, 265]
    # The floor frame at 10.0 s comes 0.6 s before the cut at 10.6 s: it is dropped.
    assert _offsets(selection) == pytest.approx([0.0, 5.0, 10.6, 15.6, 20.6])
    assert [f.reason for f in selection.frames] == [
        "first", "scene", "scene", "interval", "interval",
    ]  # fmt: skip


def test_max_frames_keeps_an_even_spread_and_counts_the_rest(
    videos: Videos, tmp_path: Path
) -> None:
    everything = keyframes(videos.counter, tmp_path, every=1.0)
    assert len(everything.frames) > 20 and everything.dropped == 0
    limited = keyframes(videos.counter, tmp_path, every=1.0, max_frames=5)
    assert len(limited.frames) == 5
    assert limited.dropped == len(everything.frames) - 5
    assert limited.frames[0].reason == "first"
    offsets = _offsets(limited)
    step = (_offsets(everything)[-1] - offsets[0]) / 4
    for k, offset in enumerate(offsets):
        assert offset == pytest.approx(k * step, abs=1.0)
    # The dropped frames' files are gone; the kept ones show the times they claim.
    assert len(list(limited.frames[0].path.parent.iterdir())) == 5
    for frame in limited.frames:
        assert text_video.read_counter(frame.path) == round(frame.offset * text_video.RATE)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("audio", "no video stream"),
        ("garbage", "Invalid data"),
        ("truncated", "moov atom not found"),
    ],
)
def test_not_a_video_raises_naming_the_file(
    videos: Videos, tmp_path: Path, name: str, says: str
) -> None:
    path: Path = getattr(videos, name)
    with pytest.raises(FrameError) as raised:
        keyframes(path, tmp_path)
    assert str(path) in str(raised.value) and says in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_out_of_time_is_a_frame_error(
    videos: Videos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "TIMEOUT_FLOOR", 0.05)
    monkeypatch.setattr(frames_module, "TIMEOUT_PER_SECOND", 0.0)
    with pytest.raises(FrameError, match="took longer than") as raised:
        keyframes(videos.captions, tmp_path)
    assert str(videos.captions) in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def character_error_rate(expected: str, read: str) -> float:
    """Levenshtein distance over characters, divided by the expected length."""
    return levenshtein(expected, read) / len(expected)


def test_ocr_reads_caption_a_from_the_chosen_frame(caption_frames: FrameSelection) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import tesserocr

    start, end, caption = text_video.DEFAULT_CAPTIONS[0]
    frame = next(f for f in caption_frames.frames if start <= f.offset < end)
    with Image.open(frame.path) as image:
        grey = image.convert("L")
    # Tesseract wants glyphs taller than this 30 px banner: twice the size reads it.
    larger = grey.resize((grey.width * 2, grey.height * 2), Image.Resampling.LANCZOS)
    with tesserocr.PyTessBaseAPI(path=TESSDATA, lang="ara+eng") as api:
        api.SetImage(larger)
        text = api.GetUTF8Text()
    lines = [line.strip("\u200e\u200f ") for line in text.splitlines() if line.strip()]
    best = min(lines, key=lambda line: character_error_rate(caption, line))
    assert character_error_rate(caption, best) <= 0.1, text  # measured: 0.000
    for word in caption.split():
        assert word in text, (word, text)
