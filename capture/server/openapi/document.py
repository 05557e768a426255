"""The whole OpenAPI document: its header, its components, and every group's paths.

A test (tests/test_server.py) keeps the document's paths equal to the routes.
"""

from __future__ import annotations

from typing import Any

from archive import __version__
from capture.server.openapi.analyses import analysis_paths, analysis_schemas
from capture.server.openapi.captures import capture_paths, capture_schemas, case_paths
from capture.server.openapi.common import ERRORS, json_response
from capture.server.openapi.people import FORBIDDEN_BODY, SECURITY_SCHEMES, me_path
from capture.server.openapi.targets import alert_paths, alert_schemas, target_paths, target_schemas


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "osint-capture",
            "version": __version__,
            "description": "Capture web pages as sealed, verifiable evidence. Every call needs "
            "a person: a device token as 'Authorization: Bearer TOKEN' (this computer's is "
            "printed by `osint-capture token`; an admin makes others with `osint-capture "
            "token create`), or the dashboard's session cookie. A call the person's role "
            "does not allow is 403, naming the permission it needs (docs/access.md).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            **_server_paths(),
            **me_path(),
            **capture_paths(),
            **case_paths(),
            **analysis_paths(),
            **target_paths(),
            **alert_paths(),
        },
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "responses": {
                "Error": json_response(
                    {
                        "type": "object",
                        "required": ["error", "detail"],
                        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                    },
                    "error",
                ),
                "Forbidden": json_response(FORBIDDEN_BODY, "refused: a web page, or a permission"),
            },
            "schemas": {
                **capture_schemas(),
                **analysis_schemas(),
                **target_schemas(),
                **alert_schemas(),
            },
        },
    }


def _server_paths() -> dict[str, Any]:
    """The server itself: its health, and this document."""
    return {
        "/api/v1/health": {
            "get": {
                "summary": "Is the server up, how busy is it",
                "responses": {"200": json_response({"type": "object"}, "status"), **ERRORS},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": json_response({"type": "object"}, "OpenAPI document"),
                    **ERRORS,
                },
            }
        },
    }
