"""The dashboard's pages: cases and captures, one capture, targets, search, export.

Server-rendered from the catalog, the sealed files and the custody log; the only
thing a page can change is by a form POST (export), which the session gate checks
comes from the dashboard itself. Files are downloaded through the API's file route,
which takes the session cookie too.

Each page shows what the person logged in may see (:func:`capture.server.access.
principal`): the cases they belong to, their own captures of no case, search hits and
targets of those; another case's capture or target is a 403 page naming the missing
permission, as the API answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from archive.catalog import STATUSES, AnalysisRow, CaptureRow
from archive.errors import NotFound
from archive.evidence.addendum import MACHINE_DRAFT_NOTICE
from archive.evidence.custody import CustodyError
from archive.evidence.trustedtime import TimestampConfig
from archive.people import Permission
from archive.store import Artifact
from archive.timeutil import utc_now
from archive.wacz.export_types import ExportError
from capture.queries import SealedRead, Watched
from capture.server import keys
from capture.server.access import principal
from capture.server.auditing import record_access
from capture.server.dashboard_analysis import (
    RunView,
    TrustedTime,
    analysis_runs,
    sealed_names,
    token_times,
)
from capture.server.login import see_other
from capture.server.pages import STATUS_ORDER, render
from capture.service import CaptureService

routes = web.RouteTableDef()

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
    service = _service(request)
    who = principal(request)
    # An auditor lists cases and reads no evidence: the index names their cases only.
    rows = await service.captures(who) if who.can(Permission.READ_EVIDENCE) else []
    cases = sorted(who.cases)  # their cases, those without captures yet too
    return _page(
        request,
        "index.html",
        cases=_case_summaries(rows, cases),
        counts=_counts(rows),
        total=len(rows),
    )


@routes.get("/cases/{name}")
async def case(request: web.Request) -> web.Response:
    service = _service(request)
    who = principal(request)
    name = request.match_info["name"]
    known = {c.name for c in await service.cases(who)}
    if name not in known and name != NO_CASE:
        raise NotFound(f"no case named {name!r}")
    if name == NO_CASE:
        rows = [r for r in await service.captures(who) if r.case is None]
    else:
        rows = await service.captures(who, case=name)  # Denied: not their case
    return _page(request, "case.html", name=name, captures=rows, counts=_counts(rows))


# -- one capture --------------------------------------------------------------------------


async def _capture_facts(service: CaptureService, row: CaptureRow) -> dict[str, Any]:
    """Everything the capture page shows of ``row`` (one the person may open): the rows
    and files first, then the checks of its time-stamps and analysis runs in a thread
    (tokens are verified, files hashed)."""
    artifacts = await service.artifacts(row)
    custody_problem = None
    try:
        events = await service.custody_events(row)
    except CustodyError as exc:
        events, custody_problem = [], str(exc)
    runs = await service.analyses(row)
    files = await service.sealed_files(row, sealed_names(artifacts, runs))
    trusted_times, analyses = await asyncio.to_thread(
        _checked, service.tsa, row, runs, artifacts, events, files
    )
    screenshots = [a for a in artifacts if a.kind == "screenshot"]
    return {
        "capture": row,
        "manifest": await service.manifest(row),
        "artifacts": artifacts,
        "screenshot": screenshots[0] if screenshots else None,
        "media_files": [a.path for a in artifacts if a.kind == "media"],
        "draft_notice": MACHINE_DRAFT_NOTICE,
        "events": events,
        "custody_problem": custody_problem,
        "trusted_times": trusted_times,
        "analyses": analyses,
        "timeline_event": await service.capture_timeline_event(row),
        "target": await service.target_of(row),
        "live": service.live_state(row.id) or {},
    }


def _checked(
    tsa: TimestampConfig | None,
    row: CaptureRow,
    runs: list[AnalysisRow],
    artifacts: list[Artifact],
    events: list[Any],
    files: dict[str, SealedRead],
) -> tuple[list[TrustedTime], list[RunView]]:
    """The capture's own time-stamps and its analysis runs, checked (blocking)."""
    trusted_times = (
        token_times(tsa, artifacts, events, files, digest_hex=row.manifest_sha256, number=None)
        if row.manifest_sha256
        else []
    )
    return trusted_times, analysis_runs(tsa, runs, artifacts, events, files)


@routes.get("/captures/{id}")
async def capture(request: web.Request) -> web.Response:
    service = _service(request)
    row = await service.capture(principal(request), request.match_info["id"])
    facts = await _capture_facts(service, row)
    await record_access(request, "viewed", capture_ids=[row.id], details={})
    return _page(request, "capture.html", export_error=None, **facts)


@routes.post("/captures/{id}/export")
async def export(request: web.Request) -> web.StreamResponse:
    """Package this capture as a signed WACZ (custody event ``exported``), then download it."""
    service = _service(request)
    who = principal(request)
    row = await service.capture(who, request.match_info["id"], Permission.EXPORT)
    form = await request.post()
    operator = str(form.get("operator") or "").strip() or None  # a label; the actor is who
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    try:
        result = await service.export(who, [row.id], stem=f"{row.id}-{stamp}", operator=operator)
    except ExportError as exc:
        facts = await _capture_facts(service, row)
        return render(
            request, "capture.html", status=422, logged_in=True, export_error=str(exc), **facts
        )
    served = {"file": result.path.name, "sha256": result.sha256, "size": result.size}
    await record_access(request, "exported", capture_ids=[row.id], details=served)
    return web.FileResponse(
        result.path,
        headers={
            "Content-Disposition": f'attachment; filename="{result.path.name}"',
            "X-Content-SHA256": result.sha256,
        },
    )


# -- targets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSummary:
    target: Any
    last_kind: str | None
    changes: int
    takedowns: int


def _target_summaries(watched: list[Watched]) -> list[TargetSummary]:
    return [
        TargetSummary(
            target,
            timeline[-1].kind if timeline else None,
            sum(1 for e in timeline if e.kind == "changed"),
            sum(1 for e in timeline if e.kind == "takedown"),
        )
        for target, timeline in watched
    ]


@routes.get("/targets")
async def targets(request: web.Request) -> web.Response:
    watched = await _service(request).target_timelines(principal(request), include_removed=True)
    return _page(request, "targets.html", targets=_target_summaries(watched))


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
    service = _service(request)
    row = await service.target(principal(request), _target_id(request))
    timeline = await service.timeline(row)
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
    target = await service.target(principal(request), _target_id(request), Permission.WATCH)
    state = TARGET_ACTIONS[action]
    await service.set_target_state(target, state)
    if state == "active":
        service.schedule_changed()  # a run missed while paused is made at once
    return see_other(f"/targets/{target.id}")


def _target_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise NotFound(f"no target {request.match_info['id']!r}") from None


# -- search ---------------------------------------------------------------------------------


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    service = _service(request)
    who = principal(request)
    query = request.query.get("q", "").strip()
    problems = await service.index_unindexed(who)
    found = await service.search(who, query) if query else []
    hits = [hit for hit, _ in found]
    rows = {hit.capture_id: row for hit, row in found}
    return _page(
        request,
        "search.html",
        query=query,
        hits=hits,
        rows=rows,
        statuses=STATUSES,
        problems=problems,
    )
