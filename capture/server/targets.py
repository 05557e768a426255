"""The /targets resource: watched URLs, their schedule and their timeline.

The catalog holds every target; the scheduler inside the server reads it, so a
target added here (or with ``osint-capture watch add``) is picked up at once. A person
sees the targets of their cases (and those of no case they started), changes them
only with ``watch``, and is answered 403 naming the permission for anyone else's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from archive.catalog import BadCaseName, CaptureRow, TargetRow, TimelineEvent
from archive.errors import NotFound
from archive.people import Permission
from capture.scheduler import IntervalError, event_dict, parse_interval, target_dict
from capture.server import keys
from capture.server.access import principal
from capture.server.errors import BadRequest
from capture.server.validation import Field, read_json
from capture.service import CaptureService
from capture.urls import validate_url

routes = web.RouteTableDef()

ADD_FIELDS = {
    "url": Field(str, required=True, max_length=8192),
    "every": Field(str, required=True, max_length=20),
    "case": Field(str, max_length=100),
    "note": Field(str, max_length=10_000),
    "operator": Field(str, max_length=200),
    "timeout": Field((int, float)),
    "allow_fast": Field(bool),
}


def _service(request: web.Request) -> CaptureService:
    return request.app[keys.SERVICE]


@routes.get("/api/v1/targets")
async def list_targets(request: web.Request) -> web.Response:
    unknown = set(request.query) - {"all"}
    if unknown:
        raise BadRequest(f"unknown query parameter {sorted(unknown)[0]}; allowed: all")
    everything = _flag(request.query.get("all", "false"), "all")
    watched = await _service(request).target_timelines(
        principal(request), include_removed=everything
    )
    body = [
        _target(target, last_kind=timeline[-1].kind if timeline else None)
        for target, timeline in watched
    ]
    return web.json_response({"targets": body})


@routes.post("/api/v1/targets")
async def add_target(request: web.Request) -> web.Response:
    body = await read_json(request, ADD_FIELDS)
    url = validate_url(body["url"])
    try:
        interval = parse_interval(body["every"], allow_fast=bool(body.get("allow_fast")))
    except IntervalError as exc:  # said with the field it came in
        raise IntervalError(f"field body.every: {exc}") from None
    extra: dict[str, object] = {}
    if "timeout" in body:
        if not 5 <= float(body["timeout"]) <= 3600:
            raise BadRequest("field body.timeout must be between 5 and 3600 seconds")
        extra["timeout"] = float(body["timeout"])
    service = _service(request)
    try:
        target = await service.add_target(
            principal(request),
            url,
            interval_seconds=interval,
            case=body.get("case"),
            operator=body.get("operator"),
            note=body.get("note"),
            request=extra,
        )
    except BadCaseName as exc:  # said with the field it came in
        raise BadCaseName(f"field body.case: {exc}") from None
    service.schedule_changed()
    location = f"/api/v1/targets/{target.id}"
    return web.json_response(_target(target), status=201, headers={"Location": location})


@routes.get("/api/v1/targets/{id}")
async def get_target(request: web.Request) -> web.Response:
    service = _service(request)
    who = principal(request)
    target = await service.target(who, _target_id(request))
    timeline = await service.timeline(target)
    captures = await service.captures(who, target_id=target.id)
    body = _target(target, last_kind=timeline[-1].kind if timeline else None)
    body["timeline"] = [_event(event) for event in timeline]
    body["captures"] = [_capture(row) for row in captures]
    return web.json_response(body)


@routes.post("/api/v1/targets/{id}/pause")
async def pause_target(request: web.Request) -> web.Response:
    return await _change_state(request, "paused")


@routes.post("/api/v1/targets/{id}/resume")
async def resume_target(request: web.Request) -> web.Response:
    return await _change_state(request, "active")


@routes.delete("/api/v1/targets/{id}")
async def remove_target(request: web.Request) -> web.Response:
    return await _change_state(request, "removed")


async def _change_state(request: web.Request, state: str) -> web.Response:
    """Pause, resume or remove; a resumed target whose run was missed runs once, now."""
    service = _service(request)
    target = await service.target(principal(request), _target_id(request), Permission.WATCH)
    changed = await service.set_target_state(target, state)
    if state == "active":
        service.schedule_changed()
    return web.json_response(_target(changed))


def _target_id(request: web.Request) -> int:
    text = request.match_info["id"]
    try:
        return int(text)
    except ValueError:
        raise NotFound(f"no target {text!r}: target ids are numbers") from None


def _flag(value: str, name: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise BadRequest(f"query parameter {name} must be true or false, not {value!r}")


def _target(target: TargetRow, *, last_kind: str | None = None) -> dict[str, Any]:
    return {
        **target_dict(target),
        "last_kind": last_kind,
        "href": f"/api/v1/targets/{target.id}",
    }


def _event(event: TimelineEvent) -> dict[str, Any]:
    body = event_dict(event)
    body["capture_href"] = f"/api/v1/captures/{event.capture_id}" if event.capture_id else None
    return body


def _capture(row: CaptureRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "manifest_sha256": row.manifest_sha256,
        "href": f"/api/v1/captures/{row.id}",
    }
