"""Dashboard sessions: the cookie a login gives a browser, and the rules around it.

A browser cannot add ``Authorization: Bearer`` to links and forms, so the dashboard
logs in once (:mod:`capture.server.login`) and gets a session cookie instead. The
cookie holds a random session id that the catalog keeps only as its SHA-256
(:meth:`archive.people.Directory.open_session`), so a restart logs nobody out and a
copy of the catalog opens no session. It is ``HttpOnly`` (page scripts cannot read
it) and ``SameSite=Strict`` (no other site's page can make the browser send it).
Requests that change state and arrive with the cookie must also come from the
server's own origin (``Origin``, else ``Referer``), a second line against cross-site
requests.

Replayed pages run their own scripts. They run on another host name
(:data:`REPLAY_HOSTNAME`), a different origin and cookie jar from the dashboard's,
so a hostile captured page cannot use the investigator's session; on that host only
replay files are served, and no cookie is read.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from archive.people.directory import SESSION_IDLE_SECONDS
from capture.server.errors import Forbidden
from capture.server.pages import render

COOKIE = "osint_capture_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Replayed pages run here (see the module doc); the dashboard on the other name.
REPLAY_HOSTNAME = "localhost"
#: Where the dashboard lives when a loopback server is addressed by the replay name.
DASHBOARD_HOSTNAME = "127.0.0.1"
REPLAY_PREFIXES = ("/replay/app/", "/replay/files/")


def own_origin(request: web.Request) -> str:
    """The origin the browser addressed, as ``Origin`` headers spell it.

    The Host header was checked before this (it names this server), so this is
    the dashboard's origin, whichever loopback name the investigator typed.
    """
    return f"http://{request.headers.get('Host', '').lower()}"


def hostname(request: web.Request) -> str:
    return request.headers.get("Host", "").lower().rsplit(":", 1)[0]


def session_cookie(request: web.Request) -> str | None:
    """The session id the browser sent, on the dashboard's host only (never on the
    replay host, whose pages are captured, possibly hostile, scripts)."""
    if hostname(request) == REPLAY_HOSTNAME:
        return None
    return request.cookies.get(COOKIE) or None


def leave_replay_host(request: web.Request) -> None:
    """On the replay host only replay files are served: anything else is sent to the
    same path on the dashboard's host."""
    if hostname(request) == REPLAY_HOSTNAME and not request.path.startswith(REPLAY_PREFIXES):
        port = request.headers.get("Host", "").rsplit(":", 1)[-1]
        raise web.HTTPSeeOther(f"http://{DASHBOARD_HOSTNAME}:{port}{request.path_qs}")


def check_same_origin(request: web.Request) -> None:
    """A cookie-authenticated request that changes state must come from the dashboard."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    mine = own_origin(request)
    if origin is not None:
        if origin != mine:
            raise Forbidden(f"a request from {origin} may not act with a dashboard session")
        return
    referer = request.headers.get("Referer", "")
    if not (referer == mine or referer.startswith(mine + "/")):
        raise Forbidden(
            "a request that changes something must come from the dashboard's own pages "
            "(no Origin or Referer of this server)"
        )


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """Where a dashboard page without a session goes: the login form, then back."""
    target = request.path_qs if request.method == "GET" else "/"
    return web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")


def error_page(request: web.Request, status: int, error: str, detail: str) -> web.Response:
    """An error a person reads: the dashboard's page, not JSON."""
    return render(
        request,
        "error.html",
        status=status,
        code=status,
        logged_in=True,
        error=error,
        detail=detail,
    )


def set_cookie(response: web.StreamResponse, session_id: str) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=SESSION_IDLE_SECONDS,
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
