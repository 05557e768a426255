"""How much media one capture may take, and the checks that cut a download at a limit.

Every limit (bytes per file, bytes per capture, duration, time) is checked from
yt-dlp's own hooks while it works, so a download stops at the limit instead of
being measured afterwards; the reason it stopped is said on the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from archive.errors import Failed

GiB = 1024**3


@dataclass(frozen=True)
class MediaLimits:
    """How much media one capture may take; each limit cut is a reason on the manifest."""

    max_file_bytes: int = 4 * GiB
    max_capture_bytes: int = 16 * GiB
    max_duration: float = 6 * 3600.0
    budget: float = 1800.0  # seconds for all downloads of a capture


class MediaCut(Failed):
    """Raised from yt-dlp's progress hook to stop a download at a limit."""


def check_progress(status: dict[str, Any], *, max_file: int, deadline: float) -> None:
    """Raise :class:`MediaCut` when a download in progress passes a limit.

    ``status`` is yt-dlp's progress report. A size yt-dlp only estimates never
    cuts: an estimate can be wrong, so only the bytes really taken, or a size
    the server declared, are held against ``max_file``.
    """
    done = status.get("downloaded_bytes") or 0
    total = status.get("total_bytes") or status.get("total_bytes_estimate")
    if done > max_file:
        raise MediaCut(f"larger than the size limit of {max_file} bytes (cut at {done})")
    if total and status.get("total_bytes") and total > max_file:
        raise MediaCut(f"{total} bytes, over the size limit of {max_file} bytes")
    if time.monotonic() > deadline:
        raise MediaCut(f"the media download time budget ran out at {done} bytes")


def duration_cut(info: dict[str, Any], max_duration: float) -> str | None:
    """Why media described by yt-dlp's ``info`` is too long to take, or None.

    Checked before any byte is downloaded (yt-dlp's match filter), since the
    extractor usually knows the duration up front.
    """
    duration = info.get("duration")
    if duration and duration > max_duration:
        return f"{duration:.0f} s long, over the duration limit of {max_duration:.0f} s"
    return None


def used_up(*, deadline: float, remaining_bytes: int) -> str | None:
    """Why no further download may start in this capture, or None while one may."""
    if time.monotonic() >= deadline or remaining_bytes <= 0:
        why = "time budget" if time.monotonic() >= deadline else "size limit per capture"
        return f"not downloaded: the media {why} was used up"
    return None
