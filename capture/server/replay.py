"""Replay in the dashboard: ReplayWeb.page over a capture's sealed WARC.

ReplayWeb.page (the ``replaywebpage`` npm package, installed by
``scripts/ensure-replay``) is two files: ``ui.js``, the ``<replay-web-page>``
element, and ``sw.js``, a service worker that reads a WACZ with range requests and
serves the archived page inside an iframe.

A replayed page runs its own scripts, and captured pages may be hostile. So the
replay iframe lives on another origin than the dashboard: the dashboard is at
``http://127.0.0.1:PORT``, the replay at ``http://localhost:PORT``. Browsers treat
them as different sites with different cookies, so the archived page never holds
the investigator's session, and on that host the server serves only the replay
files (see :mod:`capture.server.sessions`). The iframe is sandboxed too (scripts
and its own origin allowed, navigating the dashboard's window not).

The replay WACZ is therefore fetched without the session cookie: its URL carries a
key naming the person the replay page was opened for: the HMAC of the capture id and
that person under a secret that lives as long as the server process, then the person's
name, all in hex (ReplayWeb.page loads no source whose key holds a second parameter or
a ``:``). The fetch checks the person again (their cases as they are now), so a key
passed on to someone else, or kept after leaving the case, opens nothing.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from archive.errors import NotFound
from archive.people import DASHBOARD
from capture.server import keys
from capture.server.access import principal
from capture.server.auditing import record_access
from capture.server.pages import render
from capture.server.sessions import DASHBOARD_HOSTNAME, REPLAY_HOSTNAME, hostname

routes = web.RouteTableDef()

#: The folder holding ReplayWeb.page's ``ui.js`` and ``sw.js``, if not the checkout's.
ENV_REPLAY_DIR = "OSINT_CAPTURE_REPLAYWEBPAGE"
#: Where ``scripts/ensure-replay`` puts the package, in the checkout.
CHECKOUT_REPLAY_DIR = Path(__file__).resolve().parents[2] / ".replay" / "replaywebpage"
REPLAY_FILES = ("ui.js", "sw.js")
#: The page ReplayWeb.page's iframe opens on the replay origin; ``sw.js`` then serves
#: the rest. Ours rather than the package's index.html, which names icons we lack.
INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Replay</title>
<script src="./ui.js"></script></head>
<body><replay-app-main></replay-app-main></body></html>
"""

REPLAY_SECRET: web.AppKey[bytes] = web.AppKey("replay_secret")
#: A replay key's HMAC-SHA256, in hex, before the name of the person it is for.
_MAC_HEX = 64


def setup(app: web.Application) -> None:
    app[REPLAY_SECRET] = secrets.token_bytes(32)
    app.add_routes(routes)


def replay_dir() -> Path:
    configured = os.environ.get(ENV_REPLAY_DIR)
    return Path(configured) if configured else CHECKOUT_REPLAY_DIR


def installed() -> bool:
    folder = replay_dir()
    return all((folder / name).is_file() for name in REPLAY_FILES)


def replay_key(app: web.Application, capture_id: str, user: str) -> str:
    """The key of ``capture_id``'s replay package for ``user``: the HMAC (64 hex digits),
    then the user's name in hex."""
    message = f"{user}\n{capture_id}".encode()
    mac = hmac.new(app[REPLAY_SECRET], message, "sha256").hexdigest()
    return mac + user.encode().hex()


def key_user(key: str) -> str | None:
    """The person a replay key names (checked by comparing the key with theirs), or
    ``None`` for a key that names nobody."""
    try:
        return bytes.fromhex(key[_MAC_HEX:]).decode() or None
    except ValueError:  # not hex, or not UTF-8
        return None


def replay_origin(request: web.Request) -> str | None:
    """The other origin replay runs on, when this server has one (a loopback server)."""
    port = request.headers.get("Host", "").rsplit(":", 1)[-1]
    hosts = request.app[keys.SETTINGS].hosts
    if hostname(request) == REPLAY_HOSTNAME or f"{REPLAY_HOSTNAME}:{port}" not in hosts:
        return None
    return f"http://{REPLAY_HOSTNAME}:{port}"


@routes.get("/replay/{id}")
async def replay_page(request: web.Request) -> web.Response:
    service = request.app[keys.SERVICE]
    who = principal(request)
    row = await service.capture(who, request.match_info["id"])
    await record_access(request, "replayed", capture_ids=[row.id], details={})
    origin = replay_origin(request)
    source = None
    if origin is not None:
        query = urlencode({"key": replay_key(request.app, row.id, who.user)})
        source = f"{origin}/replay/files/{row.id}.wacz?{query}"
    return render(
        request,
        "replay.html",
        logged_in=True,
        capture=row,
        installed=installed(),
        replay_origin=origin,
        dashboard_host=DASHBOARD_HOSTNAME,
        source=source,
        replay_url=row.final_url or row.url,
        sealed=row.status in ("complete", "partial"),
    )


@routes.get("/replay/app/")
async def replay_index(request: web.Request) -> web.Response:
    _require_installed()
    return web.Response(text=INDEX_HTML, content_type="text/html", charset="utf-8")


@routes.get("/replay/app/{name}")
async def replay_code(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in REPLAY_FILES:
        raise NotFound(f"ReplayWeb.page has no file {name!r} here; only {', '.join(REPLAY_FILES)}")
    _require_installed()
    return web.FileResponse(
        replay_dir() / name,
        headers={"Content-Type": "application/javascript", "Cache-Control": "no-cache"},
    )


@routes.get("/replay/files/{id}.wacz")
async def replay_wacz(request: web.Request) -> web.FileResponse:
    """The capture as a WACZ, with Range support, for the person and key the replay page
    was given, if that person may still open it."""
    capture_id = request.match_info["id"]
    presented = request.query.get("key", "")
    user = key_user(presented)
    if user is None or not hmac.compare_digest(
        presented, replay_key(request.app, capture_id, user)
    ):
        raise NotFound(
            f"no replay of capture {capture_id} for this key; open it from the dashboard"
        )
    service = request.app[keys.SERVICE]
    who = await service.person(user, DASHBOARD)
    path = await service.replay_wacz(await service.capture(who, capture_id))
    return web.FileResponse(
        path, headers={"Content-Type": "application/wacz", "Cache-Control": "no-store"}
    )


def _require_installed() -> None:
    if not installed():
        raise NotFound(
            f"ReplayWeb.page is not installed in {replay_dir()}; run `make setup` "
            "(or scripts/ensure-replay)"
        )
