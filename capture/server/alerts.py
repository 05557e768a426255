"""/alerts: what changed on watched targets since the investigator last looked.

An alert is a timeline event of kind changed, takedown or restored
(``archive.catalog.ALERT_KINDS``). The extension keeps the id of the last alert
its user marked as seen and asks for those after it; the number it gets back is
its badge. Nothing is marked on the server: two browsers paired one after the
other each keep their own place. A person is told only of the targets of their
cases (and of those of no case they started): the badge counts nothing else.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from archive.catalog import TimelineEvent
from capture.server import keys
from capture.server.access import principal
from capture.server.errors import BadRequest

routes = web.RouteTableDef()


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    after = _after(request.query)
    alerts = await request.app[keys.SERVICE].alerts(principal(request), after)
    return web.json_response(
        {
            "alerts": [_alert(event, url) for event, url in alerts],
            "count": len(alerts),
            "latest": alerts[-1][0].id if alerts else None,
        }
    )


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
