"""What a capture says of itself, made from the stages' results: reasons, items, page info.

Pure functions: they read the results (and the recorder's exchanges they hold) and
change nothing. The manifest's reasons are made once, by :func:`reasons_of`, in the
order of the stages that found them; a failed capture's reasons are made by the same
function from the stages that finished before it failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from archive.timeutil import CLOCK_SOURCE
from capture import media
from capture.exchange import BodyState, Exchange
from capture.recorder import Recorder
from capture.stages.results import (
    AsSeenWritten,
    BehavioursDone,
    Cut,
    DerivedRecords,
    Loaded,
    MediaResult,
    StageResult,
    Swept,
)
from capture.visibility import Visibility

_R = TypeVar("_R")


def first(found: Iterable[StageResult], kind: type[_R]) -> _R | None:
    """The result of the stage that returns ``kind``, if it finished."""
    return next((result for result in found if isinstance(result, kind)), None)


# -- the reasons ---------------------------------------------------------------------------


def reasons_of(notes: Sequence[str], found: Sequence[StageResult]) -> list[str]:
    """The manifest's reasons: facts known before the capture started (``notes``), then
    what each stage found, in the order of the stages. Any reason makes it partial."""
    loaded = first(found, Loaded)
    behaved = first(found, BehavioursDone)
    derived = first(found, DerivedRecords)
    as_seen = first(found, AsSeenWritten)
    media_result = first(found, MediaResult)
    swept = first(found, Swept)
    reasons = list(notes)
    if loaded is not None and loaded.navigation_error:
        reasons.append(f"navigation ended with an error: {loaded.navigation_error}")
    if behaved is not None and behaved.browser_lost:
        reasons.append(_lost(behaved.browser_lost))
    if derived is not None:
        reasons.extend(derived.failures)
        hidden = derived.visibility.reason() if derived.visibility is not None else None
        if hidden:
            reasons.append(hidden)
    if as_seen is not None:
        reasons.extend(as_seen.problems)
    if media_result is not None:
        reasons.extend(media_result.preserved.reasons)
        if media_result.browser_lost:
            reasons.append(_lost(media_result.browser_lost))
    if swept is not None:
        reasons.extend(swept.losses)
    return reasons


def _lost(browser_lost: str) -> str:
    """Without this a crashed or killed browser shows only as its side effects (a
    screenshot that failed, requests "still loading"), which reads like a slow page."""
    return (
        f"{browser_lost}: what it had recorded until then is kept, the rest of the "
        "page is missing; the next capture starts a new browser"
    )


def losses_at_sealing(
    cut: Cut,
    stragglers: Sequence[Exchange],
    whole_urls: set[str],
    exchanges: Sequence[Exchange],
    not_http_reasons: Sequence[str],
    downloads: Sequence[tuple[str, str]],
) -> list[str]:
    """What the capture does not hold, as the seal stage finds it: requests cut while
    loading, resources not held in full, requests that were not HTTP and were refused,
    and downloads the WARC does not hold. Media preserved whole are no loss."""
    named = whole_urls | {e.url for e in [*cut.exchanges, *stragglers]}
    return [
        *_cut_reasons(cut.why, cut.exchanges, stragglers, whole_urls),
        *_missing_resources(exchanges, named),
        *not_http_reasons,
        *_unrecorded_downloads(downloads, exchanges),
    ]


def _cut_reasons(
    why: str, cut: Sequence[Exchange], stragglers: Sequence[Exchange], whole: set[str]
) -> list[str]:
    """Requests stopped while loading, except media the media stage preserved whole."""
    reasons = []
    cut = [e for e in cut if e.url not in whole]
    stragglers = [e for e in stragglers if e.url not in whole]
    if cut:
        names = ", ".join(_how_far(e) for e in cut[:10]) + (" ..." if len(cut) > 10 else "")
        reasons.append(
            f"{len(cut)} request(s) still loading when {why}, "
            f"recorded as far as they had arrived: {names}"
        )
    if stragglers:
        reasons.append(
            f"{len(stragglers)} request(s) started while derived records were taken "
            "and were still loading at sealing: " + ", ".join(e.url for e in stragglers[:10])
        )
    return reasons


def _how_far(exchange: Exchange) -> str:
    """A cut request's URL and how much of it the record holds, so a reader knows the loss."""
    if not exchange.has_response:
        return f"{exchange.url} (no response yet)"
    if exchange.body is None:
        return f"{exchange.url} (response headers only)"
    return f"{exchange.url} (body cut at {exchange.body.size} bytes)"


