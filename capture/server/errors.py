"""API errors: one middleware renders every error as JSON with the error's own status.

Every error body is ``{"error": <short name>, "detail": <what went wrong and what to
do>}``, including aiohttp's own (404, 405, 413), so clients parse one shape; a 403
for want of a permission (:class:`archive.errors.Denied`) adds ``"permission"``,
its name. Any :class:`archive.errors.OsintCaptureError` a handler raises or lets
through (a bad case name, an unknown capture, a busy catalog) is answered with its
``http_status`` and ``error`` (a busy catalog: 503 with ``Retry-After``): handlers do not translate
them. Anything else is the server's fault: logged, and a 500 that says only that.

The errors only the HTTP layer raises are kinds of the same hierarchy, defined here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from archive.errors import BadInput, Denied, OsintCaptureError
from capture.server import keys

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(BadInput):
    """A request the API refuses as given: not JSON, an unknown field, a wrong type, a
    value out of range (a handler names the field)."""


class Forbidden(OsintCaptureError):
    """A web page's origin, a form from elsewhere: refused whoever sends it. (A person
    whose role or case does not allow something is :class:`archive.errors.Denied`.)"""

    http_status = 403
    error = "forbidden"


class MisdirectedRequest(OsintCaptureError):
    """A ``Host`` this server does not answer to (DNS rebinding)."""

    http_status = 421
    error = "misdirected request"


def error_response(
    status: int,
    error: str,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    permission: str | None = None,
) -> web.Response:
    """The one error body; a refusal for want of a permission names it in a field."""
    body = {"error": error, "detail": detail}
    if permission is not None:
        body["permission"] = permission
    return web.json_response(body, status=status, headers=headers)


def error_headers(exc: OsintCaptureError) -> dict[str, str]:
    """``Retry-After`` when asking again later may succeed (a busy catalog)."""
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


def log_error(request: web.Request, exc: OsintCaptureError) -> None:
    """A 5xx is the server's to look at: a busy catalog as a warning, others with their
    trace. A 4xx is the client's, said in the response only."""
    if exc.http_status < 500:
        return
    if exc.retry_after is not None:
        log.warning("%s %s: %s", request.method, request.path, exc)
    else:
        log.error("%s %s failed: %s", request.method, request.path, exc, exc_info=exc)


_AIOHTTP_DETAILS = {
    404: "no such API endpoint; see /api/v1/openapi.json",
    405: "this endpoint does not take that method; see /api/v1/openapi.json",
    413: "the request body is larger than the server accepts",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OsintCaptureError as exc:
        log_error(request, exc)
        permission = exc.permission if isinstance(exc, Denied) else None
        return error_response(
            exc.http_status, exc.error, str(exc), error_headers(exc), permission=permission
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = _AIOHTTP_DETAILS.get(exc.status, exc.text or exc.reason)
        if exc.status == 413:
            detail = f"{detail} ({request.app[keys.SETTINGS].max_body} bytes)"
        return error_response(exc.status, exc.reason.lower(), detail)
    except Exception:
        log.exception("unhandled error for %s %s", request.method, request.path)
        return error_response(500, "internal error", "the server failed; see its log")
