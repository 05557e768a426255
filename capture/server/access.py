"""Who is asking, and may they: the server's one place for authentication and the
route rules (issue 15, docs/access.md).

Handlers read the person acting with :func:`principal`; the middleware that sets it
(a bearer token or a dashboard session, through :class:`archive.people.Directory`)
and the table of rules for every route live here too.
"""

from __future__ import annotations

from aiohttp import web

from archive.people import Principal

#: Where the middleware leaves the person acting on a request.
PRINCIPAL_KEY = "osint_capture.principal"


def principal(request: web.Request) -> Principal:
    """The person making ``request`` (set by the access middleware before any handler)."""
    found = request.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise RuntimeError(f"no principal on {request.method} {request.path}: route not checked")
    return found
