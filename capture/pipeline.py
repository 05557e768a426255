"""The flow of one capture, top to bottom.

    prepare  -> catalog row, capture directory, WARC file with its warcinfo record
    browser  -> fresh context and page, recorder attached before navigation
    load     -> navigate and wait for the load event (bounded)
    behaviours -> network idle, scroll the whole page, back to the top, idle again
    cut      -> whatever is still loading is recorded as it stands, and named
    derived  -> screenshots, DOM, visible text, page info
    seal     -> WARC closed and sealed, manifest written and sealed, catalog updated

Every stage runs against one deadline. A page that never finishes is cut at the
deadline minus a reserve kept for the derived records and sealing, so a capture
ends within its budget and says what it missed.

The blocking file, catalog and signing work of preparing, sealing and failing
runs in a worker thread, one synchronous function per stage, in evidence order: a
server runs several captures and answers the API on one event loop, which a
capture's fsyncs must not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from archive.catalog import Catalog, CatalogError
from archive.datadir import Archive
from archive.errors import Failed
from archive.evidence import sealing, trustedtime
from archive.evidence.trustedtime import TimestampConfig
from archive.manifest import Manifest
from archive.records import warcinfo_record
from archive.store import Artifact, ArtifactWriter, FileStore, storage_refusal
from archive.timeutil import CLOCK_SOURCE, rfc3339, utc_now
from archive.warcfile import WarcFile
from capture import asseen, derived, media
from capture.asseen import AsSeen
from capture.behaviours import DEFAULT_BEHAVIOURS, BehaviourResult
from capture.browser import DEFAULT_VIEWPORT, Browser, target_id_of
from capture.exchange import BodyState, Exchange
from capture.media import MediaLimits
from capture.recorder import Recorder
from capture.sysinfo import host_name, ip_addresses, operating_system, software_versions
from capture.urls import validate_url

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 90.0
#: The load event is awaited at most this long (or half the budget), then behaviours run.
LOAD_CAP = 30.0
#: Part of the budget kept for derived records and sealing: at least this...
MIN_RESERVE = 5.0
#: ...and at most this, a quarter of the budget in between.
MAX_RESERVE = 20.0
#: The page's title is asked for at most this long (a page stuck in a loop never answers).
TITLE_CAP = 2.0


class Stage(StrEnum):
    PREPARE = "prepare"
    BROWSER = "browser"
    LOAD = "load"
    BEHAVIOURS = "behaviours"
    CUT = "cut"
    DERIVED = "derived"
    MEDIA = "media"
    SEAL = "seal"
    TIMESTAMP = "timestamp"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class CaptureRequest:
    url: str
    case: str | None = None
    note: str | None = None
    operator: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    as_seen: AsSeen | None = None
    #: Facts known before the capture starts that make it partial (e.g. lost cookies).
    notes: tuple[str, ...] = ()
    #: What happened to earlier attempts of this capture (a crash, a retry).
    history: tuple[str, ...] = ()
    #: Limits of the media stage; ``None`` skips it (no video downloads).
    media: MediaLimits | None = field(default_factory=MediaLimits)
    #: Time-stamp authorities to ask once sealed; ``None`` (or no TSAs) asks none.
    tsa: TimestampConfig | None = None
    #: The watched target this capture is a scheduled run of (``None``: a one-off).
    target_id: int | None = None
    #: That target's interval in seconds, named in the manifest.
    target_interval: int | None = None


class CaptureFailed(Failed):
    """Nothing could be sealed; ``manifest`` says why (status ``failed``)."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__("; ".join(manifest.reasons))
        self.manifest = manifest


Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class _Run:
    """State of one capture while it runs."""

    request: CaptureRequest
    capture_id: str
    archive: Archive
    store: FileStore
    catalog: Catalog
    progress: Progress
    started_at: Any
    deadline: float
    page_deadline: float
    reasons: list[str] = field(default_factory=list)
    #: What a reader should know that is not a loss (the manifest's ``extra.notes``).
    notes: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    behaviours: list[BehaviourResult] = field(default_factory=list)
    stage: Stage = Stage.PREPARE
    title: str | None = None
    stopped_because: str = ""
    #: Set when Chromium is found gone mid-capture (crashed or killed): when, and how.
    browser_lost: str = ""
    load_event: bool | None = None
    claimed: bool = False
    #: Files the page started to download (URL, suggested name); the browser refuses them.
    downloads: list[tuple[str, str]] = field(default_factory=list)
    #: Set once the manifest is sealed and recorded: from then on nothing is quarantined.
    sealed: bool = False
    #: Where the recorder spools large bodies: scratch on the data disk.
    spool_dir: Path | None = None

    def enter(self, stage: Stage, **data: Any) -> None:
        self.stage = stage
        self.progress("stage", {"stage": stage.value, **data})


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
    run = _Run(
        request=request,
        capture_id=capture_id or str(uuid.uuid4()),
        claimed=capture_id is not None,
        archive=archive,
        store=archive.store,
        catalog=archive.catalog,
        progress=progress or (lambda kind, data: None),
        started_at=utc_now(),
        deadline=deadline,
        page_deadline=deadline - reserve,
        reasons=list(request.notes),
    )
    return await _capture(run, browser)


