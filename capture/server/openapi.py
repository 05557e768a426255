"""The OpenAPI 3.1 document of the API (a test keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any

from archive import __version__
from capture.server.openapi_analyses import analysis_paths, analysis_schemas

_ERROR = {"$ref": "#/components/responses/Error"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    capture_summary = {"$ref": "#/components/schemas/CaptureSummary"}
    errors = {"400": _ERROR, "401": _ERROR, "403": _ERROR, "421": _ERROR, "503": _ERROR}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "osint-capture",
            "version": __version__,
            "description": "Capture web pages as sealed, verifiable evidence. Every call needs "
            "'Authorization: Bearer TOKEN' (print it with `osint-capture token`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/health": {
                "get": {
                    "summary": "Is the server up, how busy is it",
                    "responses": {"200": _json({"type": "object"}, "status"), **errors},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI document"), **errors},
                }
            },
            "/api/v1/captures": {
                "post": {
                    "summary": "Queue a capture (an identical URL already queued or running "
                    "is returned instead, with created=false)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CaptureRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            **_json(
                                {
                                    "type": "object",
                                    "required": ["id", "status", "url", "created"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "status": {"type": "string"},
                                        "url": {"type": "string"},
                                        "created": {"type": "boolean"},
                                    },
                                },
                                "queued (or already queued/running)",
                            ),
                            "headers": {
                                "Location": {"schema": {"type": "string"}},
                            },
                        },
                        **errors,
                        "413": _ERROR,
                        "422": _ERROR,
                    },
                },
                "get": {
                    "summary": "List captures, newest first",
                    "parameters": [
                        {"name": "case", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["queued", "running", "complete", "partial", "failed"],
                            },
                        },
                        {"name": "url", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "captures": {"type": "array", "items": capture_summary}
                                },
                            },
                            "captures",
                        ),
                        **errors,
                    },
                },
            },
            "/api/v1/captures/{id}": {
                "get": {
                    "summary": "A capture: its manifest when sealed, its live state while running",
                    "parameters": [_ID],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/CaptureDetail"}, "capture"),
                        "404": _ERROR,
                        **errors,
                    },
                }
            },
            "/api/v1/captures/{id}/events": {
                "get": {
                    "summary": "Progress as server-sent events: state, resource, behaviour, "
                    "then done or failed (the stream ends there)",
                    "parameters": [_ID],
                    "responses": {
                        "200": {
                            "description": "event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "404": _ERROR,
                        **errors,
                    },
                }
            },
            "/api/v1/captures/{id}/files/{name}": {
                "get": {
                    "summary": "Download a sealed file of a capture",
                    "parameters": [
                        _ID,
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the file; X-Content-SHA256 carries its hash",
                            "content": {"application/octet-stream": {}},
                        },
                        "404": _ERROR,
                        **errors,
                    },
                }
            },
            "/api/v1/cases": {
                "get": {
                    "summary": "List cases",
                    "responses": {"200": _json({"type": "object"}, "cases"), **errors},
                },
                "post": {
                    "summary": "Create a case (or return it if it exists)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "name": {"type": "string", "minLength": 1, "maxLength": 100}
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": _json({"type": "object"}, "the case"), **errors},
                },
            },
            **analysis_paths(errors),
            **_target_paths(errors),
            **_alert_paths(errors),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": _json(
                    {
                        "type": "object",
                        "required": ["error", "detail"],
                        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                    },
                    "error",
                )
            },
            "schemas": {
                "CaptureRequest": {
                    "type": "object",
                    "required": ["url"],
                    "additionalProperties": False,
                    "properties": {
                        "url": {"type": "string", "description": "http or https URL"},
                        "case": {"type": "string", "maxLength": 100},
                        "note": {"type": "string"},
                        "operator": {"type": "string"},
                        "timeout": {"type": "number", "minimum": 5, "maximum": 3600},
                        "as_seen": {"$ref": "#/components/schemas/AsSeen"},
                        "analysis": {"$ref": "#/components/schemas/AnalysisOptions"},
                    },
                },
                "AsSeen": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "What the investigator's own browser shows; stored as "
                    "separate, labelled records. Cookies are used for this capture only and "
                    "never stored.",
                    "properties": {
                        "screenshot": {
                            "type": "string",
                            "pattern": "^data:image/png;base64,",
                            "description": "a PNG image as a data:image/png;base64 URL",
                        },
                        "dom": {"type": "string"},
                        "url": {"type": "string"},
                        "title": {"type": "string"},
                        "user_agent": {"type": "string"},
                        "viewport": {"type": "object"},
                        "captured_at": {"type": "string"},
                        "cookies": {"type": "array", "items": {"type": "object"}},
                    },
                },
                **analysis_schemas(),
                **_target_schemas(),
                **_alert_schemas(),
                "CaptureSummary": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "url": {"type": "string"},
                        "status": {"type": "string"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "manifest_sha256": {"type": ["string", "null"]},
                    },
                },
                "CaptureDetail": {
                    "allOf": [
                        capture_summary,
                        {
                            "type": "object",
                            "properties": {
                                "stage": {"type": ["string", "null"]},
                                "progress": {"type": "object"},
                                "manifest": {"type": ["object", "null"]},
                                "files": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ]
                },
            },
        },
    }


_TARGET_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _target_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """Watched targets: re-captured on a schedule, each run compared with the one before."""
    target = {"$ref": "#/components/schemas/Target"}
    state_change = {"parameters": [_TARGET_ID]}
    responses = {"200": _json(target, "the target"), "404": _ERROR, "409": _ERROR, **errors}
    return {
        "/api/v1/targets": {
            "get": {
                "summary": "List watched targets (removed ones with all=true)",
                "parameters": [
                    {"name": "all", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"targets": {"type": "array", "items": target}},
                        },
                        "targets",
                    ),
                    **errors,
                },
            },
            "post": {
                "summary": "Watch a URL: capture it now, then every interval",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/TargetRequest"}
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_json(target, "the new target"),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **errors,
                    "422": _ERROR,
                },
            },
        },
        "/api/v1/targets/{id}": {
            "get": {
                "summary": "A target with its timeline (oldest first) and its captures",
                "parameters": [_TARGET_ID],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/TargetDetail"}, "the target"),
                    "404": _ERROR,
                    **errors,
                },
            },
            "delete": {
                "summary": "Stop watching for good; its captures and timeline are kept",
                **state_change,
                "responses": responses,
            },
        },
        "/api/v1/targets/{id}/pause": {
            "post": {"summary": "Pause a target's schedule", **state_change, "responses": responses}
        },
        "/api/v1/targets/{id}/resume": {
            "post": {
                "summary": "Resume a paused target (a missed run is caught up once)",
                **state_change,
                "responses": responses,
            }
        },
    }


def _target_schemas() -> dict[str, Any]:
    kinds = ["first", "unchanged", "changed", "takedown", "restored", "failed"]
    return {
        "TargetRequest": {
            "type": "object",
            "required": ["url", "every"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "description": "http or https URL"},
                "every": {
                    "type": "string",
                    "description": "interval: a whole number and s, m, h or d (at least 1m)",
                    "examples": ["15m", "6h", "2d"],
                },
                "case": {"type": "string", "maxLength": 100},
                "note": {"type": "string"},
                "operator": {"type": "string"},
                "timeout": {"type": "number", "minimum": 5, "maximum": 3600},
                "allow_fast": {
                    "type": "boolean",
                    "description": "allow intervals under a minute (tests against local pages)",
                },
            },
        },
        "Target": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "url": {"type": "string"},
                "case": {"type": ["string", "null"]},
                "every": {"type": "string"},
                "interval_seconds": {"type": "integer"},
                "state": {"type": "string", "enum": ["active", "paused", "removed"]},
                "next_run_at": {"type": ["string", "null"]},
                "last_run_at": {"type": ["string", "null"]},
                "last_kind": {"type": ["string", "null"], "enum": [*kinds, None]},
                "href": {"type": "string"},
            },
        },
        "TimelineEvent": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": kinds},
                "summary": {"type": "string"},
                "details": {"type": "object"},
                "capture_id": {"type": ["string", "null"]},
                "previous_capture_id": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
                "capture_href": {"type": ["string", "null"]},
            },
        },
        "TargetDetail": {
            "allOf": [
                {"$ref": "#/components/schemas/Target"},
                {
                    "type": "object",
                    "properties": {
                        "timeline": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/TimelineEvent"},
                        },
                        "captures": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ]
        },
    }


def _alert_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """Alerts: changes, takedowns and restorations, for the extension's badge."""
    return {
        "/api/v1/alerts": {
            "get": {
                "summary": "Changes, takedowns and restorations of watched targets after "
                "alert `after`, oldest first (the extension's badge counts them)",
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "description": "the last alert id already seen (0: all)",
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["alerts", "count", "latest"],
                            "properties": {
                                "alerts": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Alert"},
                                },
                                "count": {"type": "integer"},
                                "latest": {"type": ["integer", "null"]},
                            },
                        },
                        "alerts",
                    ),
                    **errors,
                },
            }
        }
    }


def _alert_schemas() -> dict[str, Any]:
    return {
        "Alert": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "description": "the timeline event's id"},
                "target_id": {"type": "integer"},
                "url": {"type": ["string", "null"], "description": "the target's URL"},
                "kind": {"type": "string", "enum": ["changed", "takedown", "restored"]},
                "summary": {"type": "string"},
                "capture_id": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
            },
        }
    }
