"""The package's texts as Jinja2 templates: the report (HTML) and VERIFY.md (Markdown).

The report shows text anyone could have written: page titles, URLs, certificate
names, errors, OCR lines, notes. One environment renders it so that escaping is
not something each line of code has to remember: every ``.html.j2`` template (and
anything not named ``.md.j2``) is autoescaped, so a value becomes markup only if the
template itself wrote it. Only ``.md.j2`` is not, because Markdown is not HTML:
:mod:`archive.wacz.verify_md` makes captured text safe for it before rendering.
An undefined name is an error (``StrictUndefined``), never an empty cell in a
document a court reads. The templates live in ``archive/wacz/templates/`` and ship
with the package (``pyproject.toml``'s package data).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

#: What the report shows where a value is missing or empty.
MISSING = "—"


@cache
def environment() -> jinja2.Environment:
    """The one environment for this package's templates; built once."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("archive.wacz", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",),
            disabled_extensions=("md.j2",),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["dash"] = dash
    return env


def render(template: str, **context: Any) -> str:
    """``template`` (a name under ``templates/``) filled in with ``context``."""
    return environment().get_template(template).render(**context)


def dash(value: object) -> str:
    """A value as text, or a dash when it is missing or empty (``0`` and ``False`` show)."""
    if value is None or value == "":
        return MISSING
    return str(value)