async def _capture(run: _Run, browser: Browser | None) -> Manifest:
    request = run.request
    run.enter(Stage.PREPARE, id=run.capture_id, url=request.url)
    warc_name = f"{run.capture_id}.warc.gz"
    warc_sink = await _to_thread_to_the_end(_prepare, run, warc_name)
    warc = WarcFile(warc_sink)
    own_browser = browser is None
    try:
        run.enter(Stage.BROWSER)
        if browser is None:
            browser = await Browser.launch()
        manifest = await _record(run, browser, warc, warc_sink, warc_name)
    except CaptureFailed as failure:
        failed = await _fail(run, warc, warc_sink, failure.manifest.reasons)
        raise CaptureFailed(failed) from failure
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Interrupted (Ctrl-C, shutdown): nothing half-written may pass as evidence.
        # A capture whose seal had already finished is evidence: it stays as sealed.
        if not run.sealed:
            await _fail(
                run, warc, warc_sink, [*run.reasons, f"interrupted during {run.stage.value}"]
            )
        raise
    except Exception as exc:
        log.debug("capture %s failed", run.capture_id, exc_info=True)
        reasons = [*run.reasons, f"capture failed during {run.stage.value}: {exc}"]
        refusal = storage_refusal(exc, run.store.root)
        if refusal is not None:
            # Freed first, so that the failure below can still be written down.
            run.store.release_reserve()
            reasons.append(refusal)
        raise CaptureFailed(await _fail(run, warc, warc_sink, reasons)) from exc
    finally:
        if own_browser and browser is not None:
            await browser.close()
        # Scratch only: sealed downloads were moved out of it, spooled bodies are in
        # the WARC, and what is left (a cut download) is no evidence.
        await asyncio.to_thread(run.store.clear_work, run.capture_id)
    if request.tsa is not None and request.tsa.tsas:
        run.enter(Stage.TIMESTAMP)
        try:
            stamped = await asyncio.to_thread(
                trustedtime.stamp,
                run.archive,
                run.capture_id,
                config=request.tsa,
                actor=request.operator,
            )
        except Exception as exc:
            # The capture is sealed; trusted time can come later. Say so, never hide it.
            log.warning("time-stamping capture %s failed: %s", run.capture_id, exc)
            await asyncio.to_thread(
                run.catalog.set_timestamp_state, run.capture_id, "pending", attempted=True
            )
            run.progress("timestamp", {"state": "pending", "problems": [str(exc)]})
        else:
            run.progress("timestamp", {"state": stamped.state, "problems": stamped.problems})
    run.enter(Stage.DONE, status=manifest.status)
    return manifest


def _prepare(run: _Run, warc_name: str) -> ArtifactWriter:
    """The catalog row (unless claimed), the space reserve, the directory and the WARC file.

    Blocking work (each step writes and fsyncs), run in a worker thread.
    """
    request = run.request
    if not run.claimed:
        run.catalog.start_capture(
            run.capture_id,
            request.url,
            case=request.case,
            note=request.note,
            operator=request.operator,
            started_at=rfc3339(run.started_at),
        )
    run.store.keep_reserve()
    run.store.create_capture_dir(run.capture_id)
    run.spool_dir = run.store.make_spool_dir(run.capture_id)
    return run.store.create(run.capture_id, warc_name, "warc")


_T = TypeVar("_T")


