"""The analysis part of the OpenAPI document (:mod:`capture.server.openapi` includes it)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/responses/Error"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
_RUN = {"$ref": "#/components/schemas/AnalysisRun"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def analysis_paths(errors: dict[str, Any]) -> dict[str, Any]:
    base = "/api/v1/captures/{id}/analyses"
    return {
        base: {
            "post": {
                "summary": "Read a sealed capture again (OCR by default; a new addendum each "
                "run, never changing the capture). A run already queued is returned.",
                "parameters": [_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/AnalysisRequest"}
                        }
                    },
                },
                "responses": {
                    "202": _json(_RUN, "queued"),
                    "404": _ERROR,
                    **errors,
                },
            },
            "get": {
                "summary": "The capture's analysis runs, oldest first",
                "parameters": [_ID],
                "responses": {"200": _json({"type": "object"}, "runs"), "404": _ERROR, **errors},
            },
        },
        base + "/{number}": {
            "get": {
                "summary": "One run, with its readings (machine drafts) once sealed",
                "parameters": [_ID, _NUMBER],
                "responses": {
                    "200": _json(_RUN, "the run"),
                    "404": _ERROR,
                    "409": _ERROR,
                    **errors,
                },
            }
        },
        base + "/{number}/events": {
            "get": {
                "summary": "Server-sent events of the run: state, reading, then done or failed",
                "parameters": [_ID, _NUMBER],
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
