"""Content present but hidden (issue 16): a page whose DOM holds the article and shows
none of it is sealed with a reason that says so; a page that shows its content is not.

Each page is captured with the real pipeline in the real browser; what the capture
says is read from its manifest and from the page info read back from the sealed WARC.
A false report is as much a defect as a missed one, so the ordinary pages matter as
much as the hidden ones. The last tests check the judging on its thresholds.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from capture.browser import Browser
from capture.derived import PageRef
from capture.requests import CaptureRequest
from capture.stages.outcome import reasons_of
from capture.stages.results import DerivedRecords, Swept
from capture.visibility import MIN_DOM_CHARS, Visibility
from tests.archives import capture_into
from tests.loopback import LoopbackServer, html_page
from tests.warcs import Record, read_records

CLI = Path(sys.executable).with_name("osint-capture")

#: The article every page holds: well over MIN_DOM_CHARS characters of text.
ARTICLE = "".join(
    f"<p>Paragraph {n}: the witness described the convoy on the northern road.</p>"
    for n in range(30)
)
MARKER = "the witness described the convoy"


def _html(body: str, head: str = "", html_attrs: str = "") -> str:
    return (
        f"<!doctype html><html{html_attrs}><head><meta charset='utf-8'><title>Report</title>"
        f"{head}</head><body>{body}</body></html>"
    )


# Google Optimize's anti-flicker snippet as sites pasted it: it puts async-hide on html
# and waits for the Optimize script; here the script is 404, and the snippet's own
# time-out is longer than any capture, as on the page that raised the issue.
OPTIMIZE_SNIPPET = """<style>.async-hide { opacity: 0 !important }</style>
<script>(function(a,s,y,n,c,h,i,d,e){s.className+=' '+y;h.start=1*new Date;
h.end=i=function(){s.className=s.className.replace(RegExp(' ?'+y),'')};
(a[n]=a[n]||[]).hide=h;setTimeout(function(){i();h.end=null},c);h.timeout=c;
})(window,document.documentElement,'async-hide','dataLayer',600000,{'GTM-TEST':true});</script>
<script async src="/optimize.js"></script>"""

# Adobe Target's pre-hiding snippet: body at opacity 0 until at.js answers; at.js is
# asked of a server that takes the request and never answers.
TARGET_SNIPPET = """<style id="at-body-style">body { opacity: 0 !important }</style>
<script async src="/hang/at.js"></script>"""

# A site whose ordinary page carries what inflates the DOM's text without being read:
# a large JSON state in a script, styles, a noscript notice.
STATE = json.dumps({"items": [{"id": n, "headline": "state " * 10} for n in range(60)]})
ORDINARY = _html(
    "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
    f"<h1>Report</h1>{ARTICLE}"
    f"<script type='application/json' id='state'>{STATE}</script>"
    "<noscript>This site works best with JavaScript enabled in the browser.</noscript>",
    head="<style>body { font-family: serif; } .x::before { content: 'y'; }</style>",
)

# A cookie banner dismissed before (display: none) and a dialog not yet opened
# (visibility: hidden), each with its own text; the article shows.
BANNERS = _html(
    ARTICLE + "<div id='cookies' style='display:none'>We use cookies to improve your experience. "
    "Accept all cookies or manage your preferences in the settings panel.</div>"
    + "<div class='modal' style='visibility:hidden;position:fixed;top:0'>"
    + "Subscribe to our newsletter for the latest news and analysis. " * 5
    + "</div>",
)

# The anti-flicker class, taken off 300 ms after the page starts (the testing script
# arrived): the behaviours outlast it, so the records show the page.
UNHIDES = _html(
    ARTICLE
    + "<script>setTimeout(() => document.documentElement.classList.remove('async-hide'), 300);"
    "</script>",
    head="<style>.async-hide { opacity: 0 !important }</style>",
    html_attrs=" class='async-hide'",
)

# body hidden, the article's container showing itself: the page is visible.
OVERRIDDEN = _html(
    f"<main style='visibility:visible'>{ARTICLE}</main>",
    head="<style>body { visibility: hidden }</style>",
)

# body hidden by the page's stylesheet, and the page's scripts lying about it to
# anything that asks through them: innerText says the article, getComputedStyle
# says visible.
LIAR = _html(
    ARTICLE
    + """<script>
