"""What every part of the OpenAPI document shares: the error response, ids, JSON bodies."""

from __future__ import annotations

from typing import Any

#: A response documented as the one error shape, ``{"error", "detail"}``.
ERROR = {"$ref": "#/components/responses/Error"}
#: A capture id in the path.
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
#: A 403: the error shape, with the missing permission when that was the reason.
FORBIDDEN = {"$ref": "#/components/responses/Forbidden"}
#: The errors any authenticated route can answer with.
ERRORS: dict[str, Any] = {"400": ERROR, "401": ERROR, "403": FORBIDDEN, "421": ERROR, "503": ERROR}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response with ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body with ``schema``."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def event_stream(description: str = "event stream") -> dict[str, Any]:
    """A ``text/event-stream`` response (server-sent events)."""
    return {
        "description": description,
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
