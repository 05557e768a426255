"""Repeated media: one whole copy per URL; later responses recorded with their headers only.

A media player asks for the same video again and again (it seeks, it retries, it
reads ranges). Once the whole body of an audio or video URL is recorded, later
responses for that URL with the same length and validators flow to the page
untouched and are recorded with their headers only, pointing at the record that
holds the body (``X-Osint-Body-Recorded-In``). :class:`Repeats` owns the whole
copies seen so far; the Fetch handler asks it before taking a body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from capture.exchange import BodyState, Exchange
from capture.recorder.bodies import int_or_none


@dataclass(frozen=True)
class WholeCopy:
    """The first whole body of a media URL recorded in this capture, and what identifies it.

    A later response for the URL is taken as a repeat of it only if it describes the
    same representation: the same total length, and the same ``ETag`` and
    ``Last-Modified`` (both absent counts as the same).
    """

    exchange: Exchange
    total: int
    etag: str | None
    last_modified: str | None


class Repeats:
    """The whole copies of media URLs recorded so far, and the responses that repeat them."""

    def __init__(self) -> None:
        self._whole_media: dict[str, WholeCopy] = {}

    def note_whole_copy(self, exchange: Exchange, params: dict[str, Any]) -> None:
        """Remember the first whole body of a media URL, so its repeats need not be taken."""
        if exchange.url in self._whole_media or exchange.body is None:
            return
        if exchange.body_state != BodyState.COMPLETE or not exchange.body_whole:
            return
        headers = _header_map(params.get("responseHeaders"))
        if exchange.method != "GET" or not _is_media(params.get("resourceType"), headers):
            return
        status = params.get("responseStatusCode")
        span = _span(status, headers)
        if span is None or span[0] != 0 or span[1] != exchange.body.size:
            return  # only part of the representation
        self._whole_media[exchange.url] = WholeCopy(
            exchange, span[2], headers.get("etag"), headers.get("last-modified")
        )

    def whole_copy_of(self, exchange: Exchange, params: dict[str, Any]) -> WholeCopy | None:
        """The recorded whole copy this paused response repeats, if it is a repeat."""
        first = self._whole_media.get(exchange.url)
        if first is None or first.exchange is exchange or exchange.method != "GET":
            return None
        if first.exchange.body_state != BodyState.COMPLETE:
            return None
        headers = _header_map(params.get("responseHeaders"))
        span = _span(params.get("responseStatusCode"), headers)
        if span is None or span[2] != first.total:
            return None
        if (headers.get("etag"), headers.get("last-modified")) != (
            first.etag,
            first.last_modified,
        ):
            return None
        return first


def mark_repeat(exchange: Exchange, first: WholeCopy) -> None:
    """Record ``exchange`` with its headers only, pointing at the whole copy."""
    exchange.body_state = BodyState.REPEAT
    exchange.recorded_in = first.exchange.response_record_id
    exchange.body_note = (
        "body not recorded again: the whole body of this URL "
        f"({first.total} bytes, same length and validators) is in record "
        f"{first.exchange.response_record_id}"
    )


def repeats_not_recorded(exchanges: Iterable[Exchange]) -> list[str]:
    """One sentence per media URL whose repeated requests were recorded headers only.

    For the manifest's notes: the page received bytes that these records do not
    hold, and a reader must know where the body is instead. Not a loss (so not a
    reason, and the capture can be complete): the server gave the same length and
    validators (ETag, Last-Modified) as for the body recorded whole.
    """
    counts: dict[tuple[str, str], int] = {}
    for exchange in exchanges:
        if exchange.written and exchange.body_state == BodyState.REPEAT:
            key = (exchange.url, exchange.recorded_in or "")
            counts[key] = counts.get(key, 0) + 1
    return [
        f"{n} repeated request(s) for {url} not recorded again; "
        f"the whole body is in record {record_id}"
        for (url, record_id), n in counts.items()
    ]


def _header_map(headers: list[dict[str, str]] | None) -> dict[str, str]:
    return {h["name"].lower(): h["value"] for h in headers or []}


def _is_media(resource_type: str | None, headers: dict[str, str]) -> bool:
    kind = headers.get("content-type", "").lower()
    return resource_type == "Media" or kind.startswith(("video/", "audio/"))


def _span(status: int | None, headers: dict[str, str]) -> tuple[int, int, int] | None:
    """(first byte, length, total length) of the representation a response carries.

    ``None`` when that cannot be told from the headers: an encoded body, a status
    other than 200 or 206, a missing or unknown length.
    """
    if "content-encoding" in headers:
        return None
    if status == 200:
        length = int_or_none(headers.get("content-length"))
        return None if length is None else (0, length, length)
    if status != 206:
        return None
    unit, _, spec = headers.get("content-range", "").partition(" ")
    first_last, _, total = spec.partition("/")
    first, _, last = first_last.partition("-")
    numbers = [int_or_none(x.strip()) for x in (first, last, total)]
    if unit.strip().lower() != "bytes" or None in numbers:
        return None
    start, end, whole = (n for n in numbers if n is not None)
    return start, end - start + 1, whole
