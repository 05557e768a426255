"""The flow of one capture, top to bottom.

    prepare    -> catalog row, capture directory, WARC file
    browser    -> fresh context and page, warcinfo record, recorder attached before navigation
    load       -> navigate and wait for the load event (bounded)
    behaviours -> network idle, scroll the whole page, back to the top, idle again
    cut        -> whatever is still loading is recorded as it stands, and named
    derived    -> screenshots, DOM, visible text, page info
    as-seen    -> the investigator's own screenshot and DOM, when the extension sent them
    media      -> the page's videos and audio, downloaded whole and sealed
    seal       -> the last requests cut, the reasons made; WARC, files and manifest sealed
    timestamp  -> once the browser's part is closed: trusted time, or ``pending``

Each stage is one function in ``capture/stages/`` that returns a frozen, typed result
(``capture/stages/results.py``); what a later stage needs from an earlier one it is
handed. The manifest's reasons, items and page info are made from those results
(``capture/stages/outcome.py``), never collected along the way.

Every stage runs against one deadline. A page that never finishes is cut at the
deadline minus a reserve kept for the derived records and sealing, so a capture
ends within its budget and says what it missed.

The blocking file, catalog and signing work of preparing, sealing and failing
runs in a worker thread (``capture/stages/keeping.py`` says why), finished even if
the capture is cancelled meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from enum import StrEnum
from typing import Any

from archive.datadir import Archive
from archive.errors import Failed
from archive.manifest import Manifest
from archive.storage_refusals import storage_refusal
from archive.timeutil import utc_now
from capture.browser import Browser
from capture.progress_events import Progress, ignore
from capture.requests import CaptureRequest
from capture.stages.deriving import derive, preserve_media, write_as_seen
from capture.stages.keeping import prepare, seal, set_aside, time_stamp
from capture.stages.loading import behave, cut_loading, load, sweep
from capture.stages.opening import BrowserLease, open_page
from capture.stages.outcome import reasons_of
from capture.stages.results import Prepared
from capture.stages.run import Run, StageFailed, to_thread_to_the_end
from capture.urls import validate_url

log = logging.getLogger(__name__)

#: Part of the budget kept for derived records and sealing: at least this...
MIN_RESERVE = 5.0
#: ...and at most this, a quarter of the budget in between.
MAX_RESERVE = 20.0


class Stage(StrEnum):
    PREPARE = "prepare"
    BROWSER = "browser"
    LOAD = "load"
    BEHAVIOURS = "behaviours"
    CUT = "cut"
    DERIVED = "derived"
    AS_SEEN = "as-seen"
    MEDIA = "media"
    SEAL = "seal"
    TIMESTAMP = "timestamp"
    DONE = "done"
    FAILED = "failed"


class CaptureFailed(Failed):
    """Nothing could be sealed; ``manifest`` says why (status ``failed``)."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__("; ".join(manifest.reasons))
        self.manifest = manifest


async def capture_page(
    request: CaptureRequest,
    archive: Archive,
    *,
    browser: Browser | None = None,
    progress: Progress | None = None,
    capture_id: str | None = None,
) -> Manifest:
    """Capture one page into a sealed capture; raise :class:`CaptureFailed` if nothing sealed.

    ``capture_id`` names a capture a worker already claimed from the catalog's queue
    (status ``running``); without it the capture gets a new id and catalog row.
    """
    request = replace(request, url=validate_url(request.url))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.timeout
    reserve = min(MAX_RESERVE, max(MIN_RESERVE, request.timeout / 4))
    run = Run(
        request=request,
        capture_id=capture_id or str(uuid.uuid4()),
        claimed=capture_id is not None,
        archive=archive,
        store=archive.store,
        catalog=archive.catalog,
        progress=progress or ignore,
        started_at=utc_now(),
        deadline=deadline,
        page_deadline=deadline - reserve,
        stage=Stage.PREPARE,
    )
    return await _capture(run, browser)


