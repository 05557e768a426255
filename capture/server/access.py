"""Who is asking, and may they: the server's one place for authentication and the
route rules (issue 15, docs/access.md).

Every request passes :func:`access_middleware` before any handler. It finds the
route's rule (:mod:`capture.server.rules`); a public route is served as it is.
Otherwise the person is found: on the API from ``Authorization: Bearer TOKEN`` (a
device token, bound to the extension whose ``Origin`` first presents it) or the
dashboard's session cookie; on a page from the session cookie only (browsers send
cookies, not tokens). Nobody found is a 401 on the API and the login form on a
page. Then the rule is applied: a permission the person's role lacks is a 403
naming it (as JSON on the API, as the error page on a page). Handlers read the
person with :func:`principal` and check case membership themselves
(:meth:`archive.people.Principal.require_case`), since only they know the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from archive.errors import OsintCaptureError, Unauthenticated
from archive.people import Adoption, Permission, Principal
from capture.accounts import Accounts
from capture.server import keys
from capture.server.errors import Handler, error_headers, log_error
from capture.server.once import OnceLinks
from capture.server.rules import Open, Rule, rule_for
from capture.server.security import is_extension_origin
from capture.server.sessions import (
    check_same_origin,
    error_page,
    leave_replay_host,
    login_redirect,
    session_cookie,
)
from capture.server.throttle import LoginThrottle

#: Where the middleware leaves the person acting on a request.
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
_NO_TOKEN = (
    "missing token: send 'Authorization: Bearer TOKEN' (print this computer's with"
    " `osint-capture token`; an admin makes others with `osint-capture token create`)"
)
_SESSION_ENDED = (
    "your dashboard session has ended (logged out, unused for 12 hours, or the account"
    " was disabled or its password reset): log in again"
)

routes = web.RouteTableDef()


@dataclass(frozen=True)
class FirstStart:
    """What the first start of a fresh archive made: its owner, and a one-time login
    link's key for them (``serve`` prints both)."""

    adoption: Adoption
    link_key: str


@dataclass
class AccessState:
    """What the access middleware and the login pages share over the app's life."""

    accounts: Accounts
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    once: OnceLinks = field(default_factory=OnceLinks)
    first_start: FirstStart | None = None


def first_start(app: web.Application) -> FirstStart | None:
    """What this app's start made, if it was the archive's first (after the start)."""
    return app[keys.ACCESS].first_start


def principal(request: web.Request) -> Principal:
    """The person making ``request`` (set by the access middleware before any handler)."""
    found = request.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise RuntimeError(f"no principal on {request.method} {request.path}: route not checked")
    return found


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    api = request.path.startswith("/api/")
    if not api:
        leave_replay_host(request)
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS" and is_extension_origin(origin):
        return await _preflight(request, origin)
    rule = rule_for(request)
    if rule in (Open.PUBLIC, Open.KEY):
        return await handler(request)
    if api:
        who = await _api_principal(request)
        request[PRINCIPAL_KEY] = who
        _apply(who, rule)
        return await handler(request)
    cookie = session_cookie(request)
    found = await _accounts(request).session_principal(cookie) if cookie else None
    if found is None:
        raise login_redirect(request)
    check_same_origin(request)
    request[PRINCIPAL_KEY] = found
    return await _page(request, handler, found, rule)


def _accounts(request: web.Request) -> Accounts:
    return request.app[keys.ACCESS].accounts


def _apply(who: Principal, rule: Rule) -> None:
    """The role's half of the check (a :class:`archive.errors.Denied` naming it)."""
    if isinstance(rule, Permission):
        who.require(rule)


async def _preflight(request: web.Request, origin: str) -> web.Response:
    """An extension's ``OPTIONS``: a CORS preflight (no token: nothing to check), or the
    extension's own check that its token is accepted here, which binds the token to
    it if it is the first extension to present it."""
    header = request.headers.get("Authorization", "")
    if header:
        await _token_principal(request, header, origin)
    return web.Response(status=204)


async def _api_principal(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    if header:
        return await _token_principal(request, header, request.headers.get("Origin", ""))
    cookie = session_cookie(request)
    if cookie is None:
        raise Unauthenticated(_NO_TOKEN)
    found = await _accounts(request).session_principal(cookie)
    if found is None:
        raise Unauthenticated(_SESSION_ENDED)
    check_same_origin(request)  # the dashboard's own calls, with its session cookie
    return found


async def _token_principal(request: web.Request, header: str, origin: str) -> Principal:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthenticated(_NO_TOKEN)
    bind = origin if is_extension_origin(origin) else None
    return await _accounts(request).token_principal(presented, origin=bind)


async def _page(
    request: web.Request, handler: Handler, who: Principal, rule: Rule
) -> web.StreamResponse:
    """A dashboard page: its errors, refusals included, are pages a person reads."""
    try:
        _apply(who, rule)
        return await handler(request)
    except OsintCaptureError as exc:
        log_error(request, exc)
        page = error_page(request, exc.http_status, exc.error, str(exc))
        page.headers.update(error_headers(exc))
        return page
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = "no such page" if exc.status == 404 else exc.reason
        return error_page(request, exc.status, exc.reason.lower(), detail)


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    """Who the token or session is: the extension shows whom it is paired as."""
    who = principal(request)
    return web.json_response(
        {"user": who.user, "role": who.role.value, "device": who.device, "cases": sorted(who.cases)}
    )
