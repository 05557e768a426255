"""Reading JSON bodies strictly: unknown fields and wrong types are named in the error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from capture.server.errors import BadRequest


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = False
    max_length: int | None = None


async def read_json(
    request: web.Request, fields: dict[str, Field], *, where: str = "body"
) -> dict[str, Any]:
    """The request's JSON object, checked against ``fields``."""
    if request.content_type != "application/json":
        raise BadRequest(f"send the {where} as JSON (Content-Type: application/json)")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON in the {where}: {exc}") from None
    except RecursionError:
        raise BadRequest(f"the JSON in the {where} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise BadRequest(f"unreadable JSON in the {where}: {exc}") from None
    return check_object(data, fields, where)


def check_object(data: Any, fields: dict[str, Field], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest(f"the {where} must be a JSON object")
    for name in data:
        if name not in fields:
            raise BadRequest(f"unknown field {where}.{name}; allowed: {', '.join(sorted(fields))}")
    for name, spec in fields.items():
        if name not in data or data[name] is None:
            if spec.required:
                raise BadRequest(f"missing field {where}.{name}")
            continue
        value = data[name]
        if isinstance(value, bool) and bool not in _types(spec.type):
            raise BadRequest(f"field {where}.{name} must be {_type_names(spec.type)}")
        if not isinstance(value, spec.type):
            raise BadRequest(f"field {where}.{name} must be {_type_names(spec.type)}")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise BadRequest(f"field {where}.{name} is longer than {spec.max_length}")
    return data


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
        dict: "an object",
        list: "a list",
    }
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in _types(kind)))
