"""API errors: each carries its HTTP status; one middleware renders them as JSON.

Every error body is ``{"error": <short name>, "detail": <what went wrong and what to
do>}``, including aiohttp's own (404, 405, 413), so clients parse one shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from capture.server import keys

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class APIError(Exception):
    status = 500
    error = "internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(APIError):
    status = 400
    error = "bad request"


class Unauthorized(APIError):
    status = 401
    error = "unauthorized"


class Forbidden(APIError):
    status = 403
    error = "forbidden"


class NotFound(APIError):
    status = 404
    error = "not found"


class Conflict(APIError):
    """The resource's state does not allow the request (say which state, and why)."""

    status = 409
    error = "conflict"


class MisdirectedRequest(APIError):
    status = 421
    error = "misdirected request"


class Unprocessable(APIError):
    status = 422
    error = "unprocessable"


def error_response(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


_AIOHTTP_DETAILS = {
    404: "no such API endpoint; see /api/v1/openapi.json",
    405: "this endpoint does not take that method; see /api/v1/openapi.json",
    413: "the request body is larger than the server accepts",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except APIError as exc:
        return error_response(exc.status, exc.error, exc.detail)
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
