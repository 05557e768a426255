"""Captures and cases in the OpenAPI document: queue, list, detail, events, files."""

from __future__ import annotations

from typing import Any

from capture.server.openapi.common import (
    ERROR,
    ERRORS,
    ID,
    event_stream,
    json_body,
    json_response,
    ref,
)

_SUMMARY = ref("CaptureSummary")


def capture_paths() -> dict[str, Any]:
    return {
        "/api/v1/captures": {"post": _submit(), "get": _list()},
        "/api/v1/captures/{id}": {
            "get": {
                "summary": "A capture: its manifest when sealed, its live state while running",
                "parameters": [ID],
                "responses": {
                    "200": json_response(ref("CaptureDetail"), "capture"),
                    "404": ERROR,
                    **ERRORS,
                },
            }
        },
        "/api/v1/captures/{id}/events": {
            "get": {
                "summary": "Progress as server-sent events: state, resource, behaviour, "
                "then done or failed (the stream ends there)",
                "parameters": [ID],
                "responses": {"200": event_stream(), "404": ERROR, **ERRORS},
            }
        },
        "/api/v1/captures/{id}/files/{name}": {"get": _file()},
    }


def _submit() -> dict[str, Any]:
    queued = {
        "type": "object",
        "required": ["id", "status", "url", "created"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string"},
            "url": {"type": "string"},
            "created": {"type": "boolean"},
        },
    }
    return {
        "summary": "Queue a capture (an identical URL already queued or running "
        "is returned instead, with created=false)",
        "requestBody": json_body(ref("CaptureRequest")),
        "responses": {
            "202": {
                **json_response(queued, "queued (or already queued/running)"),
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            **ERRORS,
            # Team mode: cookies lent, but the server has no OSINT_CAPTURE_LENDING_KEY.
            "409": ERROR,
            "413": ERROR,
            "422": ERROR,
        },
    }


def _list() -> dict[str, Any]:
    statuses = ["queued", "running", "complete", "partial", "failed"]
    listed = {"type": "object", "properties": {"captures": {"type": "array", "items": _SUMMARY}}}
    return {
        "summary": "List captures, newest first",
        "parameters": [
            {"name": "case", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": statuses}},
            {"name": "url", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {"200": json_response(listed, "captures"), **ERRORS},
    }


def _file() -> dict[str, Any]:
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "summary": "Download a sealed file of a capture",
        "parameters": [ID, name],
        "responses": {
            "200": {
                "description": "the file; X-Content-SHA256 carries its hash",
                "content": {"application/octet-stream": {}},
            },
            "404": ERROR,
            **ERRORS,
        },
    }


def case_paths() -> dict[str, Any]:
    new_case = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
    }
    return {
        "/api/v1/cases": {
            "get": {
                "summary": "List cases (names for all; member says whether one belongs)",
                "responses": {"200": json_response({"type": "object"}, "cases"), **ERRORS},
            },
            "post": {
                "summary": "Create a case, its creator its first member (or return it if it"
                " exists)",
                "requestBody": json_body(new_case),
                "responses": {"201": json_response({"type": "object"}, "the case"), **ERRORS},
            },
        },
    }


def capture_schemas() -> dict[str, Any]:
    return {
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
                "as_seen": ref("AsSeen"),
                "analysis": ref("AnalysisOptions"),
            },
        },
        "AsSeen": _as_seen(),
        "CaptureSummary": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "url": {"type": "string"},
                "status": {"type": "string"},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "manifest_sha256": {"type": ["string", "null"]},
                "collector": {
                    "type": ["string", "null"],
                    "description": "the account that asked for it (null: before accounts)",
                },
                "device": {
                    "type": ["string", "null"],
                    "description": "what it asked through: a token's name, dashboard, command line",
                },
            },
        },
        "CaptureDetail": {
            "allOf": [
                _SUMMARY,
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
    }


def _as_seen() -> dict[str, Any]:
    return {
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
    }
