"""The documentation keeps up with the code: every CLI option is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

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
