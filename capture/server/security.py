"""Who may talk to the server: the token, the paired extension, the right Host.

The server holds evidence on an investigator's laptop, next to a browser that
visits hostile pages. So: every API call carries the bearer token; a request with
a web ``Origin`` is refused (a page must not drive the API even if it guessed the
token); an extension ``Origin`` must be the paired one (the first extension that
presents the token is paired, and stays so until ``osint-capture token
--reset-pairing``); and the ``Host`` header must name the address the server
listens on, which defeats DNS rebinding.

The dashboard, served by the same app, is the one web origin let through: the
server's own. Its pages and files take a session cookie instead of the token
(:mod:`capture.server.sessions`), which the API accepts as well.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web

from capture.server import keys
from capture.server.errors import Forbidden, Handler, MisdirectedRequest, Unauthorized
from capture.server.sessions import check_same_origin, dashboard_gate, has_session, own_origin

EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def load_or_create_token(path: Path) -> str:
    """The API token kept at ``path`` (``DATA/api-token``), made on first use, readable
    by its owner only.

    The new token is written to a private temporary file and linked into place, so
    a server starting and ``osint-capture token`` running at the same moment agree.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # someone else made it first: theirs is the token
        finally:
            tmp.unlink()
    token = path.read_text().strip()
    if len(token) < 32:
        raise RuntimeError(f"{path} does not hold a valid token; delete it to make a new one")
    return token


class Pairing:
    """The extension origins allowed to call the API, kept in ``DATA/paired-extensions.json``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def origins(self) -> list[str]:
        try:
            return list(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return []

    def pair(self, origin: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump([*self.origins(), origin], fh)
        os.replace(tmp, self.path)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


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
    """Refuse web origins; answer CORS preflights and add CORS headers for the extension."""
    origin = request.headers.get("Origin")
    if origin is None:
        return await handler(request)
    if origin == own_origin(request):
        return await handler(request)  # the dashboard's own pages (same origin: no CORS)
    if not is_extension_origin(origin):
        raise Forbidden(
            f"requests from web pages ({origin}) are refused; "
            "use the osint-capture extension or the command line"
        )
    paired = request.app[keys.PAIRING].origins()
    if paired and origin not in paired:
        raise Forbidden(
            f"this server is paired with another extension ({', '.join(paired)}); "
            "run `osint-capture token --reset-pairing` to pair this one"
        )
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=cors_headers(origin))
    response = await handler(request)
    if not paired and 200 <= response.status < 300:
        request.app[keys.PAIRING].pair(origin)  # authenticated: the token was right
    response.headers.update(cors_headers(origin))
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await dashboard_gate(request, handler)  # pages: session cookie or login
    token: str = request.app[keys.SETTINGS].token
    header = request.headers.get("Authorization", "")
    if not header and has_session(request):
        check_same_origin(request)  # the dashboard's own calls, with its session cookie
        return await handler(request)
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized(
            "missing token: send 'Authorization: Bearer TOKEN' "
            "(print it with `osint-capture token`)"
        )
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise Unauthorized("wrong token: print the right one with `osint-capture token`")
    return await handler(request)
