"""Analysis runs of a sealed capture in the OpenAPI document: read again, runs, readings."""

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

_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
_RUN = ref("AnalysisRun")


def analysis_paths() -> dict[str, Any]:
    base = "/api/v1/captures/{id}/analyses"
    return {
        base: {
            "post": {
                "summary": "Read a sealed capture again (OCR by default; a new addendum each "
                "run, never changing the capture). A run already queued is returned.",
                "parameters": [ID],
                "requestBody": json_body(ref("AnalysisRequest")),
                "responses": {
                    "202": json_response(_RUN, "queued"),
                    "404": ERROR,
                    **ERRORS,
                },
            },
            "get": {
                "summary": "The capture's analysis runs, oldest first",
                "parameters": [ID],
                "responses": {
                    "200": json_response({"type": "object"}, "runs"),
                    "404": ERROR,
                    **ERRORS,
                },
            },
        },
        base + "/{number}": {
            "get": {
                "summary": "One run, with its readings (machine drafts) once sealed",
                "parameters": [ID, _NUMBER],
                "responses": {
                    "200": json_response(_RUN, "the run"),
                    "404": ERROR,
                    "409": ERROR,
                    **ERRORS,
                },
            }
        },
        base + "/{number}/events": {
            "get": {
                "summary": "Server-sent events of the run: state, reading, then done or failed",
                "parameters": [ID, _NUMBER],
                "responses": {
                    "200": event_stream(),
                    "404": ERROR,
                    **ERRORS,
                },
            }
        },
    }


def analysis_schemas() -> dict[str, Any]:
    options = {
        "ocr": {"type": "boolean", "description": "text in the screenshot, images, video frames"},
        "transcribe": {"type": "boolean", "description": "draft transcripts of media"},
        "translate": {"type": "boolean", "description": "with the server's translation model"},
        "languages": {"type": "string", "description": "tesseract languages (ara+eng)"},
        "language": {"type": "string", "description": "spoken language for transcripts (ar)"},
    }
    return {
        "AnalysisOptions": {
            "type": "object",
            "additionalProperties": False,
            "description": "What to read once the capture is sealed (default: the server's)",
            "properties": options,
        },
        "AnalysisRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**options, "operator": {"type": "string"}},
        },
        "AnalysisRun": {
            "type": "object",
            "properties": {
                "capture": {"type": "string"},
                "number": {"type": "integer"},
                "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "machine_draft": {"type": "boolean"},
                "addendum_sha256": {"type": ["string", "null"]},
                "steps": {"type": "array", "items": {"type": "object"}},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "timestamp": {"type": "string"},
                "readings": {},
            },
        },
    }