const text = document.body.textContent;
Object.defineProperty(HTMLElement.prototype, "innerText", {get() { return text; }});
const real = window.getComputedStyle;
window.getComputedStyle = (el) => ({...real(el), visibility: "visible", opacity: "1",
                                    display: "block"});
</script>""",
    head="<link rel='stylesheet' href='/hide.css'>",
)

# The article shows, and the page's script tells any script that asks through the
# page's own innerText that there is nothing: the visible-text record is the browser's.
DENIER = _html(
    ARTICLE
    + """<script>
Object.defineProperty(HTMLElement.prototype, "innerText", {get() { return "Nothing here."; }});
</script>"""
)


class HiddenSite(LoopbackServer):
    """The pages above, a stylesheet that hides body, and a script that never answers."""

    what = "hidden-content test site"

    async def start(self) -> None:
        pages = {
            "/optimize": _html(ARTICLE, head=OPTIMIZE_SNIPPET),
            "/target": _html(ARTICLE, head=TARGET_SNIPPET),
            "/stylesheet": _html(ARTICLE, head="<link rel='stylesheet' href='/hide.css'>"),
            "/ordinary": ORDINARY,
            "/short": _html("<h1>Closed</h1><p>Back on Monday.</p>"),
            "/banners": BANNERS,
            "/unhides": UNHIDES,
            "/overridden": OVERRIDDEN,
            "/liar": LIAR,
            "/denier": DENIER,
        }
        app = web.Application(middlewares=[self.count_hits])
        for path, html in pages.items():
            app.router.add_get(path, html_page(html))
        app.router.add_get("/hide.css", self._stylesheet)
        app.router.add_get("/hang/{name}", self._hang)
        await self.serve(app, shutdown_timeout=0.5)

    def url(self, path: str) -> str:
        return self.origin + path

    async def _stylesheet(self, request: web.Request) -> web.Response:
        return web.Response(text="body { visibility: hidden; }", content_type="text/css")

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Take the request and never answer it."""
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.sleep(3600)
        return web.Response(status=504)


@pytest.fixture(scope="module")
async def hidden_site() -> AsyncIterator[HiddenSite]:
    async with HiddenSite() as running:
        yield running


class Captured:
    """One capture's manifest and the records of its sealed WARC."""

    def __init__(self, manifest: dict[str, Any], records: list[Record]) -> None:
        self.manifest = manifest
        self.records = records

    @property
    def status(self) -> str:
        return str(self.manifest["status"])

    @property
    def reasons(self) -> list[str]:
        return list(self.manifest["reasons"])

    def hidden_reasons(self) -> list[str]:
        return [r for r in self.reasons if "hidden when captured" in r]

    def derived(self, prefix: str) -> Record:
        found = [
            r for r in self.records if r.type == "resource" and (r.uri or "").startswith(prefix)
        ]
        assert len(found) == 1, f"expected one {prefix} record, found {len(found)}"
        assert found[0].payload is not None
        return found[0]

    def visibility(self) -> dict[str, Any]:
        info = json.loads(self.derived("urn:pageinfo:").payload or b"")
        return dict(info["visibility"])

    def text(self) -> str:
        return (self.derived("urn:text:").payload or b"").decode("utf-8")

    def dom(self) -> str:
        return (self.derived("urn:dom:").payload or b"").decode("utf-8")

    def screenshot_colours(self) -> int:
        """How many colours the full-page screenshot has (1: a blank page)."""
        image = Image.open(io.BytesIO(self.derived("urn:fullPage:").payload or b""))
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        return len(colours) if colours is not None else 1 << 16


async def capture(
    site: HiddenSite, browser: Browser, data: Path, path: str, timeout: float = 60
) -> Captured:
    """Capture ``path`` with the real pipeline; its manifest and its WARC's records."""
    manifest = await capture_into(
        CaptureRequest(site.url(path), timeout=timeout, media=None, tsa=None), data, browser=browser
    )
    return Captured(
        manifest.to_dict(), read_records(data / "captures" / manifest.id / manifest.warc)
    )


