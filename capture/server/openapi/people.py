"""Who is asking, in the OpenAPI document: the two ways to authenticate, the 403 that
names a permission, and ``/api/v1/me``."""

from __future__ import annotations

from typing import Any

from archive.people import Permission, Role
from capture.server.openapi.common import ERRORS, json_response
from capture.server.sessions import COOKIE

#: A device token (an extension, a script), or the dashboard's session cookie.
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A device token, bound to one person (`osint-capture token` prints "
        "this computer's; `osint-capture token create --user NAME --name DEVICE` makes "
        "another). The first extension that presents it binds it: another gets 403.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "The dashboard's session, from logging in at /login (a user name, "
        "password and code, or a token). A call that changes something must also come from "
        "the dashboard's own origin.",
    },
}

#: The 403 body: a refused web page says only why; a missing permission names it.
FORBIDDEN_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "const": "forbidden"},
        "detail": {"type": "string"},
        "permission": {"type": "string", "enum": [p.value for p in Permission]},
    },
}

_ME = {
    "type": "object",
    "required": ["user", "role", "device", "cases"],
    "properties": {
        "user": {"type": "string"},
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "device": {"type": "string", "description": "the token's name, or 'dashboard'"},
        "cases": {"type": "array", "items": {"type": "string"}},
    },
}


def me_path() -> dict[str, Any]:
    return {
        "/api/v1/me": {
            "get": {
                "summary": "Who the token or session belongs to (the extension shows it)",
                "responses": {"200": json_response(_ME, "the person asking"), **ERRORS},
            }
        }
    }
