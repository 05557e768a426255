"""Talking to yt-dlp and ffmpeg: options, lent cookies, sanitized info, versions, log.

yt-dlp is used through its Python API, never its command line. It is pinned in
``pyproject.toml``, never updates itself, and its version (and ffmpeg's) is
recorded with each download, since both decide the bytes that are kept.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yt_dlp

log = logging.getLogger(__name__)

#: ffmpeg arguments that keep remuxes byte-for-byte reproducible: the same source
#: downloaded twice gives the same bytes and hash (no encoder version, no times).
BITEXACT = ["-fflags", "+bitexact"]
#: yt-dlp post-processors that only move files (no conversion).
BOOKKEEPING = frozenset({"MoveFiles", "MoveFilesAfterDownload"})

Hook = Callable[[dict[str, Any]], None]


def options(
    target: Path,
    *,
    user_agent: str,
    match_filter: Callable[..., str | None],
    progress_hook: Hook,
    postprocessor_hook: Hook,
) -> dict[str, Any]:
    """yt-dlp's options for one download into ``target``: best quality, subtitles and
    thumbnail too, one item (no playlists), bit-exact remuxes, quiet, our own hooks."""
    return {
        "outtmpl": {
            "default": str(target / "media.%(ext)s"),
            "subtitle": str(target / "subtitles.%(ext)s"),
            "thumbnail": str(target / "thumbnail.%(ext)s"),
        },
        "format": "bv*+ba/b",
        "noplaylist": True,
        "writesubtitles": True,
        "subtitleslangs": ["all"],
        "writethumbnail": True,
        "updatetime": False,
        "quiet": True,
        "noprogress": True,
        "no_color": True,
        "logger": _Logger(),
        "socket_timeout": 20,
        "retries": 3,
        "fragment_retries": 3,
        "http_headers": {"User-Agent": user_agent},
        "postprocessor_args": {"default": BITEXACT},
        "match_filter": match_filter,
        "progress_hooks": [progress_hook],
        "postprocessor_hooks": [postprocessor_hook],
        "check_formats": False,
        # No cache in ~/.cache/yt-dlp (signature code of some sites): nothing of a
        # capture outlives it outside the data directory.
        "cachedir": False,
    }


def lend_cookies(ydl: yt_dlp.YoutubeDL, cookies: list[dict[str, Any]]) -> None:
    """The capture browser's cookies, in yt-dlp's in-memory jar (never a cookie file)."""
    for c in cookies:
        domain = str(c["domain"])
        expires = c.get("expires")
        ydl.cookiejar.set_cookie(
            http.cookiejar.Cookie(
                0,
                str(c["name"]),
                str(c["value"]),
                None,
                False,
                domain,
                True,
                domain.startswith("."),
                str(c.get("path") or "/"),
                True,
                bool(c.get("secure")),
                int(expires) if expires and expires > 0 else None,
                False,
                None,
                None,
                {},
            )
        )


def sanitize(info: dict[str, Any]) -> dict[str, Any]:
    """yt-dlp's info without cookies (lent or not) or local paths of the work directory."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v)
                for k, v in value.items()
                if k.lower()
                not in (
                    "cookies",
                    "cookie",
                    "_filename",
                    "filename",
                    "filepath",
                    "__finaldir",
                    "__files_to_move",
                )
            }
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(info)


def yt_dlp_version() -> str:
    return str(yt_dlp.version.__version__)


@cache
def ffmpeg_version() -> str:
    try:
        first = subprocess.run(
            ["ffmpeg", "-version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not found"
    match = re.match(r"ffmpeg version (\S+)", first)
    return match.group(1) if match else first


def conversion_note(postprocessors: list[str]) -> str | None:
    """What ffmpeg did to a download, in words for the record, or None if it did nothing."""
    if not postprocessors:
        return None
    return (
        "ffmpeg ran " + ", ".join(postprocessors) + " in bit-exact mode: streams copied into a "
        "new container (remux), not re-encoded"
    )


class _Logger:
    """yt-dlp's messages go to our log, never to the terminal directly."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.info("yt-dlp: %s", message)
