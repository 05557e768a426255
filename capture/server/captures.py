"""The /captures resource: submit, list, inspect, follow, download.

Every handler acts for the person making the request (:func:`capture.server.access.
principal`): a capture goes into a case they may capture in, a listing shows what
their cases let them see, and a capture of a case they do not belong to answers 403
naming the missing permission (``read-evidence``), as every denial does; 404 is kept
for ids that name no capture at all.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from archive.catalog import BadCaseName, BadFilter, CaptureRow
from archive.errors import NotFound
from capture.progress_events import CaptureDone, CaptureFailedEvent, Event
from capture.requests import AsSeenUpload, CaptureRequest
from capture.server import keys
from capture.server.access import principal
from capture.server.analyses import analysis_options
from capture.server.auditing import record_access
from capture.server.errors import BadRequest
from capture.server.validation import Field, check_object, read_json
from capture.service import CaptureService

routes = web.RouteTableDef()

SUBMIT_FIELDS = {
    "url": Field(str, required=True, max_length=8192),
    "case": Field(str, max_length=100),
    "note": Field(str, max_length=10_000),
    "operator": Field(str, max_length=200),
    "timeout": Field((int, float)),
    "as_seen": Field(dict),
    "analysis": Field(dict),
}
AS_SEEN_FIELDS = {
    "screenshot": Field(str),
    "dom": Field(str),
    "url": Field(str, max_length=8192),
    "title": Field(str, max_length=10_000),
    "user_agent": Field(str, max_length=2000),
    "viewport": Field(dict),
    "captured_at": Field(str, max_length=100),
    "cookies": Field(list),
}
COOKIE_FIELDS = {
    "name": Field(str, required=True),
    "value": Field(str, required=True),
    "domain": Field(str, required=True),
    "path": Field(str),
    "secure": Field(bool),
    "httpOnly": Field(bool),
    "sameSite": Field(str),
    "expirationDate": Field((int, float)),
    # chrome.cookies also reports these; accepted and ignored.
    "hostOnly": Field(bool),
    "session": Field(bool),
    "storeId": Field(str),
    "partitionKey": Field(dict),
}
PNG_DATA_URL = "data:image/png;base64,"


def _service(request: web.Request) -> CaptureService:
    return request.app[keys.SERVICE]


@routes.post("/api/v1/captures")
async def submit(request: web.Request) -> web.Response:
    body = await read_json(request, SUBMIT_FIELDS)
    timeout = body.get("timeout", request.app[keys.SETTINGS].capture_timeout)
    if not 5 <= float(timeout) <= 3600:
        raise BadRequest("field body.timeout must be between 5 and 3600 seconds")
    asked = CaptureRequest(
        url=body["url"],
        case=body.get("case"),
        note=body.get("note"),
        operator=body.get("operator"),
        timeout=float(timeout),
        analysis=analysis_options(
            body.get("analysis"), "body.analysis", defaults=_service(request).analysis_defaults
        ),
    )
    who = principal(request)
    try:
        row, created = await _service(request).submit(who, asked, _as_seen(body.get("as_seen")))
    except BadCaseName as exc:  # said with the field it came in
        raise BadCaseName(f"field body.case: {exc}") from None
    location = f"/api/v1/captures/{row.id}"
    payload = {"id": row.id, "status": row.status, "url": row.url, "created": created}
    return web.json_response(payload, status=202, headers={"Location": location})


def _as_seen(data: dict[str, Any] | None) -> AsSeenUpload | None:
    """The ``as_seen`` object's uploads, checked; staged by the service before queueing."""
    if data is None:
        return None
    data = check_object(data, AS_SEEN_FIELDS, "body.as_seen")
    screenshot = None
    if data.get("screenshot") is not None:
        text = data["screenshot"]
        if not text.startswith(PNG_DATA_URL):
            raise BadRequest("field body.as_seen.screenshot must be a data:image/png;base64 URL")
        try:
            screenshot = base64.b64decode(text[len(PNG_DATA_URL) :], validate=True)
        except ValueError:  # binascii.Error, or a character that is not ASCII at all
            raise BadRequest("field body.as_seen.screenshot is not valid base64") from None
        if not screenshot.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BadRequest("field body.as_seen.screenshot is not a PNG image")
    cookies = None
    if data.get("cookies"):
        cookies = [
            check_object(c, COOKIE_FIELDS, f"body.as_seen.cookies[{i}]")
            for i, c in enumerate(data["cookies"])
        ]
    info = {
        k: data[k] for k in ("url", "title", "user_agent", "viewport", "captured_at") if k in data
    }
    return AsSeenUpload(
        screenshot_png=screenshot, dom_html=data.get("dom"), info=info, cookies=cookies
    )


