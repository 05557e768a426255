"""/alerts: what changed on watched targets since the investigator last looked.

An alert is a timeline event of kind changed, takedown or restored
(``archive.catalog.ALERT_KINDS``). The extension keeps the id of the last alert
its user marked as seen and asks for those after it; the number it gets back is
its badge. Nothing is marked on the server: two browsers paired one after the
other each keep their own place.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from archive.catalog import Catalog, TimelineEvent
from capture.server import keys
from capture.server.errors import BadRequest

routes = web.RouteTableDef()


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    after = _after(request.query)
    catalog: Catalog = request.app[keys.SERVICE].catalog
    body = await asyncio.to_thread(alerts_body, catalog, after)
    return web.json_response(body)


def alerts_body(catalog: Catalog, after: int) -> dict[str, Any]:
    """Alerts after event ``after``, oldest first, each with its target's URL."""
    events = catalog.alerts(after=after)
    urls: dict[int, str | None] = {}
    for event in events:
        if event.target_id not in urls:
            target = catalog.get_target(event.target_id)
            urls[event.target_id] = target.url if target is not None else None
    return {
        "alerts": [_alert(event, urls[event.target_id]) for event in events],
        "count": len(events),
        "latest": events[-1].id if events else None,
    }


def _after(query: Any) -> int:
    unknown = set(query) - {"after"}
    if unknown:
        raise BadRequest(f"unknown query parameter {sorted(unknown)[0]}; allowed: after")
    text = query.get("after", "0")
    try:
        after = int(text)
    except ValueError:
        after = -1
    if after < 0:
        raise BadRequest(
            f"query parameter after must be an alert id (a whole number, 0 for all), not {text!r}"
        )
    return after


def _alert(event: TimelineEvent, url: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "target_id": event.target_id,
        "url": url,
        "kind": event.kind,
        "summary": event.summary,
        "capture_id": event.capture_id,
        "created_at": event.created_at,
    }
