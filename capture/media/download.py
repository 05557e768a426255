"""Downloading each candidate whole with yt-dlp, within the capture's limits.

yt-dlp runs in a worker thread, with the capture's own cookies and user agent.
Every limit is enforced from its hooks (:mod:`capture.media.limits`), so a cut
download stops, its partial files are dropped, it is never presented as whole,
and the capture says why.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yt_dlp

from capture.media import ytdlp
from capture.media.finding import Candidate
from capture.media.limits import MediaCut, MediaLimits, check_progress, duration_cut, used_up
from capture.progress_events import Event, MediaDownloading, Progress


@dataclass(frozen=True)
class MediaFile:
    path: Path
    kind: str  # media, subtitles, thumbnail
    url: str | None  # where it came from, when known
    label: str = ""  # subtitle language, thumbnail id


@dataclass
class MediaDownload:
    candidate: Candidate
    files: list[MediaFile] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # sanitized yt-dlp info
    postprocessors: list[str] = field(default_factory=list)
    error: str | None = None
    cut: str | None = None

    @property
    def media_url(self) -> str:
        return str(self.info.get("url") or self.info.get("webpage_url") or self.candidate.url)

    def record_facts(self) -> dict[str, Any]:
        """What was done, for the media-info record and the manifest."""
        info = self.info
        return {
            "requested_url": self.candidate.url,
            "found_as": self.candidate.found_as,
            "extractor": info.get("extractor_key") or info.get("extractor"),
            "id": info.get("id"),
            "title": info.get("title"),
            "duration": info.get("duration"),
            "format_id": info.get("format_id"),
            "format": info.get("format"),
            "ext": info.get("ext"),
            "postprocessors": self.postprocessors,
            "remuxed": bool(self.postprocessors),
            "conversion": ytdlp.conversion_note(self.postprocessors),
            "yt_dlp": ytdlp.yt_dlp_version(),
            "ffmpeg": ytdlp.ffmpeg_version(),
            "error": self.error,
            "cut": self.cut,
        }


async def download_all(
    candidates: list[Candidate],
    workdir: Path,
    *,
    cookies: list[dict[str, Any]],
    user_agent: str,
    limits: MediaLimits,
    progress: Progress,
) -> list[MediaDownload]:
    """Download each candidate in turn, within the capture's limits."""
    deadline = time.monotonic() + limits.budget
    downloads: list[MediaDownload] = []
    covered: set[str] = set()
    used = 0
    for number, candidate in enumerate(candidates, start=1):
        if candidate.url in covered:
            continue  # already downloaded whole as part of an earlier item
        remaining_bytes = limits.max_capture_bytes - used
        refused = used_up(deadline=deadline, remaining_bytes=remaining_bytes)
        if refused is not None:
            downloads.append(MediaDownload(candidate, cut=refused))
            continue
        target = workdir / f"media-{number}"
        target.mkdir(parents=True, exist_ok=True)
        hooks = _Hooks(
            MediaDownload(candidate),
            max_file=min(limits.max_file_bytes, remaining_bytes),
            max_duration=limits.max_duration,
            deadline=deadline,
            progress=_threadsafe(progress, asyncio.get_running_loop()),
        )
        download = await asyncio.to_thread(
            _download, hooks, target, cookies=cookies, user_agent=user_agent
        )
        used += sum(f.path.stat().st_size for f in download.files if f.path.exists())
        if download.cut is None and download.error is None:
            covered.update(f.url for f in download.files if f.kind == "media" and f.url)
        elif candidate.found_as == "page-html5":
            continue  # the element sources are tried one by one instead; no loss to report
        downloads.append(download)
    return downloads


def _threadsafe(progress: Progress, loop: asyncio.AbstractEventLoop) -> Progress:
    def call(event: Event) -> None:
        loop.call_soon_threadsafe(progress, event)

    return call


