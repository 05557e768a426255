"""Who may talk to the server at all: the right Host, and no web page.

The server holds evidence on an investigator's laptop, next to a browser that
visits hostile pages. So: a request with a web ``Origin`` is refused, whatever it
carries (a page must not drive the API even if it guessed a token); an extension
``Origin`` (``chrome-extension://``, ``moz-extension://``) gets CORS headers, its
token being checked, and bound to it on first use, by the access middleware
(:mod:`capture.server.access`); and the ``Host`` header must name the address the
server listens on, which defeats DNS rebinding.

The dashboard, served by the same app, is the one web origin let through: the
server's own.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from capture.server import keys
from capture.server.errors import Forbidden, Handler, MisdirectedRequest
from capture.server.sessions import own_origin

EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """``Host`` header values that address this server."""
    names = set(LOOPBACK_NAMES) if host in ("127.0.0.1", "localhost", "::1") else {host}
    names.update(extra)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts.update(names)
    return frozenset(hosts)


def is_extension_origin(origin: str) -> bool:
    return origin.startswith(EXTENSION_SCHEMES)


def cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    hosts: frozenset[str] = request.app[keys.SETTINGS].hosts
    if request.headers.get("Host", "").lower() not in hosts:
        raise MisdirectedRequest(
            f"Host {request.headers.get('Host', '(none)')!r} is not this server; "
            f"use one of {sorted(hosts)}"
        )
    return await handler(request)


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse web origins; add CORS headers for an extension (its preflights included)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == own_origin(request):
        return await handler(request)  # scripts, and the dashboard's own pages (no CORS)
    if not is_extension_origin(origin):
        raise Forbidden(
            f"requests from web pages ({origin}) are refused; "
            "use the osint-capture extension or the command line"
        )
    response = await handler(request)
    response.headers.update(cors_headers(origin))
    return response
