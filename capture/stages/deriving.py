"""The stages that add to the recorded page: derived records, as-seen files, media.

Each call into the page is bounded by what is left of the capture's budget: a page
whose script never yields answers no call, and Playwright's calls have no timeout of
their own. One record that cannot be taken is a reason, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from playwright.async_api import Error as PlaywrightError

from archive.timeutil import rfc3339, utc_now
from capture import asseen, derived, media, visibility
from capture.asseen import AsSeen
from capture.cdp import CDPError
from capture.exchange import Exchange
from capture.progress_events import MediaFound
from capture.stages.loading import browser_lost
from capture.stages.opening import Opened
from capture.stages.outcome import main_document, page_info_of
from capture.stages.results import (
    AsSeenWritten,
    BehavioursDone,
    DerivedRecords,
    Loaded,
    MediaResult,
)
from capture.stages.run import Run

#: The page's title is asked for at most this long (a page stuck in a loop never answers).
TITLE_CAP = 2.0


async def derive(
    run: Run, opened: Opened, loaded: Loaded, behaved: BehavioursDone
) -> DerivedRecords:
    """Screenshots, rendered DOM, visible text and page info, written to the WARC, each
    pointing at the page's response."""
    page, recorder = opened.page, opened.recorder
    title: str | None = None
    with contextlib.suppress(PlaywrightError, TimeoutError):
        title = await asyncio.wait_for(page.title(), min(TITLE_CAP, run.left()))
    main = main_document(recorder.exchanges, recorder.main_frame_id)
    page_url = main[-1].url if main else page.url
    ref = derived.PageRef(
        page_url,
        main[-1].response_record_id if main and main[-1].has_response else None,
        main[-1].started_at if main else None,
    )
    records, failures = await _take(run, opened, page_url)
    seen = await visibility.measure(opened.recorder, visibility.time_for(run.deadline))
    info = page_info_of(
        capture_id=run.capture_id,
        requested_url=run.request.url,
        final_url=page.url,
        title=title,
        main=main,
        loaded=loaded,
        behaved=behaved,
        recorder=recorder,
        console_errors=opened.log.console_errors,
        downloads=opened.log.downloads,
        visibility=seen,
        recorded_at=rfc3339(utc_now()),
    )
    records.append(derived.page_info(page_url, info))
    for item in records:
        await opened.warc.write_async(item.record(ref, utc_now()))
    screenshot = next((item for item in records if item.kind == "screenshot"), None)
    return DerivedRecords(
        title, tuple(main), ref, tuple(records), screenshot, tuple(failures), visibility=seen
    )


async def _take(run: Run, opened: Opened, page_url: str) -> tuple[list[derived.Derived], list[str]]:
    """Derived records, each bounded; and one sentence for each that failed.

    The viewport's screenshot, the DOM and the visible text are taken at once (none
    of them changes the page); the full page's screenshot after them, since it
    renders beyond the window.
    """
    page, session = opened.page, opened.recorder.page_session
    frame = opened.recorder.main_frame_id
    assert session is not None and frame is not None, "the recorder attaches before the load"
    first = (
        ("screenshot view", lambda: derived.screenshot_view(session, page_url)),
        ("rendered dom", lambda: derived.rendered_dom(page, page_url)),
        ("visible text", lambda: derived.visible_text(session, frame, page_url, run.left())),
    )
    taken = list(await asyncio.gather(*(_one(run, name, take) for name, take in first)))
    taken.append(
        await _one(
            run, "screenshot full page", lambda: derived.screenshot_full_page(session, page_url)
        )
    )
    items = [item for item in taken if isinstance(item, derived.Derived)]
    # In the order they were always written: the viewport, the full page, the DOM, the text.
    items.sort(key=lambda item: _ORDER.index(item.kind))
    return items, [item for item in taken if isinstance(item, str)]


_ORDER = ("screenshot-view", "screenshot", "dom", "text")


async def _one(
    run: Run, name: str, take: Callable[[], Awaitable[derived.Derived]]
) -> derived.Derived | str:
    """One derived record, bounded by what is left of the budget; or why it failed."""
    timeout = run.left()
    try:
        return await asyncio.wait_for(take(), timeout=timeout)
    except (PlaywrightError, CDPError) as exc:
        return f"{name} failed: {exc}"
    except TimeoutError:
        return f"{name} failed: the page did not answer within {timeout:.1f} s"


async def write_as_seen(opened: Opened, as_seen: AsSeen, page_url: str) -> AsSeenWritten:
    """The investigator's own screenshot and DOM, each checked against the hash it arrived
    with, written as records labelled as theirs."""
    problems: list[str] = []
    for record in asseen.records(as_seen, page_url, problems):
        await opened.warc.write_async(record)
    return AsSeenWritten(tuple(problems))


async def preserve_media(
    run: Run, opened: Opened, derived_records: DerivedRecords, behaved: BehavioursDone
) -> MediaResult:
    """The page's media, each preserved whole; then whether the browser is still there."""
    preserved = await _media(run, opened, derived_records.ref, derived_records.main)
    lost = "" if behaved.browser_lost else browser_lost(run, opened.browser)
    return MediaResult(preserved, browser_lost=lost)


async def _media(
    run: Run, opened: Opened, ref: derived.PageRef, main: tuple[Exchange, ...]
) -> media.Preserved:
    """Find the page's media and preserve each whole, with yt-dlp, within the limits."""
    limits = run.request.media
    if limits is None:
        return media.Preserved()
    sources: list[str] = []
    with contextlib.suppress(PlaywrightError, TimeoutError):
        sources = await asyncio.wait_for(opened.page.evaluate(media.COLLECT_SOURCES_JS), run.left())
    page_mime = main[-1].mime_type if main else None
    # In a thread: asking yt-dlp's ~1,750 site extractors whether one claims the page
    # compiles their URL patterns, which held the event loop (and so the API and every
    # other capture) for ~250 ms the first time (make bench ONLY=api, py-spy).
    candidates = await asyncio.to_thread(
        media.find_candidates, ref.url, list(opened.recorder.exchanges), sources, page_mime
    )
    if not candidates:
        return media.Preserved()
    run.progress(MediaFound(tuple(c.url for c in candidates)))
    downloads = await media.download_all(
        candidates,
        run.store.work_dir(run.capture_id),
        cookies=await opened.context.cookies(),
        user_agent=opened.browser.info.user_agent,
        limits=limits,
        progress=run.progress,
    )
    return await media.preserve(
        downloads,
        store=run.store,
        capture_id=run.capture_id,
        warc=opened.warc,
        page_url=ref.url,
        page_record_id=ref.record_id,
    )
