"""Logging in to the dashboard, and out again.

Three ways in, each ending in a session cookie (:mod:`capture.server.sessions`):

- a user name and password, and the code of their authenticator app when they set
  up a second factor (the session then counts as having passed it);
- a device token pasted into the form: the laptop's way, where the owner has the
  token ``osint-capture token`` prints and no password;
- once, the link the first start printed (:mod:`capture.server.once`).

Each client address may try :data:`capture.server.throttle.ATTEMPTS` times a minute
(then 429 with ``Retry-After``); wrong passwords lock the account
(:class:`archive.people.Directory`). Every refusal of a name and password reads the
same, whatever was wrong.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from archive.errors import Unauthenticated
from archive.people import DASHBOARD, LOCKOUT_AFTER, LOCKOUT_SECONDS, Principal
from capture.server import keys
from capture.server.once import LIFETIME
from capture.server.pages import render
from capture.server.sessions import check_same_origin, clear_cookie, session_cookie, set_cookie

routes = web.RouteTableDef()

_WRONG_PASSWORD = (
    "Wrong user name or password, or a wrong or missing code. After"
    f" {LOCKOUT_AFTER} wrong tries in a row the account is locked for"
    f" {LOCKOUT_SECONDS // 60} minutes."
)
_SPENT_LINK = (
    f"This login link was used already or is older than {LIFETIME // 60} minutes. Log in"
    " with this computer's token: print it with `osint-capture token`."
)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def safe_next(value: str | None) -> str:
    """Only a path on this server: a login link must not send anyone elsewhere."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def login_page(
    request: web.Request, next_page: str, *, status: int = 200, **extra: Any
) -> web.Response:
    """The login form (with an error, a status): every way in shows this page."""
    context: dict[str, Any] = {"error": None, "name": "", **extra}
    context["oidc"] = request.app.get(keys.OIDC) is not None
    return render(
        request, "login.html", status=status, next_page=next_page, logged_in=False, **context
    )


def throttled(request: web.Request, next_page: str) -> web.Response | None:
    """The 429 page when this client address has had its tries this minute."""
    wait = request.app[keys.ACCESS].throttle.wait(request.remote or "")
    if wait is None:
        return None
    response = login_page(
        request,
        next_page,
        status=429,
        error=f"Too many logins from this address: try again in {wait} seconds.",
    )
    response.headers["Retry-After"] = str(wait)
    return response


async def _signed_in(request: web.Request) -> bool:
    cookie = session_cookie(request)
    if cookie is None:
        return False
    return await request.app[keys.ACCESS].accounts.session_principal(cookie) is not None


async def logged_in(request: web.Request, who: Principal, next_page: str) -> web.Response:
    response = see_other(next_page)
    set_cookie(response, await request.app[keys.ACCESS].accounts.open_session(who))
    return response


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    next_page = safe_next(request.query.get("next"))
    if await _signed_in(request):
        raise web.HTTPSeeOther(next_page)
    return login_page(request, next_page)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    # No session yet, so the middleware did not look: a login form posted from another
    # site would log the browser into this server, so the origin is checked here.
    check_same_origin(request)
    form = await request.post()
    next_page = safe_next(str(form.get("next") or "/"))
    refused = throttled(request, next_page)
    if refused is not None:
        return refused
    accounts = request.app[keys.ACCESS].accounts
    token = str(form.get("token") or "").strip()
    name = str(form.get("name") or "").strip()
    try:
        if token:
            who = await accounts.token_principal(token, origin=None)
        else:
            password, code = str(form.get("password") or ""), str(form.get("code") or "")
            if not name or not password:
                raise Unauthenticated("a user name and password, or a token")
            who = await accounts.password_principal(name, password, code)
    except Unauthenticated as exc:
        error = f"Wrong token: {exc}." if token else _WRONG_PASSWORD
        return login_page(request, next_page, status=401, error=error, name=name)
    return await logged_in(request, who, next_page)


@routes.get("/login/once")
async def login_once(request: web.Request) -> web.StreamResponse:
    """The first start's one-time link: a session as the owner, once."""
    refused = throttled(request, "/")
    if refused is not None:
        return refused
    state = request.app[keys.ACCESS]
    user = state.once.redeem(request.query.get("key", ""))
    if user is None:
        return login_page(request, "/", status=401, error=_SPENT_LINK)
    try:
        who = await state.accounts.principal(user, DASHBOARD)
    except Unauthenticated:
        return login_page(request, "/", status=401, error=_SPENT_LINK)
    return await logged_in(request, who, "/")


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    cookie = session_cookie(request)
    if cookie is not None:
        await request.app[keys.ACCESS].accounts.close_session(cookie)
    response = see_other("/login")
    clear_cookie(response)
    return response