async def _to_thread_to_the_end(func: Callable[..., _T], /, *args: Any) -> _T:
    """``func(*args)`` in a worker thread, finished even if the capture is cancelled.

    A thread cannot be stopped. Were the cancellation to return at once, the failure
    path would quarantine files the thread is still sealing, or fail a capture it
    is about to record as sealed; so it waits for the thread, then is raised.
    """
    future = asyncio.ensure_future(asyncio.to_thread(func, *args))
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return future.result()


async def _record(
    run: _Run, browser: Browser, warc: WarcFile, warc_sink: ArtifactWriter, warc_name: str
) -> Manifest:
    request = run.request
    context = await browser.new_context()
    connection = await browser.connect_recorder()
    try:
        cookies = request.as_seen.cookies if request.as_seen else None
        if cookies:
            # The investigator's session, for this capture's context only.
            await context.add_cookies(_playwright_cookies(cookies))
        page = await context.new_page()
        page.on("console", lambda msg: _note_console(run, msg.type, msg.text))
        page.on("pageerror", lambda exc: run.console_errors.append(f"uncaught: {exc}"))
        page.on("download", lambda d: run.downloads.append((d.url, d.suggested_filename)))
        # In a thread: the software versions and the interfaces' addresses are read from disk.
        warcinfo = await asyncio.to_thread(_warcinfo_fields, run, browser)
        await warc.write_async(warcinfo_record(warc_name, warcinfo))
        recorder = Recorder(
            connection,
            warc,
            deadline=run.page_deadline,
            on_progress=run.progress,
            redact_cookies=bool(cookies),
            spool_dir=run.spool_dir,
        )
        await recorder.attach(await target_id_of(page))

        run.enter(Stage.LOAD)
        await _load(run, page, recorder)

        run.enter(Stage.BEHAVIOURS)
        for behaviour in DEFAULT_BEHAVIOURS:
            result = await behaviour.run(page, recorder, run.page_deadline)
            run.behaviours.append(result)
            run.progress("behaviour", {"name": result.name, "finished": result.finished})

        _check_browser(run, browser)
        run.enter(Stage.CUT)
        cut: list[Exchange] = []
        if recorder.pending():
            why = "the browser stopped" if run.browser_lost else _why_stopped(run)
            cut = await recorder.cut(why)
            run.stopped_because = why
        _fail_if_never_answered(run, recorder)

        run.enter(Stage.DERIVED)
        with contextlib.suppress(PlaywrightError, TimeoutError):
            run.title = await asyncio.wait_for(page.title(), min(TITLE_CAP, _left(run)))
        main = _main_document(recorder)
        page_url = main[-1].url if main else page.url
        ref = derived.PageRef(
            page_url,
            main[-1].response_record_id if main and main[-1].has_response else None,
            main[-1].started_at if main else None,
        )
        items = await _derive(run, page, page_url)
        items.append(derived.page_info(page_url, _page_info(run, page, recorder, main)))
        screenshot: derived.Derived | None = None
        for item in items:
            await warc.write_async(item.record(ref, utc_now()))
            if item.kind == "screenshot":
                screenshot = item
        if request.as_seen is not None:
            run.progress("stage", {"stage": "as-seen"})
            for record in asseen.records(request.as_seen, request.url, run.reasons):
                await warc.write_async(record)

        run.enter(Stage.MEDIA)
        preserved = await _media(run, page, context, browser, recorder, warc, ref, main)

        _check_browser(run, browser)
        run.enter(Stage.SEAL)
        stragglers = await recorder.cut("the capture was being sealed")
        run.reasons.extend(_cut_reasons(run.stopped_because, cut, stragglers, preserved.whole_urls))
        named = preserved.whole_urls | {e.url for e in [*cut, *stragglers]}
        run.reasons.extend(_missing_resources(recorder, named))
        run.reasons.extend(recorder.non_http.reasons())
        run.notes.extend(recorder.repeats_not_recorded())
        run.notes.extend(recorder.non_http.notes())
        run.reasons.extend(_unrecorded_downloads(run.downloads, recorder))
        await recorder.close()
        if recorder.spool_errors:
            # A body could not be stored (a full disk): the capture cannot be complete,
            # and the failure path below names the disk and what to do.
            raise recorder.spool_errors[0]
        last = main[-1] if main else None
        given = _Sealing(
            warc=warc,
            warc_sink=warc_sink,
            warc_name=warc_name,
            records=items,
            screenshot=screenshot,
            preserved=preserved,
            items=[*_image_items(recorder), *preserved.items],
            final_url=page.url if page.url != "about:blank" else (last.url if last else None),
            http_status=last.status if last else None,
            browser_version=browser.info.version,
        )
        # In a thread: waiting for the WARC's last writes, the fsyncs, signing and the
        # catalog's transaction held the event loop (and with it the API and every
        # other capture) for hundreds of milliseconds (make bench ONLY=api, py-spy).
        return await _to_thread_to_the_end(_seal_stage, run, given)
    finally:
        with contextlib.suppress(Exception):
            await context.close()
        await connection.close()


