"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from archive import __version__
from capture.accounts import Accounts
from capture.requests import DEFAULT_TIMEOUT
from capture.server import (
    access,
    alerts,
    analyses,
    captures,
    cases,
    dashboard,
    dashboard_analysis,
    keys,
    login,
    oidc_login,
    replay,
    targets,
)
from capture.server.access import AccessState, FirstStart, access_middleware
from capture.server.errors import error_middleware
from capture.server.oidc_client import OidcClient, OidcSettings
from capture.server.oidc_login import OidcLogins
from capture.server.openapi import document
from capture.server.rules import check_routes
from capture.server.security import host_middleware, origin_middleware
from capture.service import CaptureService

#: Largest request body: an as-seen screenshot and DOM of a long page fit well under it.
MAX_BODY = 64 * 1024 * 1024

routes = web.RouteTableDef()
STATIC_DIR = Path(__file__).with_name("static")


@dataclass(frozen=True)
class ServerSettings:
    hosts: frozenset[str]
    max_body: int = MAX_BODY
    capture_timeout: float = DEFAULT_TIMEOUT
    #: The organisation's OpenID Connect provider, if the dashboard logs in through it.
    oidc: OidcSettings | None = None


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    service: CaptureService = request.app[keys.SERVICE]
    return web.json_response({"status": "ok", "version": __version__, **service.health()})


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


def make_app(service: CaptureService, settings: ServerSettings) -> web.Application:
    """The API over ``service``; starting and stopping the app starts and stops it.

    Refused (:class:`capture.server.rules.UnruledRoute`) if a route has no access rule.
    """
    app = web.Application(
        middlewares=[error_middleware, host_middleware, origin_middleware, access_middleware],
        client_max_size=settings.max_body,
    )
    app[keys.SERVICE] = service
    app[keys.SETTINGS] = settings
    app[keys.ACCESS] = AccessState(Accounts(service))
    app[keys.OIDC] = OidcLogins(OidcClient(settings.oidc)) if settings.oidc else None
    app.add_routes(routes)
    app.add_routes(access.routes)
    app.add_routes(captures.routes)
    app.add_routes(analyses.routes)
    app.add_routes(cases.routes)
    app.add_routes(targets.routes)
    app.add_routes(alerts.routes)
    # The dashboard: pages at /, its files at /static/, replay at /replay/.
    app.add_routes(login.routes)
    app.add_routes(oidc_login.routes)
    app.add_routes(dashboard.routes)
    app.add_routes(dashboard_analysis.routes)
    replay.setup(app)
    app.router.add_static("/static/", STATIC_DIR)
    check_routes(app.router)

    async def start_service(app: web.Application) -> None:
        await service.start()
        await _first_start(app[keys.ACCESS])

    async def stop_service(app: web.Application) -> None:
        await service.stop()

    app.on_startup.append(start_service)
    app.on_cleanup.append(stop_service)
    return app


async def _first_start(state: AccessState) -> None:
    """A fresh archive's first start makes its owner (an admin holding
    ``DATA/api-token``) and a one-time login link for them."""
    adoption = await state.accounts.ensure_owner()
    if adoption is not None:
        state.first_start = FirstStart(adoption, state.once.issue(adoption.owner.name))
