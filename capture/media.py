"""Preserving the footage itself: find a page's media and download it with yt-dlp.

Playing a video in the browser records a fragment at best (browsers fetch media in
ranges). This stage finds what the page holds (``<video>``/``<audio>`` sources,
HLS and DASH manifests the page loaded, media files it fetched, and the page URL
itself when one of yt-dlp's site extractors claims it) and downloads each whole
with yt-dlp's Python API, using the capture's own cookies and user agent.

yt-dlp runs in a worker thread. Every limit (bytes per file, bytes per capture,
duration, time) is enforced from its progress hook, so a cut download stops, is
never presented as whole, and the capture says why. yt-dlp is pinned in
``pyproject.toml``, never updates itself, and its version is recorded.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.extractor import gen_extractor_classes

from archive.records import Payload, metadata_record, resource_record
from archive.store import Artifact, FileStore
from archive.warcfile import WarcFile
from capture.exchange import Exchange

log = logging.getLogger(__name__)

GiB = 1024**3

#: ffmpeg arguments that keep remuxes byte-for-byte reproducible: the same source
#: downloaded twice gives the same bytes and hash (no encoder version, no times).
BITEXACT = ["-fflags", "+bitexact"]

MANIFEST_TYPES = {
    "application/vnd.apple.mpegurl": "hls-manifest",
    "application/x-mpegurl": "hls-manifest",
    "audio/mpegurl": "hls-manifest",
    "audio/x-mpegurl": "hls-manifest",
    "application/dash+xml": "dash-manifest",
}
#: Pieces of streams: fetched by players, never media of their own.
SEGMENT_TYPES = ("video/mp2t", "video/iso.segment", "audio/iso.segment")
SEGMENT_SUFFIXES = (".ts", ".m4s", ".m4v.part", ".cmfv", ".cmfa")
#: yt-dlp post-processors that only move files (no conversion).
BOOKKEEPING = frozenset({"MoveFiles", "MoveFilesAfterDownload"})

COLLECT_SOURCES_JS = """() => {
  const urls = [];
  for (const el of document.querySelectorAll('video, audio')) {
    for (const u of [el.currentSrc, el.getAttribute('src') && el.src]) if (u) urls.push(u);
    for (const s of el.querySelectorAll('source[src]')) urls.push(s.src);
  }
  return urls;
}"""


@dataclass(frozen=True)
class MediaLimits:
    """How much media one capture may take; each limit cut is a reason on the manifest."""

    max_file_bytes: int = 4 * GiB
    max_capture_bytes: int = 16 * GiB
    max_duration: float = 6 * 3600.0
    budget: float = 1800.0  # seconds for all downloads of a capture


@dataclass(frozen=True)
class Candidate:
    url: str
    found_as: str  # video-element, hls-manifest, dash-manifest, media-response, page, direct


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
            "conversion": _conversion_note(self.postprocessors),
            "yt_dlp": yt_dlp.version.__version__,
            "ffmpeg": ffmpeg_version(),
            "error": self.error,
            "cut": self.cut,
        }


class MediaCut(Exception):
    """Raised from yt-dlp's progress hook to stop a download at a limit."""


def find_candidates(
    page_url: str, exchanges: list[Exchange], element_sources: list[str], page_mime: str | None
) -> list[Candidate]:
    """Media worth downloading whole, each URL once, in the order found."""
    found: dict[str, Candidate] = {}

    def add(url: str, found_as: str) -> None:
        if url.startswith(("http://", "https://")) and url not in found:
            found[url] = Candidate(url, found_as)

    if page_mime and page_mime.startswith(("video/", "audio/")):
        add(page_url, "direct")
    elif site_extractor(page_url):
        add(page_url, "page")
    elif any(url.startswith(("http://", "https://")) for url in element_sources):
        # yt-dlp reads the page's media elements itself, with their subtitle tracks
        # and poster; the element sources below are only tried if it does not.
        add(page_url, "page-html5")
    manifests = False
    for exchange in exchanges:
        mime = (exchange.mime_type or "").lower()
        path = urlsplit(exchange.url).path.lower()
        if mime in MANIFEST_TYPES or path.endswith((".m3u8", ".mpd")):
            kind = MANIFEST_TYPES.get(mime) or (
                "hls-manifest" if path.endswith(".m3u8") else "dash-manifest"
            )
            if exchange.status and 200 <= exchange.status < 300:
                add(exchange.url, kind)
                manifests = True
    for url in element_sources:
        if urlsplit(url).path.lower().endswith(".m3u8"):
            add(url, "hls-manifest")
        elif urlsplit(url).path.lower().endswith(".mpd"):
            add(url, "dash-manifest")
        else:
            add(url, "video-element")
    for exchange in exchanges:
        mime = (exchange.mime_type or "").lower()
        if not mime.startswith(("video/", "audio/")) or mime in SEGMENT_TYPES:
            continue
        if manifests and urlsplit(exchange.url).path.lower().endswith(SEGMENT_SUFFIXES):
            continue
        add(exchange.url, "media-response")
    return list(found.values())


