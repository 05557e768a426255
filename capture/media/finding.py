"""Finding a page's media: what is worth downloading whole, each URL once.

Playing a video in the browser records a fragment at best (browsers fetch media in
ranges). So after the page is recorded, this finds what it holds: ``<video>`` and
``<audio>`` sources, HLS and DASH manifests the page loaded, media files it
fetched, and the page URL itself when one of yt-dlp's site extractors claims it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from yt_dlp.extractor import gen_extractor_classes

from capture.exchange import Exchange

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

#: Run in the page: the sources of its media elements, as the browser resolved them.
COLLECT_SOURCES_JS = """() => {
  const urls = [];
  for (const el of document.querySelectorAll('video, audio')) {
    for (const u of [el.currentSrc, el.getAttribute('src') && el.src]) if (u) urls.push(u);
    for (const s of el.querySelectorAll('source[src]')) urls.push(s.src);
  }
  return urls;
}"""


@dataclass(frozen=True)
class Candidate:
    url: str
    found_as: str  # video-element, hls-manifest, dash-manifest, media-response, page, direct


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
