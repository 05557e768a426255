"""Dashboard sessions: the token typed once into a login form, then a cookie.

A browser cannot add ``Authorization: Bearer`` to links and forms, so the
dashboard logs in with the token and gets a session cookie instead. The cookie
holds a random session id known only to this server process (never the token, so
a leaked cookie dies with the session and never reveals the token); it is
``HttpOnly`` (page scripts cannot read it) and ``SameSite=Strict`` (no other site's
page can make the browser send it). Requests that change state and arrive with the
cookie must also come from the server's own origin (``Origin``, else ``Referer``),
a second line against cross-site requests.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from archive.errors import OsintCaptureError
from capture.server import keys
from capture.server.errors import Forbidden, Handler, error_headers, log_error
from capture.server.pages import render

COOKIE = "osint_capture_session"
#: A session ends after this long without a request (and when the server stops).
IDLE_SECONDS = 12 * 3600
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Paths served without a session: the login form, the dashboard's own style, and
#: ReplayWeb.page's code (public files). Replay packages need their per-capture key,
#: which their handler checks.
PUBLIC_PREFIXES = ("/static/", "/replay/app/", "/replay/files/")
PUBLIC_PATHS = ("/login",)
#: Replayed pages run their own scripts. They run on this host name, a different
#: origin (and cookie jar) from the dashboard's, so a hostile captured page cannot use
#: the investigator's session; on this host only replay files are served.
REPLAY_HOSTNAME = "localhost"
#: Where the dashboard lives when a loopback server is addressed by the replay name.
DASHBOARD_HOSTNAME = "127.0.0.1"
REPLAY_PREFIXES = ("/replay/app/", "/replay/files/")

SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions")


@dataclass
class Sessions:
    """Session ids issued by this process, with when each was last used."""

    idle_seconds: float = IDLE_SECONDS
    _last_used: dict[str, float] = field(default_factory=dict)

    def open(self) -> str:
        session_id = secrets.token_urlsafe(32)
        self._last_used[session_id] = time.monotonic()
        return session_id

    def valid(self, session_id: str | None) -> bool:
        """Is this a live session (and note that it was used)."""
        if not session_id:
            return False
        now = time.monotonic()
        for known, last in list(self._last_used.items()):
            if now - last > self.idle_seconds:
                del self._last_used[known]
        match = next((k for k in self._last_used if hmac.compare_digest(k, session_id)), None)
        if match is None:
            return False
        self._last_used[match] = now
        return True

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._last_used.pop(session_id, None)


def own_origin(request: web.Request) -> str:
    """The origin the browser addressed, as ``Origin`` headers spell it.

    The Host header was checked before this (it names this server), so this is
    the dashboard's origin, whichever loopback name the investigator typed.
    """
    return f"http://{request.headers.get('Host', '').lower()}"


def hostname(request: web.Request) -> str:
    return request.headers.get("Host", "").lower().rsplit(":", 1)[0]


def has_session(request: web.Request) -> bool:
    """A live session cookie, on the dashboard's host (never on the replay host)."""
    if hostname(request) == REPLAY_HOSTNAME:
        return False
    return request.app[SESSIONS].valid(request.cookies.get(COOKIE))


async def dashboard_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who may see a dashboard page or file (everything outside ``/api/``).

    On the replay host only replay files are served; anything else is sent to the
    same path on the dashboard's host. Elsewhere a page needs a session (else the
    login form), and a form that changes something must come from the dashboard.
    """
    if hostname(request) == REPLAY_HOSTNAME and not request.path.startswith(REPLAY_PREFIXES):
        port = request.headers.get("Host", "").rsplit(":", 1)[-1]
        raise web.HTTPSeeOther(f"http://{DASHBOARD_HOSTNAME}:{port}{request.path_qs}")
    if is_public(request.path):
        return await handler(request)
    if not has_session(request):
        raise login_redirect(request)
    check_same_origin(request)
    try:
        return await handler(request)
    except OsintCaptureError as exc:  # a person reads this: a page, not JSON
        log_error(request, exc)
        page = error_page(request, exc.http_status, exc.error, str(exc))
        page.headers.update(error_headers(exc))
        return page
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = "no such page" if exc.status == 404 else exc.reason
        return error_page(request, exc.status, exc.reason.lower(), detail)


def error_page(request: web.Request, status: int, error: str, detail: str) -> web.Response:
    return render(
        request,
        "error.html",
        status=status,
        code=status,
        logged_in=True,
        error=error,
        detail=detail,
    )


def token_matches(request: web.Request, presented: str) -> bool:
    token: str = request.app[keys.SETTINGS].token
    return hmac.compare_digest(presented.strip().encode(), token.encode())


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


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """Where a dashboard page without a session goes: the login form, then back."""
    target = request.path_qs if request.method == "GET" else "/"
    return web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")


def set_cookie(response: web.StreamResponse, session_id: str) -> None:
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="Strict", path="/", max_age=IDLE_SECONDS
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