@cache
def _site_extractors() -> list[Any]:
    return [ie for ie in gen_extractor_classes() if ie.IE_NAME != "generic"]


def site_extractor(url: str) -> str | None:
    """The yt-dlp extractor (other than the generic one) that claims ``url``, if any."""
    for extractor in _site_extractors():
        try:
            if extractor.suitable(url):
                return str(extractor.IE_NAME)
        except Exception:  # an extractor's own URL pattern may be broken
            continue
    return None


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


Progress = Callable[[str, dict[str, Any]], None]


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
        if time.monotonic() >= deadline or remaining_bytes <= 0:
            why = "time budget" if time.monotonic() >= deadline else "size limit per capture"
            downloads.append(
                MediaDownload(candidate, cut=f"not downloaded: the media {why} was used up")
            )
            continue
        target = workdir / f"media-{number}"
        target.mkdir(parents=True, exist_ok=True)
        download = await asyncio.to_thread(
            _download,
            candidate,
            target,
            cookies=cookies,
            user_agent=user_agent,
            max_file=min(limits.max_file_bytes, remaining_bytes),
            max_duration=limits.max_duration,
            deadline=deadline,
            progress=_threadsafe(progress, asyncio.get_running_loop()),
        )
        used += sum(f.path.stat().st_size for f in download.files if f.path.exists())
        if download.cut is None and download.error is None:
            covered.update(f.url for f in download.files if f.kind == "media" and f.url)
        elif candidate.found_as == "page-html5":
            continue  # the element sources are tried one by one instead; no loss to report
        downloads.append(download)
    return downloads


