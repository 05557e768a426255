"""Keyframes of a downloaded video, chosen to be read by OCR.

Burnt-in captions and channel banners are a main source of text in video evidence, and
they change at two kinds of moment: at a cut (a new shot, often a new caption), and
with no cut at all (a static shot whose caption is replaced). So one ffmpeg pass picks
frames by three rules, all in one ``select`` expression:

* the first frame, always;
* ``scene``: a frame whose ffmpeg scene score exceeds the threshold (a cut), at most
  one per ``scene_gap`` seconds so a flickering or shaky video cannot flood the
  scratch directory;
* ``interval``: a frame whenever ``every`` seconds have passed since the last chosen
  frame, the floor that catches changes without a cut.

An ``interval`` frame taken less than :data:`DEDUP_WINDOW` before a ``scene`` frame
shows almost the same moment and is dropped. If more than ``max_frames`` remain, an
even spread over time is kept and the rest counted in ``dropped``.

Frames are written at the video's native size (after ffmpeg applies the rotation in
the file's display matrix, so phone videos come out upright): OCR needs every pixel.
They go as PNG files into a directory under the caller's scratch directory, and only
their paths are held here, so memory does not grow with the video.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from archive.errors import Failed
from capture.media import ffmpeg_version

log = logging.getLogger(__name__)

#: Seconds: the floor. No two chosen frames are further apart than this (before the
#: ``max_frames`` spread), so a static shot with a changing caption is still sampled.
DEFAULT_EVERY = 10.0
#: ffmpeg scene score above which a frame counts as a cut. Measured on synthetic test
#: videos (docs/analysis.md): hard cuts scored 0.27 to 1.0, ordinary
#: motion and a caption changing over a still picture 0.04 or less, a simulated shaky
#: handheld camera up to 0.14. 0.2 sits between the two; 0.3 missed one cut of fourteen.
#: A missed cut costs a caption shown for less than ``every`` seconds, an extra frame
#: only OCR time, so the threshold leans low.
DEFAULT_SCENE = 0.2
#: Frames returned at most; beyond it an even spread over time is kept.
DEFAULT_MAX_FRAMES = 60
#: Seconds: an interval frame this close before a scene frame is a duplicate of it.
DEDUP_WINDOW = 1.0
#: Scene frames are at least this many seconds apart...
MIN_SCENE_GAP = 1.0
#: ...and in long videos (over four minutes) further apart, as are floor frames (over
#: forty minutes), so that each rule chooses at most about this many frames: ffmpeg
#: writes at most about twice this many PNG files, however long or cut-heavy the video.
CANDIDATES_PER_RULE = 240
#: ffmpeg's time limit: this many seconds per second of video, never under the floor.
TIMEOUT_PER_SECOND = 2.0
TIMEOUT_FLOOR = 60.0
#: When the container does not say how long the video is.
TIMEOUT_UNKNOWN_DURATION = 3600.0
PROBE_TIMEOUT = 30.0
#: Lines of ffmpeg's stderr quoted in a FrameError.
STDERR_LINES = 8

#: Seconds of tolerance when comparing frame times (see _expression).
_SLACK = 0.0001
_META = "selected.txt"
_LOG = "ffmpeg.log"
_PATTERN = "candidate-%06d.png"


@dataclass(frozen=True)
class Frame:
    """One chosen frame: ``offset`` seconds from the start of the video."""

    offset: float
    path: Path
    reason: str  # "first" | "scene" | "interval"
    width: int
    height: int


@dataclass(frozen=True)
class FrameSelection:
    """The chosen frames in time order, the video's duration (None if the container
    does not say), how many frames the ``max_frames`` limit dropped, and the settings
    that chose them (recorded with the results, so a reader knows how they were made)."""

    frames: tuple[Frame, ...]
    duration: float | None
    dropped: int
    settings: dict[str, object]


class FrameError(Failed):
    """The file is not a video ffmpeg can read, or ffmpeg failed or took too long."""


@dataclass(frozen=True)
class _Probe:
    stream: int  # index of the video stream in the file
    duration: float | None


@dataclass(frozen=True)
class _Candidate:
    offset: float
    score: float
    path: Path
    reason: str = ""


def keyframes(
    video: Path,
    scratch: Path,
    *,
    every: float = DEFAULT_EVERY,
    scene: float = DEFAULT_SCENE,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> FrameSelection:
    """Choose keyframes of ``video`` and write them as PNG files into a new directory
    under ``scratch``. Blocking: runs ffprobe, then one ffmpeg pass over the video.

    Raises :class:`FrameError` (naming the file and quoting ffmpeg) when the file has
    no video stream, cannot be decoded, or ffmpeg runs out of time.
    """
    if not every > 0 or not 0 < scene <= 1 or max_frames < 1:
        raise ValueError(
            f"need every > 0, 0 < scene <= 1, max_frames >= 1: {every, scene, max_frames}"
        )
    video = Path(video).resolve()
    probe = _probe(video)
    scene_gap, floor = _gaps(probe.duration, every, max_frames)
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="frames-", dir=scratch))
    try:
        candidates = _select(video, probe, workdir, _expression(scene, scene_gap, floor))
        classified = _classify(candidates, scene, scene_gap)
        unique = _dedupe(classified)
        kept = _spread(unique, max_frames)
        frames = _keep(kept, candidates, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    settings: dict[str, object] = {
        "every": every,
        "scene": scene,
        "max_frames": max_frames,
        "ffmpeg": ffmpeg_version(),
        "scene_gap": scene_gap,
        "every_used": floor,
        "dedup_window": DEDUP_WINDOW,
    }
    log.debug(
        "%s: %d candidates, %d duplicates, %d kept",
        video, len(candidates), len(candidates) - len(unique), len(frames),
    )  # fmt: skip
    return FrameSelection(tuple(frames), probe.duration, len(unique) - len(kept), settings)


def _gaps(duration: float | None, every: float, max_frames: int) -> tuple[float, float]:
    """The minimum gap between scene frames and the floor actually used: as asked,
    unless the video is so long that a rule would choose more than
    CANDIDATES_PER_RULE frames (bounding the scratch space; the spread to max_frames
    would throw most away anyway). Both are recorded in the settings."""
    if duration is None:
        return MIN_SCENE_GAP, every
    spacing = duration / max(CANDIDATES_PER_RULE, max_frames)
    return max(MIN_SCENE_GAP, spacing), max(every, spacing)


def _expression(scene: float, scene_gap: float, every: float) -> str:
    """The ``select`` expression. Variable 0 holds the earliest time the next scene
    frame may be taken (set only when one is); ``prev_selected_t`` is ffmpeg's own
    time of the last chosen frame, whatever the reason, so the floor measures gaps.
    The first frame does not delay a scene frame: a video that opens on black and
    cuts to its content half a second in keeps both. Times are compared with a slack
    of a tenth of a millisecond (less than any frame lasts), as 20.6 - 15.6 is not
    quite 5 in floating point."""
    is_scene = f"gt(scene,{scene})*gte(t,ld(0)-{_SLACK})"
    floor = f"gte(t-prev_selected_t,{every - _SLACK})"
    return f"if(eq(n,0),1,if({is_scene},st(0,t+{scene_gap})*0+1,{floor}))"


def _probe(video: Path) -> _Probe:
    """The first real video stream (not cover art) and the duration, via ffprobe."""
    if not video.is_file():
        raise FrameError(f"{video}: no such file")
    command = [
        "ffprobe", "-v", "error", "-of", "json",
        "-show_entries",
        "format=duration:stream=index,codec_type,duration:stream_disposition=attached_pic",
        f"file:{video}",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired as slow:
        raise FrameError(f"{video}: ffprobe took longer than {PROBE_TIMEOUT:.0f} s") from slow
    if done.returncode != 0:
        raise FrameError(f"{video}: not a media file ffprobe can read: {_tail(done.stderr)}")
    info = json.loads(done.stdout or "{}")
    streams = [
        s
        for s in info.get("streams", [])
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not streams:
        kinds = ", ".join(s.get("codec_type", "?") for s in info.get("streams", [])) or "none"
        raise FrameError(f"{video}: no video stream to take frames from (streams: {kinds})")
    duration = _seconds(info.get("format", {}).get("duration")) or _seconds(
        streams[0].get("duration")
    )
    return _Probe(stream=int(streams[0]["index"]), duration=duration)


def _seconds(value: object) -> float | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _select(video: Path, probe: _Probe, workdir: Path, expression: str) -> list[_Candidate]:
    """Run the one ffmpeg pass; return every frame it chose, in time order.

    ``settb=AVTB`` puts timestamps in microseconds, so the offsets printed by
    ``metadata`` are exact integers at any length of video; ffmpeg already counts
    them from the start of the file. ``-fps_mode passthrough`` writes each chosen
    frame once, so the n-th printed frame is the n-th PNG file."""
    timeout = (
        max(TIMEOUT_FLOOR, TIMEOUT_PER_SECOND * probe.duration)
        if probe.duration
        else TIMEOUT_UNKNOWN_DURATION
    )
    graph = f"settb=AVTB,select='{expression}',metadata=mode=print:file={_META}"
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", f"file:{video}",
        "-map", f"0:{probe.stream}", "-vf", graph, "-fps_mode", "passthrough",
        "-pix_fmt", "rgb24", "-f", "image2", _PATTERN,
    ]  # fmt: skip
    with open(workdir / _LOG, "wb") as stderr:
        try:
            done = subprocess.run(
                command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=stderr, timeout=timeout
            )
        except subprocess.TimeoutExpired as slow:
            raise FrameError(
                f"{video}: ffmpeg took longer than {timeout:.0f} s: {_tail_file(workdir / _LOG)}"
            ) from slow
    if done.returncode != 0:
        raise FrameError(
            f"{video}: ffmpeg failed (exit {done.returncode}): {_tail_file(workdir / _LOG)}"
        )
    printed = _parse_metadata((workdir / _META).read_text() if (workdir / _META).exists() else "")
    files = sorted(workdir.glob("candidate-*.png"))
    if not printed or len(printed) != len(files):
        raise FrameError(
            f"{video}: ffmpeg chose {len(printed)} frames but wrote {len(files)}: "
            f"{_tail_file(workdir / _LOG)}"
        )
    return [_Candidate(t, score, path) for (t, score), path in zip(printed, files, strict=True)]


def _parse_metadata(text: str) -> list[tuple[float, float]]:
    """(offset, scene score) of each frame from ``metadata=mode=print`` output:
    ``frame:0 pts:0 pts_time:0`` then ``lavfi.scene_score=0.000000``."""
    frames: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith("frame:"):
            fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
            pts = fields.get("pts", "")
            if not pts.lstrip("-").isdigit():
                raise FrameError(f"a chosen frame has no timestamp: {line!r}")
            frames.append((int(pts) / 1_000_000, 0.0))
        elif line.startswith("lavfi.scene_score=") and frames:
            frames[-1] = (frames[-1][0], float(line.partition("=")[2]))
    return frames


def _classify(candidates: list[_Candidate], scene: float, scene_gap: float) -> list[_Candidate]:
    """Say why each frame was chosen, replaying the ``select`` expression's rules on
    the chosen frames (its state changes only when a frame is chosen, so this is
    exact up to the six decimals ffmpeg prints the score with)."""
    classified = []
    next_scene = 0.0
    for i, candidate in enumerate(candidates):
        if i == 0:
            reason = "first"
        elif candidate.score > scene and candidate.offset >= next_scene - _SLACK:
            reason = "scene"
            next_scene = candidate.offset + scene_gap
        else:
            reason = "interval"
        classified.append(_Candidate(candidate.offset, candidate.score, candidate.path, reason))
    return classified


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """Drop each interval frame that a scene frame follows within DEDUP_WINDOW: the
    scene frame shows the new shot, the interval frame the end of one already seen.
    (An interval frame never closely follows another chosen frame, by construction.)"""
    scene_times = [c.offset for c in candidates if c.reason == "scene"]
    return [
        c
        for c in candidates
        if c.reason != "interval" or not any(0 <= t - c.offset < DEDUP_WINDOW for t in scene_times)
    ]


def _spread(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """At most ``limit`` frames, evenly spread over time: for each of ``limit`` evenly
    spaced target times, the nearest frame not yet taken, in order (so the first frame
    is always kept, and a burst of cuts does not crowd out the rest of the video)."""
    if len(candidates) <= limit:
        return candidates
    if limit == 1:
        return candidates[:1]
    start, end = candidates[0].offset, candidates[-1].offset
    kept: list[_Candidate] = []
    lowest = 0
    for k in range(limit):
        target = start + (end - start) * k / (limit - 1)
        highest = len(candidates) - (limit - k)  # leave one frame for each later target
        best = min(range(lowest, highest + 1), key=lambda i: abs(candidates[i].offset - target))
        kept.append(candidates[best])
        lowest = best + 1
    return kept


def _keep(kept: list[_Candidate], candidates: list[_Candidate], workdir: Path) -> list[Frame]:
    """Give the kept PNG files names that say when and why, and delete the rest."""
    keep_paths = {c.path for c in kept}
    for candidate in candidates:
        if candidate.path not in keep_paths:
            candidate.path.unlink()
    (workdir / _META).unlink(missing_ok=True)
    (workdir / _LOG).unlink(missing_ok=True)
    frames = []
    for i, candidate in enumerate(kept):
        path = workdir / f"frame-{i:03d}-{candidate.offset:010.3f}s-{candidate.reason}.png"
        candidate.path.rename(path)
        with Image.open(path) as image:
            width, height = image.size
        frames.append(Frame(candidate.offset, path, candidate.reason, width, height))
    return frames


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_LINES:]) or "(ffmpeg said nothing)"


def _tail_file(path: Path, limit: int = 64 * 1024) -> str:
    """The last lines of a log that may be large (ffmpeg repeats errors per frame)."""
    with open(path, "rb") as log_file:
        log_file.seek(max(0, path.stat().st_size - limit))
        return _tail(log_file.read().decode("utf-8", "replace"))
