"""The dashboard's pages: cases and captures, one capture, targets, search, export.

Server-rendered from the catalog, the sealed files and the custody log; the only
thing a page can change is by a form POST (export), which the session gate checks
comes from the dashboard itself. Files are downloaded through the API's file route,
which takes the session cookie too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from archive.catalog import STATUSES, CaptureRow, Catalog, CatalogError
from archive.errors import NotFound
from archive.evidence.addendum import MACHINE_DRAFT_NOTICE
from archive.evidence.custody import CustodyError
from archive.timeutil import utc_now
from archive.wacz.export import ExportError
from archive.watch.snapshot import Snapshot, SnapshotError
from capture import exporting
from capture.server import keys
from capture.server.dashboard_analysis import analysis_runs, token_times
from capture.server.login import see_other
from capture.server.pages import STATUS_ORDER, render
from capture.service import CaptureService

routes = web.RouteTableDef()

#: Where exports made from the dashboard are written (they are also downloaded).
NO_CASE = "(no case)"
HIGHLIGHTED_KINDS = ("changed", "takedown", "restored", "failed")


def _service(request: web.Request) -> CaptureService:
    return request.app[keys.SERVICE]


def _page(request: web.Request, template: str, **context: Any) -> web.Response:
    return render(request, template, logged_in=True, **context)


@dataclass(frozen=True)
class CaseSummary:
    name: str
    captures: list[CaptureRow]
    counts: dict[str, int]


def _case_summaries(rows: list[CaptureRow], case_names: list[str]) -> list[CaseSummary]:
    """Cases with their captures (newest first), cases with the newest capture first."""
    grouped: dict[str, list[CaptureRow]] = {name: [] for name in case_names}
    for row in rows:
        grouped.setdefault(row.case or NO_CASE, []).append(row)
    summaries = [
        CaseSummary(name, captures, _counts(captures)) for name, captures in grouped.items()
    ]
    summaries.sort(key=lambda s: s.captures[0].created_at if s.captures else "", reverse=True)
    return summaries


def _counts(rows: list[CaptureRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return {status: n for status, n in counts.items() if n}


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    catalog = _service(request).catalog
    rows = await asyncio.to_thread(catalog.list_captures)
    cases = [c.name for c in await asyncio.to_thread(catalog.list_cases)]
    return _page(
        request,
        "index.html",
        cases=_case_summaries(rows, cases),
        counts=_counts(rows),
        total=len(rows),
    )


@routes.get("/cases/{name}")
async def case(request: web.Request) -> web.Response:
    catalog = _service(request).catalog
    name = request.match_info["name"]
    known = {c.name for c in await asyncio.to_thread(catalog.list_cases)}
    if name not in known and name != NO_CASE:
        raise NotFound(f"no case named {name!r}")
    if name == NO_CASE:
        rows = [r for r in await asyncio.to_thread(catalog.list_captures) if r.case is None]
    else:
        rows = await asyncio.to_thread(catalog.list_captures, case=name)
    return _page(request, "case.html", name=name, captures=rows, counts=_counts(rows))


# -- one capture --------------------------------------------------------------------------


def _require(catalog: Catalog, capture_id: str) -> CaptureRow:
    row = catalog.get_capture(capture_id)
    if row is None:
        raise NotFound(f"no capture {capture_id}")
    return row


def _capture_facts(service: CaptureService, capture_id: str) -> dict[str, Any]:
    """Everything the capture page shows, read in one go (blocking: run in a thread)."""
    catalog = service.catalog
    row = _require(catalog, capture_id)
    artifacts = catalog.artifacts(row.id)
    custody_problem = None
    try:
        events = list(service.archive.custody.events(row.id))
    except CustodyError as exc:
        events, custody_problem = [], str(exc)
    timeline = catalog.timeline_for_capture(row.id)
    target = catalog.get_target(row.target_id) if row.target_id is not None else None
    screenshots = [a for a in artifacts if a.kind == "screenshot"]
    media = [a.path for a in artifacts if a.kind == "media"]
    return {
        "capture": row,
        "manifest": service.manifest(row),
        "artifacts": artifacts,
        "screenshot": screenshots[0] if screenshots else None,
        "media_files": media,
        "draft_notice": MACHINE_DRAFT_NOTICE,
        "events": events,
        "custody_problem": custody_problem,
        "trusted_times": token_times(
            service, row.id, artifacts, events, digest_hex=row.manifest_sha256, number=None
        )
        if row.manifest_sha256
        else [],
        "analyses": analysis_runs(service, row, artifacts, events),
        "timeline_event": timeline,
        "target": target,
        "live": service.live_state(row.id) or {},
    }


@routes.get("/captures/{id}")
async def capture(request: web.Request) -> web.Response:
    service = _service(request)
    facts = await asyncio.to_thread(_capture_facts, service, request.match_info["id"])
    return _page(request, "capture.html", export_error=None, **facts)


@routes.post("/captures/{id}/export")
async def export(request: web.Request) -> web.StreamResponse:
    """Package this capture as a signed WACZ (custody event ``exported``), then download it."""
    service = _service(request)
    row = await asyncio.to_thread(_require, service.catalog, request.match_info["id"])
    form = await request.post()
    actor = str(form.get("operator") or "").strip() or "dashboard"
    folder = service.archive.exports_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    out = _free_name(folder, f"{row.id}-{stamp}")
    try:
        result = await exporting.export(
            service.archive, [row.id], out, actor=actor, tsa=service.tsa
        )
    except ExportError as exc:
        facts = await asyncio.to_thread(_capture_facts, service, row.id)
        return render(
            request, "capture.html", status=422, logged_in=True, export_error=str(exc), **facts
        )
    return web.FileResponse(
        result.path,
        headers={
            "Content-Disposition": f'attachment; filename="{result.path.name}"',
            "X-Content-SHA256": result.sha256,
        },
    )


def _free_name(folder: Path, stem: str) -> Path:
    """A file name in ``folder`` nothing has yet (two exports in one second differ)."""
    candidate = folder / f"{stem}.wacz"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.wacz"
        number += 1
    return candidate


# -- targets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSummary:
    target: Any
    last_kind: str | None
    changes: int
    takedowns: int


def _target_summaries(catalog: Catalog) -> list[TargetSummary]:
    summaries = []
    for target in catalog.list_targets(include_removed=True):
        timeline = catalog.timeline(target.id)
        summaries.append(
            TargetSummary(
                target,
                timeline[-1].kind if timeline else None,
                sum(1 for e in timeline if e.kind == "changed"),
                sum(1 for e in timeline if e.kind == "takedown"),
            )
        )
    return summaries


@routes.get("/targets")
async def targets(request: web.Request) -> web.Response:
    catalog = _service(request).catalog
    return _page(
        request, "targets.html", targets=await asyncio.to_thread(_target_summaries, catalog)
    )


def _diff_texts(details: dict[str, object], path: str = "") -> list[tuple[str, str]]:
    """The unified diffs an event carries: string values under keys named ``diff``.

    Found at any depth (a comparison puts the text's diff under ``text.diff``), and
    named by where they were found (``text diff``), so each can be shown as a diff.
    """
    found = []
    for key, value in details.items():
        where = f"{path} {key}".strip()
        if "diff" in str(key).lower() and isinstance(value, str) and value:
            found.append((where, value))
        elif isinstance(value, dict):
            found.extend(_diff_texts(value, where))
    return found


@routes.get("/targets/{id}")
async def target(request: web.Request) -> web.Response:
    catalog = _service(request).catalog
    try:
        target_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound(f"no target {request.match_info['id']!r}") from None
    row = await asyncio.to_thread(catalog.get_target, target_id)
    if row is None:
        raise NotFound(f"no target {target_id}")
    timeline = await asyncio.to_thread(catalog.timeline, target_id)
    entries = [
        {
            "event": e,
            "highlight": e.kind in HIGHLIGHTED_KINDS,
            "diffs": _diff_texts(e.details),
            "details": e.details,
        }
        for e in reversed(timeline)
    ]
    return _page(request, "target.html", target=row, entries=entries)


#: The target forms' actions and the state each leads to (as the API's).
TARGET_ACTIONS = {"pause": "paused", "resume": "active", "remove": "removed"}


@routes.post("/targets/{id}/{action}")
async def change_target(request: web.Request) -> web.Response:
    """Pause, resume or remove a target from its page, then show the page again."""
    service = _service(request)
    action = request.match_info["action"]
    if action not in TARGET_ACTIONS:
        raise NotFound(f"a target can be {', '.join(TARGET_ACTIONS)}d, not {action!r}")
    try:
        target_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound(f"no target {request.match_info['id']!r}") from None
    if await asyncio.to_thread(service.catalog.get_target, target_id) is None:
        raise NotFound(f"no target {target_id}")
    state = TARGET_ACTIONS[action]
    await asyncio.to_thread(service.catalog.set_target_state, target_id, state)
    if state == "active":
        service.schedule_changed()  # a run missed while paused is made at once
    return see_other(f"/targets/{target_id}")


# -- search ---------------------------------------------------------------------------------


def _index_missing(service: CaptureService) -> list[str]:
    """Index sealed captures the search index lacks, from their sealed files.

    Captures sealed before search existed, or whose indexing failed when they were
    sealed, are searchable from the next search on. A capture that cannot be read
    back is named (and tried again next time), so a search never silently skips it.
    """
    catalog = service.catalog
    problems = []
    for row in catalog.unindexed_captures():
        try:
            snapshot = Snapshot.load(service.archive.root, row.id, catalog=catalog)
            catalog.index_text(
                row.id,
                url=snapshot.final_url or snapshot.url,
                title=snapshot.title or "",
                text=snapshot.text,
            )
        except (SnapshotError, CatalogError) as exc:
            problems.append(f"capture {row.id} is not searchable: {exc}")
    return problems


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    service = _service(request)
    catalog = service.catalog
    query = request.query.get("q", "").strip()
    problems = await asyncio.to_thread(_index_missing, service)
    hits = await asyncio.to_thread(catalog.search_text, query) if query else []
    rows = {h.capture_id: await asyncio.to_thread(catalog.get_capture, h.capture_id) for h in hits}
    return _page(
        request,
        "search.html",
        query=query,
        hits=hits,
        rows=rows,
        statuses=STATUSES,
        problems=problems,
    )
