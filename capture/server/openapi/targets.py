"""Watched targets and their alerts in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from capture.server.openapi.common import ERROR, ERRORS, json_body, json_response, ref

_TARGET_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TARGET = ref("Target")
#: What the timeline says of each run.
_KINDS = ["first", "unchanged", "changed", "takedown", "restored", "failed"]


def target_paths() -> dict[str, Any]:
    """Watched targets: re-captured on a schedule, each run compared with the one before."""
    state_change = {"parameters": [_TARGET_ID]}
    changed = {"200": json_response(_TARGET, "the target"), "404": ERROR, "409": ERROR, **ERRORS}
    return {
        "/api/v1/targets": {"get": _list(), "post": _add()},
        "/api/v1/targets/{id}": {
            "get": {
                "summary": "A target with its timeline (oldest first) and its captures",
                "parameters": [_TARGET_ID],
                "responses": {
                    "200": json_response(ref("TargetDetail"), "the target"),
                    "404": ERROR,
                    **ERRORS,
                },
            },
            "delete": {
                "summary": "Stop watching for good; its captures and timeline are kept",
                **state_change,
                "responses": changed,
            },
        },
        "/api/v1/targets/{id}/pause": {
            "post": {"summary": "Pause a target's schedule", **state_change, "responses": changed}
        },
        "/api/v1/targets/{id}/resume": {
            "post": {
                "summary": "Resume a paused target (a missed run is caught up once)",
                **state_change,
                "responses": changed,
            }
        },
    }


def _list() -> dict[str, Any]:
    listed = {"type": "object", "properties": {"targets": {"type": "array", "items": _TARGET}}}
    return {
        "summary": "List watched targets (removed ones with all=true)",
        "parameters": [{"name": "all", "in": "query", "schema": {"type": "boolean"}}],
        "responses": {"200": json_response(listed, "targets"), **ERRORS},
    }


def _add() -> dict[str, Any]:
    return {
        "summary": "Watch a URL: capture it now, then every interval",
        "requestBody": json_body(ref("TargetRequest")),
        "responses": {
            "201": {
                **json_response(_TARGET, "the new target"),
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            **ERRORS,
            "422": ERROR,
        },
    }


def target_schemas() -> dict[str, Any]:
    return {
        "TargetRequest": _target_request(),
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
                "last_kind": {"type": ["string", "null"], "enum": [*_KINDS, None]},
                "href": {"type": "string"},
            },
        },
        "TimelineEvent": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": _KINDS},
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
                _TARGET,
                {
                    "type": "object",
                    "properties": {
                        "timeline": {"type": "array", "items": ref("TimelineEvent")},
                        "captures": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ]
        },
    }


def _target_request() -> dict[str, Any]:
    return {
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
    }


def alert_paths() -> dict[str, Any]:
    """Alerts: changes, takedowns and restorations, for the extension's badge."""
    after = {
        "name": "after",
        "in": "query",
        "description": "the last alert id already seen (0: all)",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    }
    listed = {
        "type": "object",
        "required": ["alerts", "count", "latest"],
        "properties": {
            "alerts": {"type": "array", "items": ref("Alert")},
            "count": {"type": "integer"},
            "latest": {"type": ["integer", "null"]},
        },
    }
    return {
        "/api/v1/alerts": {
            "get": {
                "summary": "Changes, takedowns and restorations of watched targets after "
                "alert `after`, oldest first (the extension's badge counts them)",
                "parameters": [after],
                "responses": {"200": json_response(listed, "alerts"), **ERRORS},
            }
        }
    }


def alert_schemas() -> dict[str, Any]:
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