async def _load(run: _Run, page: Page, recorder: Recorder) -> None:
    """Navigate and wait for the load event, leaving time for behaviours if it never fires."""
    remaining = run.page_deadline - asyncio.get_running_loop().time()
    wait = max(1.0, min(LOAD_CAP, remaining / 2))
    try:
        await page.goto(run.request.url, wait_until="load", timeout=wait * 1000)
        run.load_event = True
    except PlaywrightTimeout:
        # Not a loss by itself: whatever is still loading at the end is named then.
        run.load_event = False
    except PlaywrightError as exc:
        main = _main_document(recorder)
        if not main or not main[-1].has_response:
            message = exc.message.split("\n")[0]
            reasons = [f"could not load {run.request.url}: {message}"]
            raise CaptureFailed(_failed_manifest(run, reasons)) from exc
        run.reasons.append(f"navigation ended with an error: {exc.message.splitlines()[0]}")


async def _derive(run: _Run, page: Page, page_url: str) -> list[derived.Derived]:
    """Derived records, each bounded; one that fails is a reason, not a crash."""
    takers = (
        derived.screenshot_view,
        derived.screenshot_full_page,
        derived.rendered_dom,
        derived.visible_text,
    )
    items = []
    for take in takers:
        name = take.__name__.replace("_", " ")
        timeout = _left(run)
        try:
            items.append(await asyncio.wait_for(take(page, page_url), timeout=timeout))
        except PlaywrightError as exc:
            run.reasons.append(f"{name} failed: {exc}")
        except TimeoutError:
            run.reasons.append(f"{name} failed: the page did not answer within {timeout:.1f} s")
    return items


async def _media(
    run: _Run,
    page: Page,
    context: BrowserContext,
    browser: Browser,
    recorder: Recorder,
    warc: WarcFile,
    ref: derived.PageRef,
    main: list[Exchange],
) -> media.Preserved:
    """Find the page's media and preserve each whole, with yt-dlp, within the limits."""
    limits = run.request.media
    if limits is None:
        return media.Preserved()
    sources: list[str] = []
    with contextlib.suppress(PlaywrightError, TimeoutError):
        sources = await asyncio.wait_for(page.evaluate(media.COLLECT_SOURCES_JS), _left(run))
    page_mime = main[-1].mime_type if main else None
    # In a thread: asking yt-dlp's ~1,750 site extractors whether one claims the page
    # compiles their URL patterns, which held the event loop (and so the API and every
    # other capture) for ~250 ms the first time (make bench ONLY=api, py-spy).
    candidates = await asyncio.to_thread(
        media.find_candidates, ref.url, list(recorder.exchanges), sources, page_mime
    )
    if not candidates:
        return media.Preserved()
    run.progress("media", {"found": [c.url for c in candidates]})
    downloads = await media.download_all(
        candidates,
        run.store.work_dir(run.capture_id),
        cookies=await context.cookies(),
        user_agent=browser.info.user_agent,
        limits=limits,
        progress=run.progress,
    )
    preserved = await media.preserve(
        downloads,
        store=run.store,
        capture_id=run.capture_id,
        warc=warc,
        page_url=ref.url,
        page_record_id=ref.record_id,
    )
    run.reasons.extend(preserved.reasons)
    return preserved


def _image_items(recorder: Recorder) -> list[dict[str, Any]]:
    """Every image the page loaded, as an item of its own (with the record holding it)."""
    items = []
    for exchange in recorder.exchanges:
        if not (exchange.mime_type or "").startswith("image/") or exchange.body is None:
            continue
        items.append(
            {
                "kind": "image",
                "url": exchange.url,
                "sha256": exchange.body.sha256,
                "size": exchange.body.size,
                "mime": exchange.mime_type,
                "status": exchange.status,
                "warc_record_id": exchange.response_record_id,
            }
        )
    return items


