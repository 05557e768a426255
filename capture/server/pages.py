"""Rendering dashboard pages: one Jinja2 environment, autoescaped, and its helpers.

Everything a page shows came from captured pages or from investigators, so every
value is escaped; the only markup added to such text is ``<mark>`` around the
words a search matched, put in after escaping.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from archive.catalog import SNIPPET_END, SNIPPET_START
from archive.readings import place_label, tool_label
from capture.server.analysis_views import clock

#: Statuses in the order a case's counts show them.
STATUS_ORDER = ("complete", "partial", "pending", "queued", "running", "failed")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("capture.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["highlight"] = highlight
    env.filters["pretty_json"] = pretty_json
    env.filters["size"] = human_size
    env.filters["diff_class"] = diff_class
    env.globals["place_label"] = place_label
    env.globals["tool_label"] = tool_label
    env.globals["analysis_href"] = analysis_href
    env.filters["clock"] = clock
    return env


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A page as HTML; ``nav`` and the logged-in state are there for the layout."""
    page = environment().get_template(template)
    text = page.render(request_path=request.path, **context)
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        },
    )


def highlight(snippet: str) -> Markup:
    """A search snippet with every matched word in ``<mark>``; everything else escaped."""
    escaped = str(escape(snippet))
    return Markup(escaped.replace(SNIPPET_START, "<mark>").replace(SNIPPET_END, "</mark>"))


def analysis_href(capture_id: str, number: int, place: dict[str, Any]) -> str:
    """Where a search hit in machine-read text is on its capture's page.

    The run's anchor, and in the query what the page's script needs to point at the
    hit: the media file and time to seek its player to, or the box of an OCR line.
    """
    query: dict[str, str] = {}
    when = place.get("start", place.get("offset"))
    if isinstance(when, int | float) and place.get("file"):
        query = {"media": str(place["file"]), "t": f"{float(when):.2f}"}
    elif isinstance(place.get("box"), list) and len(place["box"]) == 4:
        query = {"box": ",".join(str(int(v)) for v in place["box"])}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/captures/{quote(capture_id, safe='')}{suffix}#analysis-{int(number)}"


def pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def diff_class(line: str) -> str:
    """The style of one line of a unified diff: added, removed, or context."""
    if line.startswith(("+++", "---")):
        return "diff-file"
    if line.startswith("+"):
        return "diff-add"
    if line.startswith("-"):
        return "diff-del"
    if line.startswith("@@"):
        return "diff-hunk"
    return ""
