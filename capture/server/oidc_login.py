"""``/login/oidc``: logging in to the dashboard through the organisation's OpenID Connect
provider (``serve --oidc-issuer``), ending in a session cookie as the other ways in do.

``GET /login/oidc`` sends the browser to the provider with a fresh state, nonce and PKCE
verifier, kept in this process for :data:`capture.server.oidc_client.PENDING_SECONDS`
(so, with several servers behind one address, the provider must send the browser back
to the server it left: sticky sessions). ``GET /login/oidc/callback`` takes the code
back, has :class:`~capture.server.oidc_client.OidcClient` check everything the provider
says, and opens a session for the account the login is (made at the first login; see
:func:`archive.people.changes.oidc_account`). A second factor done at the provider
(``amr``: ``mfa``, ``otp`` or ``hwk``) counts as one here.

Both routes answer 404 when no provider is configured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from archive.errors import NotFound, OsintCaptureError
from capture.server import keys
from capture.server.login import logged_in, login_page, safe_next, throttled
from capture.server.oidc_client import PENDING_SECONDS, OidcClient, Pending, new_pending
from capture.server.sessions import own_origin

routes = web.RouteTableDef()
CALLBACK = "/login/oidc/callback"


@dataclass
class OidcLogins:
    """The configured provider's client, and the logins on their way to it."""

    client: OidcClient
    pending: dict[str, Pending] = field(default_factory=dict)

    def start(self, next_page: str, redirect_uri: str) -> Pending:
        self._forget_old()
        pending = new_pending(next_page, redirect_uri)
        self.pending[pending.state] = pending
        return pending

    def take(self, state: str) -> Pending | None:
        """The login ``state`` names, once."""
        self._forget_old()
        return self.pending.pop(state, None)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for state, pending in list(self.pending.items()):
            if now - pending.started > PENDING_SECONDS:
                del self.pending[state]


def _logins(request: web.Request) -> OidcLogins:
    logins = request.app.get(keys.OIDC)
    if logins is None:
        raise NotFound("this server has no OpenID Connect provider (serve --oidc-issuer)")
    return logins


@routes.get("/login/oidc")
async def start(request: web.Request) -> web.StreamResponse:
    logins = _logins(request)
    next_page = safe_next(request.query.get("next"))
    refused = throttled(request, next_page)
    if refused is not None:
        return refused
    pending = logins.start(next_page, own_origin(request) + CALLBACK)
    raise web.HTTPSeeOther(await logins.client.authorization_url(pending))


@routes.get(CALLBACK)
async def callback(request: web.Request) -> web.StreamResponse:
    logins = _logins(request)
    refused = throttled(request, "/")
    if refused is not None:
        return refused
    pending = logins.take(request.query.get("state", ""))
    if pending is None:
        return _refused(request, "this login is unknown here or took too long: start again")
    if "error" in request.query:
        said = request.query.get("error_description") or request.query["error"]
        return _refused(request, f"the provider did not log you in: {said}", pending.next_page)
    try:
        identity = await logins.client.finish(pending, request.query.get("code", ""))
        who = await request.app[keys.ACCESS].accounts.oidc_principal(identity)
    except OsintCaptureError as exc:
        return _refused(request, str(exc), pending.next_page, status=exc.http_status)
    return await logged_in(request, who, pending.next_page)


def _refused(
    request: web.Request, why: str, next_page: str = "/", *, status: int = 401
) -> web.Response:
    return login_page(request, next_page, status=status, error=f"Not logged in: {why}.")
