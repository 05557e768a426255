"""The /cases resource: every case's name, and whether the person asking belongs to it.

Names only: a case's evidence is reached through the captures it holds, for its
members. Creating a case makes its creator its first member (a ``case-created``
custody event); naming a case that exists makes no one a member of it.
"""

from __future__ import annotations

from aiohttp import web

from archive.catalog import BadCaseName
from capture.server import keys
from capture.server.access import principal
from capture.server.validation import Field, read_json

routes = web.RouteTableDef()


@routes.get("/api/v1/cases")
async def list_cases(request: web.Request) -> web.Response:
    who = principal(request)
    cases = await request.app[keys.SERVICE].cases(who)
    return web.json_response(
        {
            "cases": [
                {"name": c.name, "created_at": c.created_at, "member": c.name in who.cases}
                for c in cases
            ]
        }
    )


@routes.post("/api/v1/cases")
async def create_case(request: web.Request) -> web.Response:
    body = await read_json(request, {"name": Field(str, required=True)})
    who = principal(request)
    try:
        case, created = await request.app[keys.SERVICE].ensure_case(who, body["name"])
    except BadCaseName as exc:  # said with the field it came in
        raise BadCaseName(f"field body.name: {exc}") from None
    body = {
        "name": case.name,
        "created_at": case.created_at,
        "created": created,
        "member": created or case.name in who.cases,
    }
    return web.json_response(body, status=201)
