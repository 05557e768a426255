"""The route rules: what each route of the server needs of the person asking.

One table, written out route by route, so a reader sees what every API call and
dashboard page asks for; docs/access.md prints it (a test holds the two equal), and
the application refuses to start with a route the table does not name
(:func:`check_routes`), so a new route cannot go unchecked by being forgotten here.

A rule is either a :class:`~archive.people.Permission` the person's role must carry
(the access middleware checks it before the handler runs; a 403 names it), or one of
the :class:`Open` markers. The permission is the role's half of the check: which case a
capture, target or search hit belongs to is known only to the handler, which asks
:meth:`~archive.people.Principal.require_case` for the membership half.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from archive.errors import Failed
from archive.people import Permission


class Open(StrEnum):
    """Routes whose rule is not a permission."""

    #: Anyone, signed in or not: the login form, the dashboard's style, ReplayWeb.page's code.
    PUBLIC = "public"
    #: Anyone holding the key the handler checks: a replay's WACZ, fetched by the replay
    #: origin's service worker, which has no session (the key comes from a checked page).
    KEY = "key"
    #: Any signed-in person, whatever their role: the server's health, the API's
    #: description, who one is, logging out.
    SIGNED_IN = "signed-in"


Rule = Permission | Open
P = Permission

#: Every route: (method, the route's canonical path) -> its rule. HEAD follows GET.
RULES: Mapping[tuple[str, str], Rule] = {
    # The server itself.
    ("GET", "/api/v1/health"): Open.SIGNED_IN,
    ("GET", "/api/v1/openapi.json"): Open.SIGNED_IN,
    ("GET", "/api/v1/me"): Open.SIGNED_IN,
    # Captures and their files, events and analysis runs.
    ("POST", "/api/v1/captures"): P.CAPTURE,
    ("GET", "/api/v1/captures"): P.READ_EVIDENCE,
    ("GET", "/api/v1/captures/{id}"): P.READ_EVIDENCE,
    ("GET", "/api/v1/captures/{id}/events"): P.READ_EVIDENCE,
    ("GET", "/api/v1/captures/{id}/files/{name}"): P.READ_EVIDENCE,
    ("POST", "/api/v1/captures/{id}/analyses"): P.CAPTURE,
    ("GET", "/api/v1/captures/{id}/analyses"): P.READ_EVIDENCE,
    ("GET", "/api/v1/captures/{id}/analyses/{number}"): P.READ_EVIDENCE,
    ("GET", "/api/v1/captures/{id}/analyses/{number}/events"): P.READ_EVIDENCE,
    # Cases: names for everyone; making one is managing cases.
    ("GET", "/api/v1/cases"): P.LIST_CASES,
    ("POST", "/api/v1/cases"): P.MANAGE_CASES,
    # Watched targets and their alerts.
    ("GET", "/api/v1/targets"): P.READ_EVIDENCE,
    ("POST", "/api/v1/targets"): P.WATCH,
    ("GET", "/api/v1/targets/{id}"): P.READ_EVIDENCE,
    ("POST", "/api/v1/targets/{id}/pause"): P.WATCH,
    ("POST", "/api/v1/targets/{id}/resume"): P.WATCH,
    ("DELETE", "/api/v1/targets/{id}"): P.WATCH,
    ("GET", "/api/v1/alerts"): P.READ_EVIDENCE,
    # Dashboard pages.
    ("GET", "/"): P.LIST_CASES,
    ("GET", "/cases/{name}"): P.READ_EVIDENCE,
    ("GET", "/captures/{id}"): P.READ_EVIDENCE,
    ("POST", "/captures/{id}/export"): P.EXPORT,
    ("POST", "/captures/{id}/analyses"): P.CAPTURE,
    ("GET", "/targets"): P.READ_EVIDENCE,
    ("GET", "/targets/{id}"): P.READ_EVIDENCE,
    ("POST", "/targets/{id}/{action}"): P.WATCH,
    ("GET", "/search"): P.READ_EVIDENCE,
    ("GET", "/replay/{id}"): P.READ_EVIDENCE,
    ("GET", "/replay/app/"): Open.PUBLIC,
    ("GET", "/replay/app/{name}"): Open.PUBLIC,
    ("GET", "/replay/files/{id}.wacz"): Open.KEY,
    # Logging in and out, and the dashboard's own files.
    ("GET", "/login"): Open.PUBLIC,
    ("POST", "/login"): Open.PUBLIC,
    ("GET", "/login/once"): Open.PUBLIC,
    ("GET", "/login/oidc"): Open.PUBLIC,
    ("GET", "/login/oidc/callback"): Open.PUBLIC,
    ("POST", "/logout"): Open.SIGNED_IN,
    ("GET", "/static"): Open.PUBLIC,
}

#: What a request that matched no route needs: a signed-in person, so an unknown path
#: answers 404 (or 405) only to someone who may ask, and 401 to anyone else...
UNMATCHED: Rule = Open.SIGNED_IN
#: ...except under the public folders, where a missing file is a plain 404 for anyone:
#: ReplayWeb.page, on the replay origin (no session), asks the server for paths under
#: /replay/app/ before its service worker answers them, and goes on after a 404.
PUBLIC_PREFIXES = ("/static/", "/replay/app/", "/replay/files/")


class UnruledRoute(Failed):
    """The application has a route the table does not name (a programming error: the
    server refuses to start rather than serve it unchecked)."""


def route_key(route: AbstractRoute) -> tuple[str, str]:
    """The table's key for ``route``: its method (HEAD as GET) and canonical path."""
    method = "GET" if route.method == "HEAD" else route.method
    return method, route.resource.canonical if route.resource is not None else ""


def rule_for(request: web.Request) -> Rule:
    """The rule of the route ``request`` matched (:data:`UNMATCHED` when none did)."""
    route = request.match_info.route
    if request.match_info.http_exception is not None or route.resource is None:
        return Open.PUBLIC if request.path.startswith(PUBLIC_PREFIXES) else UNMATCHED
    rule = RULES.get(route_key(route))
    if rule is None:  # the start-up check makes this unreachable; never serve it unchecked
        raise UnruledRoute(f"no access rule for {' '.join(route_key(route))}")
    return rule


def unruled(routes: Iterable[AbstractRoute]) -> list[str]:
    """The routes of ``routes`` that have no rule, as ``METHOD path``."""
    return sorted({" ".join(route_key(route)) for route in routes} - {" ".join(k) for k in RULES})


def check_routes(router: web.UrlDispatcher) -> None:
    """Refuse an application with a route that has no rule (:class:`UnruledRoute`)."""
    missing = unruled(router.routes())
    if missing:
        raise UnruledRoute(
            f"no access rule for {', '.join(missing)}: add each to RULES in"
            " capture/server/rules.py (and the table in docs/access.md)"
        )
