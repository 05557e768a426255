"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from archive import __version__
from capture.requests import DEFAULT_TIMEOUT
from capture.server import (
    alerts,
    analyses,
    captures,
    cases,
    dashboard,
    dashboard_analysis,
    keys,
    login,
    replay,
    targets,
)
from capture.server.errors import error_middleware
from capture.server.openapi import document
from capture.server.security import (
    Pairing,
    auth_middleware,
    host_middleware,
    origin_middleware,
)
from capture.server.sessions import SESSIONS, Sessions
from capture.service import CaptureService

#: Largest request body: an as-seen screenshot and DOM of a long page fit well under it.
MAX_BODY = 64 * 1024 * 1024

routes = web.RouteTableDef()
STATIC_DIR = Path(__file__).with_name("static")


@dataclass(frozen=True)
class ServerSettings:
    token: str
    hosts: frozenset[str]
    max_body: int = MAX_BODY
    capture_timeout: float = DEFAULT_TIMEOUT


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    service: CaptureService = request.app[keys.SERVICE]
    return web.json_response({"status": "ok", "version": __version__, **service.health()})


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


def make_app(service: CaptureService, settings: ServerSettings) -> web.Application:
    """The API over ``service``; starting and stopping the app starts and stops it."""
    app = web.Application(
        middlewares=[error_middleware, host_middleware, origin_middleware, auth_middleware],
        client_max_size=settings.max_body,
    )
    app[keys.SERVICE] = service
    app[keys.SETTINGS] = settings
    app[keys.PAIRING] = Pairing(service.pairing_path)
    app.add_routes(routes)
    app.add_routes(captures.routes)
    app.add_routes(analyses.routes)
    app.add_routes(cases.routes)
    app.add_routes(targets.routes)
    app.add_routes(alerts.routes)
    # The dashboard: pages at /, its files at /static/, replay at /replay/.
    app[SESSIONS] = Sessions()
    app.add_routes(login.routes)
    app.add_routes(dashboard.routes)
    app.add_routes(dashboard_analysis.routes)
    replay.setup(app)
    app.router.add_static("/static/", STATIC_DIR)

    async def start_service(app: web.Application) -> None:
        await service.start()

    async def stop_service(app: web.Application) -> None:
        await service.stop()

    app.on_startup.append(start_service)
    app.on_cleanup.append(stop_service)
    return app