@routes.get("/api/v1/captures")
async def list_captures(request: web.Request) -> web.Response:
    query = request.query
    unknown = set(query) - {"case", "status", "url"}
    if unknown:
        raise BadRequest(
            f"unknown query parameter {sorted(unknown)[0]}; allowed: case, status, url"
        )
    try:
        rows = await _service(request).captures(
            principal(request),
            case=query.get("case"),
            status=query.get("status"),
            url=query.get("url"),
        )
    except BadFilter as exc:
        raise BadFilter(f"query parameter status: {exc}") from None
    return web.json_response({"captures": [_summary(row) for row in rows]})


@routes.get("/api/v1/captures/{id}")
async def get_capture(request: web.Request) -> web.Response:
    service = _service(request)
    row = await service.capture(principal(request), request.match_info["id"])
    body = _summary(row)
    body["stage"] = (
        (service.live_state(row.id) or {}).get("stage")
        if row.status
        in (
            "queued",
            "running",
        )
        else row.status
    )
    body["progress"] = service.live_state(row.id) or {}
    body["manifest"] = await service.manifest(row)
    body["files"] = [
        {
            "name": a.path,
            "kind": a.kind,
            "sha256": a.sha256,
            "size": a.size,
            "href": f"/api/v1/captures/{row.id}/files/{a.path}",
        }
        for a in await service.artifacts(row)
    ]
    return web.json_response(body)


@routes.get("/api/v1/captures/{id}/events")
async def capture_events(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    row = await service.capture(principal(request), request.match_info["id"])
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    if not service.events.known(row.id) and row.status in FINISHED:
        # Finished before this server started: the catalog has the outcome (no analysis
        # run named: the capture's runs are listed at .../analyses).
        await response.write(_ending(row).server_sent(0))
        return response
    who = principal(request)

    async def ended() -> Event | None:
        """The outcome from the catalog, if the capture ended unheard (a lost relay)."""
        now = await service.capture(who, row.id)
        return _ending(now) if now.status in FINISHED else None

    try:
        async for published in service.events.follow(row.id, ended=ended):
            await response.write(published.event.server_sent(published.seq))
    except ConnectionResetError:
        pass  # the follower went away; the capture goes on
    return response


FINISHED = ("complete", "partial", "failed")


def _ending(row: CaptureRow) -> Event:
    """A finished capture's terminal event, as the catalog has it."""
    reasons = tuple(row.reasons)
    if row.status == "failed":
        return CaptureFailedEvent(reasons)
    return CaptureDone(row.status, reasons, row.manifest_sha256, analysis=None)


@routes.get("/api/v1/captures/{id}/files/{name}")
async def download(request: web.Request) -> web.FileResponse:
    service = _service(request)
    row = await service.capture(principal(request), request.match_info["id"])
    name = request.match_info["name"]
    sealed = {a.path: a for a in await service.artifacts(row)}
    if name not in sealed:
        raise NotFound(f"capture {row.id} has no sealed file {name!r}")
    path = service.sealed_path(row, name)
    served = sealed[name]
    details = {"file": name, "sha256": served.sha256, "size": served.size}
    await record_access(request, "downloaded", capture_ids=[row.id], details=details)
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": sealed[name].sha256,
        },
    )


def _summary(row: CaptureRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "final_url": row.final_url,
        "case": row.case,
        "note": row.note,
        "operator": row.operator,
        "collector": row.collector,
        "device": row.device,
        "status": row.status,
        "reasons": row.reasons,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "manifest_sha256": row.manifest_sha256,
        "href": f"/api/v1/captures/{row.id}",
    }