# -- hidden pages --------------------------------------------------------------------------


async def test_an_anti_flicker_snippet_whose_script_is_missing_is_reported(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, "/optimize")
    assert hidden_site.hits["/optimize.js"] >= 1  # asked for, answered 404
    assert captured.status == "partial"
    assert len(captured.reasons) == 1, captured.reasons
    reason = captured.reasons[0]
    assert reason.startswith("the page's content was hidden when captured: html has opacity:0 (")
    assert "(Google Optimize's anti-flicker class async-hide on html; " in reason
    assert 'rule ".async-hide { opacity: 0 !important }" in a <style> element' in reason
    assert reason.endswith(
        "; the screenshots show a blank page; the visible-text record still holds the text "
        "(innerText counts text made transparent) and the DOM record the content"
    )
    seen = captured.visibility()
    assert seen["measured"] and seen["hidden"]
    assert seen["hidden_by"] == ["html has opacity:0"]
    assert seen["dom_text_chars"] > MIN_DOM_CHARS
    # innerText counts text under opacity 0 as visible: the text record holds the
    # article, and the reason says the screenshots are what is blank.
    assert seen["visible_text_chars"] == seen["dom_text_chars"]
    assert f"{seen['dom_text_chars']:,} in the DOM" in reason
    assert seen["styles"]["html"]["opacity"] == "0"
    assert MARKER in captured.dom() and MARKER in captured.text()
    assert captured.screenshot_colours() == 1  # the records show what the page showed
    assert "async-hide" in captured.dom()  # and the page was not un-hidden for them


async def test_a_pre_hiding_snippet_waiting_on_a_script_that_never_answers_is_reported(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, "/target", timeout=12)
    assert captured.status == "partial"
    assert any("/hang/at.js" in r for r in captured.reasons), captured.reasons
    [reason] = captured.hidden_reasons()
    assert reason.startswith("the page's content was hidden when captured: body has opacity:0 (")
    assert "(Adobe Target's pre-hiding style element #at-body-style; " in reason
    assert 'rule "body { opacity: 0 !important }" in a <style> element' in reason
    seen = captured.visibility()
    assert seen["hidden"] and seen["hidden_by"] == ["body has opacity:0"]
    assert captured.screenshot_colours() == 1
    assert MARKER in captured.dom()


async def test_a_stylesheet_that_hides_body_is_reported_with_its_rule(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, "/stylesheet")
    assert captured.status == "partial"
    assert captured.reasons == [
        "the page's content was hidden when captured: body has visibility:hidden "
        f'(rule "body {{ visibility: hidden }}" in stylesheet {hidden_site.url("/hide.css")}); '
        f"visible text 0 characters against {captured.visibility()['dom_text_chars']:,} in the "
        "DOM (whitespace not counted); the screenshots and the visible-text record show a "
        "blank page, the DOM record holds the content"
    ]
    seen = captured.visibility()
    assert seen["visible_text_chars"] == 0 and seen["dom_text_chars"] > MIN_DOM_CHARS
    assert captured.text().strip() == "" and MARKER in captured.dom()
    assert captured.screenshot_colours() == 1


async def test_a_page_that_lies_to_its_own_scripts_is_measured_as_it_is(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, "/liar")
    [reason] = captured.hidden_reasons()
    assert "body has visibility:hidden" in reason
    seen = captured.visibility()
    assert seen["visible_text_chars"] == 0 and seen["styles"]["body"]["visibility"] == "hidden"
    assert captured.screenshot_colours() == 1 and MARKER in captured.dom()
    # As the reason says: the text record is blank too (the page's innerText lies).
    assert captured.text().strip() == ""


