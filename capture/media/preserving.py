"""Sealing downloaded media into the capture: the store adopts each file, the WARC
gets a resource record streamed from it, and yt-dlp's sanitized info is kept
beside it as a media-info file and metadata record."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.records import Payload, metadata_record, resource_record
from archive.sealed_store import SealedStore
from archive.store import Artifact
from archive.warcfile import WarcFile
from capture.media.download import MediaDownload, MediaFile

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


@dataclass(frozen=True)
class _Into:
    """Where the media go: the capture in the store, its WARC, the page they belong to."""

    store: SealedStore
    capture_id: str
    warc: WarcFile
    page_url: str
    page_record_id: str | None


async def preserve(
    downloads: list[MediaDownload],
    *,
    store: SealedStore,
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
    into = _Into(store, capture_id, warc, page_url, page_record_id)
    result = Preserved()
    for number, download in enumerate(downloads, start=1):
        facts = download.record_facts()
        result.facts.append(facts)
        _account(download, result)
        for file in download.files:
            artifact, item = await _preserve_file(into, number, download, file, facts)
            result.artifacts.append(artifact)
            result.items.append(item)
            facts.setdefault("files", []).append(item)
        if download.files or download.info:
            result.artifacts.append(await _preserve_info(into, number, download, facts))
    return result


def _account(download: MediaDownload, result: Preserved) -> None:
    """A download's outcome in the result: why it fell short, or the URLs it covers whole."""
    if download.cut:
        result.reasons.append(f"media {download.candidate.url}: {download.cut}")
    elif download.error:
        result.reasons.append(f"media {download.candidate.url} not downloaded: {download.error}")
    if download.files and not (download.cut or download.error):
        result.whole_urls.update({download.candidate.url, download.media_url})
        result.whole_urls.update(f.url for f in download.files if f.url)


async def _preserve_file(
    into: _Into, number: int, download: MediaDownload, file: MediaFile, facts: dict[str, Any]
) -> tuple[Artifact, dict[str, Any]]:
    """One downloaded file adopted into the store and streamed into the WARC; its item."""
    name = _artifact_name(number, file)
    store = into.store
    artifact = await asyncio.to_thread(store.adopt, into.capture_id, name, file.kind, file.path)
    payload = Payload.of_sealed_file(
        store.local_path(into.capture_id, name), artifact.sha256, artifact.size
    )
    uri = (
        _record_uri(download, file)
        if file.kind == "media"
        else (file.url or f"urn:{file.kind}:{file.label}:{download.candidate.url}")
    )
    extra = [("X-Osint-Media-Kind", file.kind), ("WARC-Refers-To-Target-URI", into.page_url)]
    if into.page_record_id:
        extra.append(("WARC-Refers-To", into.page_record_id))
    if file.kind == "media" and facts["conversion"]:
        extra.append(("X-Osint-Conversion", facts["conversion"]))
    try:
        await into.warc.write_async(
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
        item.update(extractor=facts["extractor"], format=facts["format"], remuxed=facts["remuxed"])
    return artifact, item


async def _preserve_info(
    into: _Into, number: int, download: MediaDownload, facts: dict[str, Any]
) -> Artifact:
    """What was done and yt-dlp's sanitized info, sealed as a file and a metadata record."""
    info_bytes = json.dumps(
        {"osint_capture": facts, "yt_dlp_info": download.info},
        indent=2,
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")
    name = f"media-{number}.info.json"
    with into.store.create(into.capture_id, name, "media-info") as out:
        out.write(info_bytes)
    assert out.sealed is not None
    await into.warc.write_async(
        metadata_record(
            _record_uri(download, None),
            content_type="application/json",
            payload=Payload(info_bytes),
            extra=[
                ("X-Osint-Metadata", "media-info (yt-dlp, sanitized)"),
                ("WARC-Refers-To-Target-URI", into.page_url),
            ],
        )
    )
    return out.sealed


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