@dataclass
class _Sealing:
    """What the seal stage needs from the page, gathered on the event loop beforehand."""

    warc: WarcFile
    warc_sink: ArtifactWriter
    warc_name: str
    #: The derived records (their payloads are closed once sealed).
    records: list[derived.Derived]
    #: The full-page screenshot, also kept as a file of its own.
    screenshot: derived.Derived | None
    preserved: media.Preserved
    #: The manifest's items: every image, and each preserved media file.
    items: list[dict[str, Any]]
    final_url: str | None
    http_status: int | None
    browser_version: str


def _seal_stage(run: _Run, given: _Sealing) -> Manifest:
    """The seal stage's file, signing, catalog and custody work, in evidence order.

    Blocking work, run in a worker thread. Every artifact is sealed (hashed,
    fsynced, renamed) before the manifest lists it; :func:`archive.evidence.sealing.seal`
    then seals the manifest and its signature before the catalog says the capture
    is finished, and appends the custody event last.
    """
    given.warc.close()  # waits for the records still queued on the WARC's writer thread
    artifacts = [given.warc_sink.seal()]
    if given.screenshot is not None:
        artifacts.append(_write_file(run, "screenshot.png", "screenshot", given.screenshot))
    artifacts.extend(given.preserved.artifacts)
    text = next((i.payload.read_all() for i in given.records if i.kind == "text"), b"")
    for item in given.records:
        item.payload.close()
    manifest = _seal(run, given, artifacts)
    run.sealed = True
    _index_text(run, manifest, text.decode("utf-8", errors="replace"))
    return manifest


def _seal(run: _Run, given: _Sealing, artifacts: list[Artifact]) -> Manifest:
    request = run.request
    manifest = Manifest(
        id=run.capture_id,
        url=request.url,
        final_url=given.final_url,
        status="partial" if run.reasons else "complete",
        reasons=run.reasons,
        started_at=rfc3339(run.started_at),
        finished_at=rfc3339(utc_now()),
        case=request.case,
        note=request.note,
        operator=request.operator,
        warc=given.warc_name,
        artifacts=artifacts,
        software=software_versions(given.browser_version),
        http_status=given.http_status,
        title=run.title,
        clock=CLOCK_SOURCE,
        items=given.items,
        extra={
            **_as_seen_summary(request.as_seen),
            **({"media": given.preserved.facts} if given.preserved.facts else {}),
            **({"history": list(request.history)} if request.history else {}),
            **({"notes": run.notes} if run.notes else {}),
            **_scheduled_run(request),
        },
    )
    sealing.seal(
        run.archive,
        manifest,
        artifacts,
        event="captured" if request.target_id is None else "re-captured",
        event_details={} if request.target_id is None else {"target_id": request.target_id},
    )
    return manifest


def _scheduled_run(request: CaptureRequest) -> dict[str, Any]:
    """What the manifest says when this capture is a watched target's scheduled run."""
    if request.target_id is None:
        return {}
    return {
        "scheduled_run": {
            "target_id": request.target_id,
            "url": request.url,
            "interval_seconds": request.target_interval,
        }
    }


def _index_text(run: _Run, manifest: Manifest, text: str) -> None:
    """Make the sealed capture searchable; a failure here loses no evidence.

    A capture left out of the index is indexed from its sealed files before the
    dashboard's next search (:meth:`~archive.catalog.Catalog.unindexed_captures`).
    """
    try:
        run.catalog.index_text(
            manifest.id,
            url=manifest.final_url or manifest.url,
            title=manifest.title or "",
            text=text,
        )
    except CatalogError as exc:
        log.warning("capture %s is sealed but not searchable yet: %s", manifest.id, exc)


async def _fail(
    run: _Run, warc: WarcFile, warc_sink: ArtifactWriter, reasons: list[str]
) -> Manifest:
    """Nothing is sealed: move the unsealed files aside and record why in the catalog."""
    failed_during = run.stage.value
    run.enter(Stage.FAILED, reasons=reasons)
    return await _to_thread_to_the_end(_set_aside, run, warc, warc_sink, reasons, failed_during)