# -- pages that show their content -----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/ordinary", "/short", "/banners", "/unhides", "/overridden", "/denier"]
)
async def test_a_page_that_shows_its_content_gets_no_reason(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path, path: str
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, path)
    assert captured.status == "complete", captured.reasons
    assert captured.reasons == []
    seen = captured.visibility()
    assert seen["measured"] and not seen["hidden"], seen
    assert seen["hidden_by"] == [] or path == "/overridden", seen
    assert captured.screenshot_colours() > 1
    if path != "/short":
        assert MARKER in captured.text() and "Nothing here." not in captured.text()
        assert seen["visible_text_chars"] >= 0.5 * seen["dom_text_chars"], seen
    assert seen["took_ms"] is not None and seen["took_ms"] < 20, seen


async def test_the_ordinary_page_does_not_count_its_scripts_and_styles_as_text(
    hidden_site: HiddenSite, browser: Browser, tmp_path: Path
) -> None:
    captured = await capture(hidden_site, browser, tmp_path, "/ordinary")
    seen = captured.visibility()
    # The JSON state alone is longer than the article; counted, the page would look
    # mostly hidden.
    assert len(STATE) > seen["dom_text_chars"]
    assert seen["visible_text_chars"] >= 0.9 * seen["dom_text_chars"], seen


# -- the command line ----------------------------------------------------------------------


async def test_the_command_line_shows_the_reason_and_exits_partial(
    hidden_site: HiddenSite, tmp_path: Path
) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "OSINT_CAPTURE_DATA"}
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "capture",
        hidden_site.url("/stylesheet"),
        "--timeout",
        "30",
        "--data",
        str(tmp_path / "data"),
        cwd=tmp_path,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 3, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == f"partial: {hidden_site.url('/stylesheet')}"
    assert any(
        line.startswith("  reason:    the page's content was hidden when captured: body has ")
        for line in lines
    ), lines


# -- the judging ---------------------------------------------------------------------------


def _judged(visible: int, dom: int, *hidden: tuple[str, str, str]) -> Visibility:
    return Visibility.of(
        {
            "applies": True,
            "visible": visible,
            "dom": dom,
            "hidden": [{"element": e, "property": p, "value": v} for e, p, v in hidden],
            "styles": {},
            "causes": [],
            "ms": 0.5,
        }
    )


def test_little_visible_text_counts_only_on_a_page_with_text_to_hide() -> None:
    assert _judged(0, MIN_DOM_CHARS - 1).reason() is None  # a short page
    assert _judged(19, 200).reason() is not None  # under a tenth of it visible
    assert _judged(20, 200).reason() is None
    reason = _judged(100, 5000).reason()
    assert reason is not None and reason.startswith("most of the page's text was hidden")
    assert "visible text 100 characters against 5,000 in the DOM" in reason


def test_visibility_hidden_needs_the_text_to_agree_but_opacity_and_display_do_not() -> None:
    body_hidden = ("body", "visibility", "hidden")
    assert _judged(4000, 5000, body_hidden).reason() is None  # a child shows itself
    assert _judged(0, 5000, body_hidden).reason() is not None
    assert _judged(0, 0, body_hidden).reason() is not None  # an image-only page, blank
    assert _judged(5000, 5000, ("html", "opacity", "0")).reason() is not None
    assert _judged(5000, 5000, ("body", "display", "none")).reason() is not None


def test_a_measurement_that_failed_is_a_reason_and_a_document_without_body_is_none() -> None:
    failed = Visibility(error="the page did not answer within 3.0 s")
    assert failed.reason() == (
        "whether the page's content was visible could not be checked: "
        "the page did not answer within 3.0 s"
    )
    assert failed.facts() == {"measured": False, "error": "the page did not answer within 3.0 s"}
    nothing = Visibility.of({"applies": False, "why": "the document has no HTML body to measure"})
    assert nothing.reason() is None and not nothing.hidden


def test_the_reason_comes_after_the_derived_records_failures_and_before_the_losses() -> None:
    hidden = _judged(0, 5000, ("body", "visibility", "hidden"))
    derived = DerivedRecords(
        None, (), PageRef("https://a.test/", None, None), (), None, ("dom failed: x",), hidden
    )
    swept = Swept(stragglers=(), losses=("not loaded: https://a.test/b",), notes=())
    assert reasons_of((), [derived, swept]) == [
        "dom failed: x",
        hidden.reason(),
        "not loaded: https://a.test/b",
    ]
