"""The /cases resource."""

from __future__ import annotations

from aiohttp import web

from archive.catalog import BadCaseName
from capture.server import keys
from capture.server.validation import Field, read_json

routes = web.RouteTableDef()


@routes.get("/api/v1/cases")
async def list_cases(request: web.Request) -> web.Response:
    cases = await request.app[keys.SERVICE].cases()
    return web.json_response(
        {"cases": [{"name": c.name, "created_at": c.created_at} for c in cases]}
    )


@routes.post("/api/v1/cases")
async def create_case(request: web.Request) -> web.Response:
    body = await read_json(request, {"name": Field(str, required=True)})
    try:
        case = await request.app[keys.SERVICE].ensure_case(body["name"])
    except BadCaseName as exc:  # said with the field it came in
        raise BadCaseName(f"field body.name: {exc}") from None
    return web.json_response({"name": case.name, "created_at": case.created_at}, status=201)