def _set_aside(
    run: _Run, warc: WarcFile, warc_sink: ArtifactWriter, reasons: list[str], failed_during: str
) -> Manifest:
    """The failure's file, catalog and custody work (blocking, run in a worker thread)."""
    warc.close()
    warc_sink.close()
    moved = run.store.quarantine(run.capture_id)
    if moved is not None:
        reasons = [*reasons, f"unsealed files moved to {moved}"]
    manifest = _failed_manifest(run, reasons)
    sealing.record_failure(
        run.archive,
        run.capture_id,
        reasons=reasons,
        finished_at=manifest.finished_at,
        actor=run.request.operator,
        stage=failed_during,
        quarantined=moved is not None,
    )
    return manifest


def _failed_manifest(run: _Run, reasons: list[str]) -> Manifest:
    request = run.request
    return Manifest(
        id=run.capture_id,
        url=request.url,
        final_url=None,
        status="failed",
        reasons=reasons,
        started_at=rfc3339(run.started_at),
        finished_at=rfc3339(utc_now()),
        case=request.case,
        note=request.note,
        operator=request.operator,
        warc=None,
        artifacts=[],
        software=software_versions(),
    )


def _write_file(run: _Run, name: str, kind: str, item: derived.Derived) -> Artifact:
    """A standalone copy of a derived record, byte-identical to the record's payload."""
    with run.store.create(run.capture_id, name, kind) as out:
        stream = item.payload.stream()
        while chunk := stream.read(1024 * 1024):
            out.write(chunk)
    assert out.sealed is not None
    return out.sealed


def _main_document(recorder: Recorder) -> list[Exchange]:
    """The top-level document's hops, redirects first (empty if navigation never started)."""
    hops = [
        e
        for e in recorder.exchanges
        if e.resource_type == "Document" and e.frame_id == recorder.main_frame_id
    ]
    if not hops:
        return []
    first_key = hops[0].key
    return [e for e in hops if e.key == first_key]


def _fail_if_never_answered(run: _Run, recorder: Recorder) -> None:
    """A server that took the request and never sent even a status line left nothing to
    seal: fail the capture as for a refused connection, rather than seal an empty page."""
    if run.load_event is not False:
        return  # the load event fired (a failed navigation is handled when loading)
    main = _main_document(recorder)
    if not main or main[-1].has_response:
        return
    reasons = [
        f"no response from {run.request.url} within the time budget of"
        f" {run.request.timeout:g} s: the server took the request and never answered",
        *run.reasons,
    ]
    raise CaptureFailed(_failed_manifest(run, reasons))


def _left(run: _Run) -> float:
    """Time left for one call into the page (at least a second): a page whose script
    never yields answers no call, and Playwright's calls have no timeout of their own."""
    return max(1.0, run.deadline - asyncio.get_running_loop().time())


def _check_browser(run: _Run, browser: Browser) -> None:
    """The first time Chromium is found gone, a reason says so, when, and how it ended.

    Without it a crashed or killed browser shows only as its side effects (a
    screenshot that failed, requests "still loading"), which reads like a slow page.
    """
    if browser.alive or run.browser_lost:
        return
    code = browser.process.returncode
    if code is None:
        how = "its connection closed"
    elif code < 0:
        how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    run.browser_lost = f"the browser (Chromium) stopped during the {run.stage.value} stage ({how})"
    run.reasons.append(
        f"{run.browser_lost}: what it had recorded until then is kept, the rest of the "
        "page is missing; the next capture starts a new browser"
    )


def _why_stopped(run: _Run) -> str:
    loop = asyncio.get_running_loop()
    if loop.time() >= run.page_deadline:
        return f"the time budget of {run.request.timeout:g} s ran out"
    return "the page's behaviours had finished and recording stopped"


