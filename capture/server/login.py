"""Logging in to the dashboard with the API token, and out again."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from capture.server.pages import render
from capture.server.sessions import (
    COOKIE,
    SESSIONS,
    check_same_origin,
    clear_cookie,
    has_session,
    set_cookie,
    token_matches,
)

routes = web.RouteTableDef()


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _next_page(value: str | None) -> str:
    """Only a path on this server: a login link must not send anyone elsewhere."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    next_page = _next_page(request.query.get("next"))
    if has_session(request):
        raise web.HTTPSeeOther(next_page)
    return render(request, "login.html", next_page=next_page, error=None, logged_in=False)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    # No session yet, so the gate did not look: a login form posted from another
    # site would log the browser into this server, so the origin is checked here.
    check_same_origin(request)
    form = await request.post()
    next_page = _next_page(str(form.get("next") or "/"))
    presented = str(form.get("token") or "")
    if not presented.strip() or not token_matches(request, presented):
        return render(
            request,
            "login.html",
            status=401,
            next_page=next_page,
            error="Wrong token: that is not the token of this server. "
            "Print it with `osint-capture token`.",
            logged_in=False,
        )
    response = see_other(next_page)
    set_cookie(response, request.app[SESSIONS].open())
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    request.app[SESSIONS].close(request.cookies.get(COOKIE))
    response = see_other("/login")
    clear_cookie(response)
    return response