async def _capture(run: Run, browser: Browser | None) -> Manifest:
    """The stages, in order: each returns what it found, kept for the reasons.

    Time-stamping comes once the page's part is over (its context closed, our own
    browser closed, the scratch cleared): the capture is sealed by then, and a slow
    time-stamp authority holds no page open.
    """
    request = run.request
    async with stage(run, Stage.PREPARE, id=run.capture_id, url=request.url):
        prepared = await to_thread_to_the_end(prepare, run)
    async with _torn_down(run, browser) as browsers, _set_aside_on_failure(run, prepared):
        async with stage(run, Stage.BROWSER):
            opened = await open_page(run, browsers, prepared)
        async with opened:  # the context and the recorder's connection close, however it ends
            async with stage(run, Stage.LOAD):
                loaded = run.keep(await load(run, opened))
            async with stage(run, Stage.BEHAVIOURS):
                behaved = run.keep(await behave(run, opened))
            async with stage(run, Stage.CUT):
                cut = run.keep(await cut_loading(run, opened, loaded, behaved))
            async with stage(run, Stage.DERIVED):
                derived = run.keep(await derive(run, opened, loaded, behaved))
            if request.as_seen is not None:
                async with stage(run, Stage.AS_SEEN):
                    run.keep(await write_as_seen(opened, request.as_seen, request.url))
            async with stage(run, Stage.MEDIA):
                media = run.keep(await preserve_media(run, opened, derived, behaved))
            async with stage(run, Stage.SEAL):
                # Kept first: a seal that fails (a full disk) still says what was missed.
                swept = run.keep(await sweep(opened, cut, media))
                sealed = await seal(run, prepared, opened, derived, media, swept)
    if request.tsa is not None and request.tsa.tsas:
        async with stage(run, Stage.TIMESTAMP):
            await time_stamp(run, request.tsa)
    run.enter(Stage.DONE, status=sealed.manifest.status)
    return sealed.manifest


@contextlib.asynccontextmanager
async def stage(run: Run, name: Stage, **data: Any) -> AsyncIterator[None]:
    """Enter a stage: the progress callback hears :class:`StageEntered` (``name``, and any
    of its fields in ``data``), and a failure from here on names it.

    No stage is bounded as a whole: each bounds its own calls into the page by the
    page deadline or what is left of the budget (``run.left()``), so that a stage cut
    short still records what it has and says so.
    """
    run.enter(name, **data)
    yield


@contextlib.asynccontextmanager
async def _torn_down(run: Run, given: Browser | None) -> AsyncIterator[BrowserLease]:
    """The browser this capture launched (if any) closed, and the scratch cleared, at the
    end, sealed or failed."""
    browsers = BrowserLease(given)
    try:
        yield browsers
    finally:
        await browsers.close()
        # Scratch only: sealed downloads were moved out of it, spooled bodies are in
        # the WARC, and what is left (a cut download) is no evidence.
        await asyncio.to_thread(run.store.clear_work, run.capture_id)


@contextlib.asynccontextmanager
async def _set_aside_on_failure(run: Run, prepared: Prepared) -> AsyncIterator[None]:
    """A capture that cannot be sealed is failed: its unsealed files are set aside and the
    catalog says why; :class:`CaptureFailed` carries the failed manifest."""
    try:
        yield
    except StageFailed as failure:
        failed = await _fail(run, prepared, failure.reasons)
        raise CaptureFailed(failed) from failure
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Interrupted (Ctrl-C, shutdown): nothing half-written may pass as evidence.
        # A capture whose seal had already finished is evidence: it stays as sealed.
        if not run.sealed:
            reasons = reasons_of(run.request.notes, run.found)
            await _fail(run, prepared, [*reasons, f"interrupted during {run.stage.value}"])
        raise
    except Exception as exc:
        log.debug("capture %s failed", run.capture_id, exc_info=True)
        reasons = [
            *reasons_of(run.request.notes, run.found),
            f"capture failed during {run.stage.value}: {exc}",
        ]
        refusal = storage_refusal(exc, run.archive.root)
        if refusal is not None:
            # Freed first, so that the failure below can still be written down.
            run.store.release_reserve()
            reasons.append(refusal)
        raise CaptureFailed(await _fail(run, prepared, reasons)) from exc


async def _fail(run: Run, prepared: Prepared, reasons: list[str]) -> Manifest:
    """Nothing is sealed: move the unsealed files aside and record why in the catalog."""
    failed_during = run.stage.value
    run.enter(Stage.FAILED, reasons=tuple(reasons))
    return await to_thread_to_the_end(set_aside, run, prepared, reasons, failed_during)
