"""The documentation keeps up with the code: every CLI option, module and progress event."""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

from capture import progress_events
from capture.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _options(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = [
                    o for a in sub._actions for o in a.option_strings if o.startswith("--")
                ]
    return found


def test_every_command_and_option_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for command, options in _options(build_parser()).items():
        assert f"osint-capture {command}" in readme, f"README does not show `{command}`"
        for option in options:
            if option == "--help":
                continue
            assert option in readme, f"README does not document {command} {option}"


def test_docs_name_every_module() -> None:
    """Every module and subpackage, however deep, is named in docs/architecture.md."""
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    checked = 0
    for package in ("capture", "archive"):
        for module in (ROOT / package).rglob("*.py"):
            if module.name == "__init__.py":
                folder = module.parent.relative_to(ROOT / package)
                if folder.parts:
                    assert f"{folder.as_posix()}/" in architecture, (
                        f"docs/architecture.md omits the package {package}/{folder.as_posix()}/"
                    )
                continue
            checked += 1
            assert module.name in architecture, f"docs/architecture.md omits {module}"
    assert checked > 40, f"only {checked} modules found: is the checkout complete?"


def _sample(cls: type) -> Any:
    """An instance of the dataclass ``cls`` with every field set (no ``None``), so that
    ``to_json()`` shows every field it can carry."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _value(hints[f.name]) for f in dataclasses.fields(cls)})


def _value(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return _value(args[0])
    if origin is tuple:
        return (_value(args[0]),)
    if origin is dict or hint is dict:
        return {"free-form": "x"}
    if dataclasses.is_dataclass(hint):
        return _sample(hint)
    return {str: "x", int: 1, float: 1.5, bool: True}[hint]


def _field_names(data: dict[str, Any], free_form: set[str]) -> set[str]:
    """The JSON's field names, and those of objects inside it (not free-form ones)."""
    names = set(data)
    for name, value in data.items():
        if isinstance(value, dict) and name not in free_form:
            names |= _field_names(value, free_form)
    return names


def test_every_progress_event_is_in_the_api_docs_with_its_fields() -> None:
    """Each event type is a row of docs/api.md's event tables (its wire name first),
    and one such row names every field its ``to_json()`` can carry."""
    api = (ROOT / "docs" / "api.md").read_text()
    rows: dict[str, list[str]] = {}
    for line in api.splitlines():
        found = re.match(r"\| `([a-z-]+)` \| (.*)", line)
        if found:
            rows.setdefault(found[1], []).append(found[2])
    events = [
        cls
        for cls in vars(progress_events).values()
        if isinstance(cls, type)
        and issubclass(cls, progress_events.Event)
        and getattr(cls, "event_name", None)
    ]
    assert len(events) > 10, f"only {len(events)} event types found in capture/progress_events.py"
    for cls in events:
        assert cls.event_name in rows, f"docs/api.md has no row for `{cls.event_name}` ({cls})"
        hints = typing.get_type_hints(cls)
        free_form = {name for name, hint in hints.items() if typing.get_origin(hint) is dict}
        fields = _field_names(_sample(cls).to_json(), free_form)
        assert any(all(f'"{name}"' in row for name in fields) for row in rows[cls.event_name]), (
            f"no row for `{cls.event_name}` in docs/api.md names all of {sorted(fields)} ({cls})"
        )
