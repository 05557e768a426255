"""/captures/{id}/analyses: read a sealed capture (OCR, transcripts), follow it, see its drafts.

Each run is sealed as an addendum beside the capture (never changing it) and is a
machine draft: the responses say so. A run's readings (text, boxes, segment times)
come from its sealed results file, checked against the hash the catalog recorded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from archive.catalog import AnalysisRow, CaptureRow
from archive.errors import NotFound, Tampered
from archive.evidence.addendum import results_name
from capture.analysis.options import AnalysisOptions, AnalysisOptionsError
from capture.analysis.runs import analysis_dict, require_installed
from capture.analysis.worker import stream_id
from capture.progress_events import RunEnded
from capture.server import keys
from capture.server.access import principal
from capture.server.errors import BadRequest
from capture.server.validation import Field, check_object, read_json
from capture.service import CaptureService

routes = web.RouteTableDef()

ANALYSIS_FIELDS = {
    "ocr": Field(bool),
    "transcribe": Field(bool),
    "translate": Field(bool),
    "languages": Field(str, max_length=100),
    "language": Field(str, max_length=10),
}
REQUEST_FIELDS = {**ANALYSIS_FIELDS, "operator": Field(str, max_length=200)}


def analysis_options(
    data: dict[str, Any] | None, where: str, *, defaults: AnalysisOptions | None = None
) -> AnalysisOptions | None:
    """A request's ``analysis`` object as options (``None`` when absent), strictly checked.

    Fields it gives replace the server's ``defaults`` one by one: ``{"languages": "ara"}``
    keeps the server's steps and changes only the languages.
    """
    if data is None:
        return None
    data = check_object(data, ANALYSIS_FIELDS, where)
    merged = defaults.to_request() if defaults is not None else {}
    merged.update({k: v for k, v in data.items() if v is not None})
    try:
        options = AnalysisOptions.from_request(merged)
        require_installed(options)
    except AnalysisOptionsError as exc:  # said with where in the request it is
        raise AnalysisOptionsError(f"{where}: {exc}") from None
    return options


@routes.post("/api/v1/captures/{id}/analyses")
async def queue(request: web.Request) -> web.Response:
    service = _service(request)
    who = principal(request)
    row = await _sealed(await service.capture(who, request.match_info["id"]))
    body = await read_json(request, REQUEST_FIELDS)
    operator = body.pop("operator", None)
    if not any(body.get(step) for step in ("ocr", "transcribe", "translate")):
        body["ocr"] = True  # OCR when no step is named, as `osint-capture analyse`
    options = analysis_options(body, "body") or AnalysisOptions()
    run, created = await service.queue_analysis(who, row, options, operator=operator)
    body = {**analysis_dict(run), "created": created, "href": _href(run)}
    return web.json_response(body, status=202, headers={"Location": _href(run)})


@routes.get("/api/v1/captures/{id}/analyses")
async def list_runs(request: web.Request) -> web.Response:
    service = _service(request)
    row = await service.capture(principal(request), request.match_info["id"])
    runs = await service.analyses(row)
    return web.json_response(
        {"analyses": [{**analysis_dict(run), "href": _href(run)} for run in runs]}
    )


@routes.get("/api/v1/captures/{id}/analyses/{number}")
async def get_run(request: web.Request) -> web.Response:
    service = _service(request)
    row, run = await _run(service, request)
    body = {**analysis_dict(run), "href": _href(run), "readings": None}
    if run.status == "done":
        body["readings"] = await _readings(service, row, run)
    return web.json_response(body)


@routes.get("/api/v1/captures/{id}/analyses/{number}/events")
async def run_events(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    _, run = await _run(service, request)
    key = stream_id(run.capture_id, run.number)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    if not service.events.known(key) and run.status in ("done", "failed"):
        await response.write(RunEnded.of(run).server_sent(0))
        return response
    try:
        async for published in service.events.follow(key):
            await response.write(published.event.server_sent(published.seq))
    except ConnectionResetError:
        pass
    return response


async def _readings(
    service: CaptureService, row: CaptureRow, run: AnalysisRow
) -> list[dict[str, Any]]:
    """The sealed results file's readings, if it still has the hash it was sealed with."""
    name = results_name(run.number)
    sealed = {a.path: a for a in await service.artifacts(row)}
    if name not in sealed:
        raise NotFound(f"analysis {run.number} of capture {run.capture_id} has no {name}")
    data = await service.sealed_bytes(row, name)
    if hashlib.sha256(data).hexdigest() != sealed[name].sha256:
        raise Tampered(f"{name} of capture {run.capture_id} no longer has its sealed SHA-256")
    return list(json.loads(data)["readings"])


def _service(request: web.Request) -> CaptureService:
    return request.app[keys.SERVICE]


async def _sealed(row: CaptureRow) -> CaptureRow:
    if row.status not in ("complete", "partial"):
        raise BadRequest(f"capture {row.id} is {row.status}: only sealed captures are read")
    return row


async def _run(service: CaptureService, request: web.Request) -> tuple[CaptureRow, AnalysisRow]:
    """The capture (one the person may open) and its analysis run named in the path."""
    row = await service.capture(principal(request), request.match_info["id"])
    text = request.match_info["number"]
    run = await service.analysis(row, int(text)) if text.isdigit() else None
    if run is None:
        raise NotFound(f"capture {row.id} has no analysis {text}")
    return row, run


def _href(run: AnalysisRow) -> str:
    return f"/api/v1/captures/{run.capture_id}/analyses/{run.number}"