def _threadsafe(progress: Progress, loop: asyncio.AbstractEventLoop) -> Progress:
    def call(kind: str, data: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(progress, kind, data)

    return call


def _download(
    candidate: Candidate,
    target: Path,
    *,
    cookies: list[dict[str, Any]],
    user_agent: str,
    max_file: int,
    max_duration: float,
    deadline: float,
    progress: Progress,
) -> MediaDownload:
    download = MediaDownload(candidate)
    last_report = 0.0

    def on_progress(status: dict[str, Any]) -> None:
        nonlocal last_report
        done = status.get("downloaded_bytes") or 0
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if done > max_file:
            raise MediaCut(f"larger than the size limit of {max_file} bytes (cut at {done})")
        if total and status.get("total_bytes") and total > max_file:
            raise MediaCut(f"{total} bytes, over the size limit of {max_file} bytes")
        if time.monotonic() > deadline:
            raise MediaCut(f"the media download time budget ran out at {done} bytes")
        now = time.monotonic()
        if now - last_report > 0.25 or status.get("status") == "finished":
            last_report = now
            progress(
                "media",
                {
                    "url": candidate.url,
                    "downloaded": done,
                    "total": total,
                    "status": status.get("status"),
                },
            )

    def on_postprocess(status: dict[str, Any]) -> None:
        name = str(status.get("postprocessor"))
        if status.get("status") == "started" and name not in BOOKKEEPING:
            download.postprocessors.append(name)

    def too_long(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        duration = info.get("duration")
        if duration and duration > max_duration:
            download.cut = f"{duration:.0f} s long, over the duration limit of {max_duration:.0f} s"
            return download.cut
        return None

    options: dict[str, Any] = {
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
        "match_filter": too_long,
        "progress_hooks": [on_progress],
        "postprocessor_hooks": [on_postprocess],
        "check_formats": False,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            _lend_cookies(ydl, cookies)
            info = ydl.extract_info(candidate.url, download=True)
            raw = ydl.sanitize_info(info) if info else {}
            download.files = _collect(raw, target)
            download.info = sanitize(raw)
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


def _lend_cookies(ydl: yt_dlp.YoutubeDL, cookies: list[dict[str, Any]]) -> None:
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


def _find_cut(exc: BaseException) -> str | None:
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


def _conversion_note(postprocessors: list[str]) -> str | None:
    if not postprocessors:
        return None
    return (
        "ffmpeg ran " + ", ".join(postprocessors) + " in bit-exact mode: streams copied into a "
        "new container (remux), not re-encoded"
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).removeprefix("ERROR: ")


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


# -- into the capture ---------------------------------------------------------------------

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "ts": "video/mp2t",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "ttml": "application/ttml+xml",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


@dataclass
class Preserved:
    """What the media stage added to a capture."""

    artifacts: list[Artifact] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    #: URLs whose media were downloaded whole (their in-page fragments are no loss).
    whole_urls: set[str] = field(default_factory=set)


async def preserve(
    downloads: list[MediaDownload],
    *,
    store: FileStore,
    capture_id: str,
    warc: WarcFile,
    page_url: str,
    page_record_id: str | None,
) -> Preserved:
    """Seal each downloaded file into the capture and write it into the WARC, streamed.

    The store adopts each download (moved in, hashed, sealed; not copied), so a video
    is written once by yt-dlp and once as its WARC record, which is streamed from the
    sealed file with the hash taken when it was sealed.
    """
    result = Preserved()
    for number, download in enumerate(downloads, start=1):
        facts = download.record_facts()
        result.facts.append(facts)
        if download.cut:
            result.reasons.append(f"media {download.candidate.url}: {download.cut}")
        elif download.error:
            result.reasons.append(
                f"media {download.candidate.url} not downloaded: {download.error}"
            )
        info_uri = _record_uri(download, None)
        if download.files and not (download.cut or download.error):
            result.whole_urls.update({download.candidate.url, download.media_url})
            result.whole_urls.update(f.url for f in download.files if f.url)
        for file in download.files:
            name = _artifact_name(number, file)
            artifact = await asyncio.to_thread(store.adopt, capture_id, name, file.kind, file.path)
            result.artifacts.append(artifact)
            payload = Payload.of_sealed_file(
                store.path(capture_id, name), artifact.sha256, artifact.size
            )
            uri = (
                _record_uri(download, file)
                if file.kind == "media"
                else (file.url or f"urn:{file.kind}:{file.label}:{download.candidate.url}")
            )
            extra = [("X-Osint-Media-Kind", file.kind), ("WARC-Refers-To-Target-URI", page_url)]
            if page_record_id:
                extra.append(("WARC-Refers-To", page_record_id))
            if file.kind == "media" and facts["conversion"]:
                extra.append(("X-Osint-Conversion", facts["conversion"]))
            try:
                await warc.write_async(
                    resource_record(
                        uri, content_type=_content_type(file.path), payload=payload, extra=extra
                    )
                )
            finally:
                payload.close()
            item = {
                "kind": file.kind,
                "url": file.url or download.candidate.url,
                "path": name,
                "sha256": artifact.sha256,
                "size": artifact.size,
            }
            if file.kind == "media":
                item.update(
                    extractor=facts["extractor"], format=facts["format"], remuxed=facts["remuxed"]
                )
            result.items.append(item)
            facts.setdefault("files", []).append(item)
        if download.files or download.info:
            info_bytes = json.dumps(
                {"osint_capture": facts, "yt_dlp_info": download.info},
                indent=2,
                ensure_ascii=False,
                default=str,
            ).encode("utf-8")
            name = f"media-{number}.info.json"
            with store.create(capture_id, name, "media-info") as out:
                out.write(info_bytes)
            assert out.sealed is not None
            result.artifacts.append(out.sealed)
            await warc.write_async(
                metadata_record(
                    info_uri,
                    content_type="application/json",
                    payload=Payload(info_bytes),
                    extra=[
                        ("X-Osint-Metadata", "media-info (yt-dlp, sanitized)"),
                        ("WARC-Refers-To-Target-URI", page_url),
                    ],
                )
            )
    return result


def _record_uri(download: MediaDownload, file: MediaFile | None) -> str:
    """The WARC-Target-URI of a media record.

    A file whose bytes are a URL's bytes (no remux) keeps that URL, so replay can
    serve it. A stream joined and remuxed into one file, or media found through a
    page, gets ``urn:media:<url>``, so replay of the page's own responses (its
    manifest, its HTML) is not shadowed by the whole file.
    """
    url = (file.url if file else None) or download.candidate.url
    manifest = urlsplit(url).path.lower().endswith((".m3u8", ".mpd"))
    if file is not None and file.url and not download.postprocessors and not manifest:
        return file.url
    if download.candidate.found_as in ("direct", "video-element", "media-response"):
        return download.candidate.url
    return f"urn:media:{url}"


def _artifact_name(number: int, file: MediaFile) -> str:
    ext = file.path.suffix.lstrip(".").lower() or "bin"
    if file.kind == "media":
        return f"media-{number}.{ext}"
    label = re.sub(r"[^A-Za-z0-9_-]", "_", file.label or "x")[:32]
    return f"media-{number}.{file.kind}-{label}.{ext}"


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lstrip(".").lower(), "application/octet-stream")