def _missing_resources(exchanges: Sequence[Exchange], named: set[str]) -> list[str]:
    """Resources whose bytes the capture does not hold in full, each named.

    ``named`` are URLs already accounted for: media the media stage downloaded whole
    (a player's unfinished request is no loss) and requests named as cut.
    """
    reasons = []
    for exchange in exchanges:
        if exchange.url in named:
            continue
        if exchange.error and "net::ERR_ABORTED" in exchange.error and not exchange.has_response:
            continue  # the page itself cancelled it; nothing was lost
        if exchange.error and not exchange.has_response:
            reasons.append(f"not loaded: {exchange.url} ({exchange.error})")
        elif exchange.body_state in (BodyState.TRUNCATED, BodyState.UNAVAILABLE):
            why = exchange.body_note or exchange.error or exchange.body_state.value
            reasons.append(f"body {exchange.body_state.value}: {exchange.url} ({why})")
    return reasons


def recorded_urls(exchanges: Iterable[Exchange]) -> set[str]:
    """URLs whose whole response the WARC holds."""
    return {e.url for e in exchanges if e.has_response and e.body_state == BodyState.COMPLETE}


def _unrecorded_downloads(
    downloads: Sequence[tuple[str, str]], exchanges: Sequence[Exchange]
) -> list[str]:
    """Downloads the page started whose bytes the WARC does not hold, each named.

    A capture never saves a download to disk (the context refuses them, so nothing is
    written outside the data directory). A navigation to an attachment passes through
    the recorder and is kept; an ``<a download>`` is fetched by the browser itself,
    out of the recorder's sight, so the capture does not hold that file and says so.
    """
    recorded = recorded_urls(exchanges)
    return [
        f"download refused and not recorded: {url} (offered as {name!r}); "
        "captures never save downloads"
        for url, name in dict.fromkeys(downloads)
        if url not in recorded
    ]


# -- the page ------------------------------------------------------------------------------


def main_document(exchanges: Iterable[Exchange], main_frame_id: str | None) -> list[Exchange]:
    """The top-level document's hops, redirects first (empty if navigation never started)."""
    hops = [e for e in exchanges if e.resource_type == "Document" and e.frame_id == main_frame_id]
    if not hops:
        return []
    first_key = hops[0].key
    return [e for e in hops if e.key == first_key]


def items_of(exchanges: Iterable[Exchange], preserved: media.Preserved) -> list[dict[str, Any]]:
    """The manifest's items: every image the page loaded, as an item of its own (with the
    record holding it), then each media file the media stage preserved."""
    images = [
        {
            "kind": "image",
            "url": exchange.url,
            "sha256": exchange.body.sha256,
            "size": exchange.body.size,
            "mime": exchange.mime_type,
            "status": exchange.status,
            "warc_record_id": exchange.response_record_id,
        }
        for exchange in exchanges
        if (exchange.mime_type or "").startswith("image/") and exchange.body is not None
    ]
    return [*images, *preserved.items]


def page_info_of(
    *,
    capture_id: str,
    requested_url: str,
    final_url: str,
    title: str | None,
    main: Sequence[Exchange],
    loaded: Loaded,
    behaved: BehavioursDone,
    recorder: Recorder,
    console_errors: list[str],
    downloads: Sequence[tuple[str, str]],
    visibility: Visibility,
    recorded_at: str,
) -> dict[str, Any]:
    """Everything known about the page load when the derived records are taken."""
    last = main[-1] if main else None
    exchanges = recorder.exchanges
    return {
        "capture_id": capture_id,
        "requested_url": requested_url,
        "final_url": final_url,
        "redirect_chain": [
            {"url": hop.url, "status": hop.status, "ip": hop.remote_ip} for hop in main
        ],
        "http_status": last.status if last else None,
        "title": title,
        "load_event_fired": loaded.load_event,
        "resources": [e.summary() for e in exchanges],
        "failed_requests": [
            *(e.summary() for e in exchanges if e.error),
            *recorder.non_http.refusals(),
        ],
        "not_http": recorder.non_http.facts(),
        "downloads_refused": [
            {"url": url, "suggested_filename": name, "recorded": url in recorded_urls(exchanges)}
            for url, name in dict.fromkeys(downloads)
        ],
        "console_errors": console_errors,
        "behaviours": [
            {"name": b.name, "finished": b.finished, "note": b.note} for b in behaved.results
        ],
        "visibility": visibility.facts(),
        "tls_origins": sorted(recorder.tls_origins),
        "problems": recorder.problems,
        "clock": CLOCK_SOURCE,
        "recorded_at": recorded_at,
    }
