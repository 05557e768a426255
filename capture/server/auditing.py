"""The server's one call into the access log: who viewed, downloaded, replayed or exported.

A handler that shows or hands over evidence calls :func:`record_access` *before* it
sends anything: the person is the request's (:func:`capture.server.access.principal`),
the write is one catalog transaction, run off the event loop by the service. If the access cannot be
recorded the call raises and the request fails with it: evidence is not shown to
someone the log cannot name (docs/access.md, "Audit").
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from capture.server import keys
from capture.server.access import principal


async def record_access(
    request: web.Request, action: str, *, capture_ids: list[str], details: dict[str, Any]
) -> None:
    """Record that the person making ``request`` did ``action`` (``viewed``,
    ``downloaded``, ``replayed``, ``exported``) to ``capture_ids``; ``details`` say what
    was served where known (``file``, ``sha256``, ``size``). The device is the principal's."""
    who = principal(request)
    await request.app[keys.SERVICE].record_access(
        action, actor=who.actor, device=who.device, captures=list(capture_ids), details=details
    )