def _cut_reasons(
    why: str, cut: list[Exchange], stragglers: list[Exchange], whole: set[str]
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


def _missing_resources(recorder: Recorder, named: set[str]) -> list[str]:
    """Resources whose bytes the capture does not hold in full, each named.

    ``named`` are URLs already accounted for: media the media stage downloaded whole
    (a player's unfinished request is no loss) and requests named as cut.
    """
    reasons = []
    for exchange in recorder.exchanges:
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


def _recorded_urls(recorder: Recorder) -> set[str]:
    return {
        e.url for e in recorder.exchanges if e.has_response and e.body_state == BodyState.COMPLETE
    }


def _unrecorded_downloads(downloads: list[tuple[str, str]], recorder: Recorder) -> list[str]:
    """Downloads the page started whose bytes the WARC does not hold, each named.

    A capture never saves a download to disk (the context refuses them, so nothing is
    written outside the data directory). A navigation to an attachment passes through
    the recorder and is kept; an ``<a download>`` is fetched by the browser itself,
    out of the recorder's sight, so the capture does not hold that file and says so.
    """
    recorded = _recorded_urls(recorder)
    return [
        f"download refused and not recorded: {url} (offered as {name!r}); "
        "captures never save downloads"
        for url, name in dict.fromkeys(downloads)
        if url not in recorded
    ]


def _as_seen_summary(as_seen: AsSeen | None) -> dict[str, Any]:
    """What the manifest says of the investigator's own view (hashes, never cookies)."""
    if as_seen is None:
        return {}
    files = {
        name: {"sha256": item.sha256, "size": item.size}
        for name, item in (("screenshot", as_seen.screenshot), ("dom", as_seen.dom))
        if item is not None
    }
    return {
        "as_seen": {
            "files": files,
            "received_at": as_seen.info.get("received_at"),
            "cookies_lent": len(as_seen.cookies or []),
        }
    }


def _playwright_cookies(cookies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cookies as chrome.cookies gives them, in the form Playwright takes."""
    same_site = {"no_restriction": "None", "lax": "Lax", "strict": "Strict"}
    converted = []
    for cookie in cookies:
        item: dict[str, Any] = {
            "name": str(cookie["name"]),
            "value": str(cookie["value"]),
            "domain": str(cookie["domain"]),
            "path": str(cookie.get("path") or "/"),
            "secure": bool(cookie.get("secure", False)),
            "httpOnly": bool(cookie.get("httpOnly", False)),
        }
        if cookie.get("sameSite") in same_site:
            item["sameSite"] = same_site[cookie["sameSite"]]
        if cookie.get("expirationDate"):
            item["expires"] = float(cookie["expirationDate"])
        converted.append(item)
    return converted


def _note_console(run: _Run, kind: str, text: str) -> None:
    if kind in ("error", "assert"):
        run.console_errors.append(text)


def _page_info(run: _Run, page: Page, recorder: Recorder, main: list[Exchange]) -> dict[str, Any]:
    last = main[-1] if main else None
    return {
        "capture_id": run.capture_id,
        "requested_url": run.request.url,
        "final_url": page.url,
        "redirect_chain": [
            {"url": hop.url, "status": hop.status, "ip": hop.remote_ip} for hop in main
        ],
        "http_status": last.status if last else None,
        "title": run.title,
        "load_event_fired": run.load_event,
        "resources": [e.summary() for e in recorder.exchanges],
        "failed_requests": [
            *(e.summary() for e in recorder.exchanges if e.error),
            *recorder.non_http.refusals(),
        ],
        "not_http": recorder.non_http.facts(),
        "downloads_refused": [
            {"url": url, "suggested_filename": name, "recorded": url in _recorded_urls(recorder)}
            for url, name in dict.fromkeys(run.downloads)
        ],
        "console_errors": run.console_errors,
        "behaviours": [
            {"name": b.name, "finished": b.finished, "note": b.note} for b in run.behaviours
        ],
        "tls_origins": sorted(recorder.tls_origins),
        "problems": recorder.problems,
        "clock": CLOCK_SOURCE,
        "recorded_at": rfc3339(utc_now()),
    }


def _warcinfo_fields(run: _Run, browser: Browser) -> list[tuple[str, str]]:
    request = run.request
    versions = software_versions(browser.info.version)
    fields = [
        ("software", f"osint-capture/{versions['osint-capture']}"),
        ("format", "WARC File Format 1.1"),
        (
            "conformsTo",
            "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        ),
        ("capture-id", run.capture_id),
        ("requested-url", request.url),
        ("started-at", rfc3339(run.started_at)),
        ("clock", CLOCK_SOURCE),
        ("browser", f"Chromium {browser.info.version}"),
        ("browser-executable", browser.info.executable),
        ("user-agent", browser.info.user_agent),
        ("viewport", f"{DEFAULT_VIEWPORT['width']}x{DEFAULT_VIEWPORT['height']}"),
        ("playwright", versions["playwright"]),
        ("warcio", versions["warcio"]),
        ("python", versions["python"]),
        ("os", operating_system()),
        ("hostname", host_name()),
        ("operator", request.operator or ""),
        ("case", request.case or ""),
        ("note", request.note or ""),
    ]
    fields.extend(("ip", address) for address in ip_addresses())
    return fields