class _Hooks:
    """yt-dlp's hooks for one download: limits enforced, progress reported (throttled),
    the post-processors that ran noted, all into the one :class:`MediaDownload`."""

    def __init__(
        self,
        download: MediaDownload,
        *,
        max_file: int,
        max_duration: float,
        deadline: float,
        progress: Progress,
    ) -> None:
        self.download = download
        self.max_file = max_file
        self.max_duration = max_duration
        self.deadline = deadline
        self.progress = progress
        self.last_report = 0.0

    def on_progress(self, status: dict[str, Any]) -> None:
        check_progress(status, max_file=self.max_file, deadline=self.deadline)
        now = time.monotonic()
        if now - self.last_report > 0.25 or status.get("status") == "finished":
            self.last_report = now
            self.progress(
                MediaDownloading(
                    url=self.download.candidate.url,
                    downloaded=status.get("downloaded_bytes") or 0,
                    total=status.get("total_bytes") or status.get("total_bytes_estimate"),
                    status=status.get("status"),
                )
            )

    def on_postprocess(self, status: dict[str, Any]) -> None:
        name = str(status.get("postprocessor"))
        if status.get("status") == "started" and name not in ytdlp.BOOKKEEPING:
            self.download.postprocessors.append(name)

    def too_long(self, info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        cut = duration_cut(info, self.max_duration)
        if cut is not None:
            self.download.cut = cut
        return cut


def _download(
    hooks: _Hooks, target: Path, *, cookies: list[dict[str, Any]], user_agent: str
) -> MediaDownload:
    download = hooks.download
    options = ytdlp.options(
        target,
        user_agent=user_agent,
        match_filter=hooks.too_long,
        progress_hook=hooks.on_progress,
        postprocessor_hook=hooks.on_postprocess,
    )
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            ytdlp.lend_cookies(ydl, cookies)
            info = ydl.extract_info(download.candidate.url, download=True)
            raw = ydl.sanitize_info(info) if info else {}
            download.files = _collect(raw, target)
            download.info = ytdlp.sanitize(raw)
    except Exception as exc:  # yt-dlp wraps hook and network errors alike
        cut = _find_cut(exc)
        if cut is not None:
            download.cut = cut
        elif download.cut is None:
            download.error = _one_line(exc)
    if download.cut or download.error:
        # Nothing cut short is presented as whole: partial files are dropped.
        shutil.rmtree(target, ignore_errors=True)
        return download
    if not any(f.kind == "media" for f in download.files) and download.cut is None:
        download.error = download.error or "yt-dlp finished without a media file"
    return download


def _collect(info: dict[str, Any], target: Path) -> list[MediaFile]:
    """The files yt-dlp wrote: media from its own account (with their URLs); subtitles
    and thumbnails from the work directory, since yt-dlp's record of their paths
    predates its final move (a page with several media elements is a playlist)."""
    files: list[MediaFile] = []
    for entry in [info, *(e for e in info.get("entries") or [] if isinstance(e, dict))]:
        for item in entry.get("requested_downloads") or []:
            path = Path(item.get("filepath") or "")
            if path.is_file():
                files.append(MediaFile(path, "media", entry.get("url") or item.get("url")))
    subtitle_urls = {
        lang: sub.get("url") for lang, sub in (info.get("requested_subtitles") or {}).items()
    }
    for path in sorted(target.glob("subtitles.*")):
        lang = path.suffixes[0].lstrip(".") if len(path.suffixes) > 1 else ""
        files.append(MediaFile(path, "subtitles", subtitle_urls.get(lang), lang))
    thumbnails = [t for t in info.get("thumbnails") or [] if t.get("filepath")]
    for path in sorted(target.glob("thumbnail.*")):
        url = thumbnails[0].get("url") if len(thumbnails) == 1 else None
        files.append(MediaFile(path, "thumbnail", url, "poster" if url else ""))
    return files


def _find_cut(exc: BaseException) -> str | None:
    """The limit that stopped a download, if one did: yt-dlp wraps the hook's
    :class:`MediaCut` in its own errors, sometimes only as text."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MediaCut):
            return str(current)
        exc_info = getattr(current, "exc_info", None)
        if exc_info and isinstance(exc_info[1], MediaCut):
            return str(exc_info[1])
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "MediaCut" in text or "size limit" in text or "time budget" in text:
        return _one_line(exc)
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).removeprefix("ERROR: ")
