"""Hostile text in every field the report shows comes out as text, never as markup.

Page titles, URLs, certificate names, errors, OCR lines and notes are written by
whoever made the page or the note. Each field below gets its own hostile string
(closing the title, a script, an attribute break-out with an ``onerror`` image, a
bold tag, a quote): the report must show every one, escaped, and hold no element
or attribute that the templates did not write themselves.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import jinja2
import pytest
from markupsafe import escape

from archive.wacz.report import (
    CaptureFacts,
    CertificateFacts,
    PackagedFile,
    TokenFacts,
    WarcFacts,
)
from archive.wacz.report_analysis import RunFacts
from archive.wacz.report_view import render_report
from archive.wacz.templating import environment
from archive.wacz.verify_md import PackagedCapture, verify_md

HOSTILE = "</title><script>alert(1)</script>\"><img src=x onerror=alert(2)><b>bold</b>'"
#: The tags the report's templates write; anything else came from captured text.
TEMPLATE_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "br", "div"),
    *("table", "thead", "tbody", "tr", "th", "td", "p", "span", "code", "pre", "strong", "em"),
    *("ul", "ol", "li", "section", "figure", "figcaption", "img"),
}
#: The attributes they write.
TEMPLATE_ATTRIBUTES = {
    *("lang", "charset", "http-equiv", "content", "name", "class", "id", "src", "alt", "dir"),
}
DETAILS = "details:" + HOSTILE


class Fields:
    """Makes one hostile value per field and remembers them, to look for each one after."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, field: str) -> str:
        value = f"{field}:{HOSTILE}"
        self.made.append(value)
        return value


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def analysis_run(h: Fields) -> RunFacts:
    return RunFacts(
        number=1,
        addendum_path=h("addendum path"),
        addendum_sha256=h("addendum sha256"),
        addendum={
            "started_at": h("analysis started"),
            "finished_at": h("analysis finished"),
            "operator": h("analysis operator"),
            "requested": {"ocr": True, "languages": h("requested languages")},
            "tools": [{"name": h("tool name"), "via": h("tool via"), "model_sha256": h("model")}],
            "outcomes": [
                {"step": h("step"), "status": h("step status"), "read": h("step read")}
                | {"failed": h("step failed"), "notes": [h("step note")]}
            ],
            "readings": h("readings count"),
            "reasons": [h("not read reason")],
        },
        readings=[
            {
                "kind": "ocr",
                "source": {"what": h("ocr what"), "uri": h("ocr uri"), "file": h("ocr file")}
                | {"sha256": h("ocr sha256")},
                "tool": {"name": h("ocr tool")},
                "result": {"lines": [{"text": h("ocr line"), "box": [1, 2, 3, h("ocr box")]}]},
            },
            {
                "kind": "transcript",
                "source": {"what": "media", "uri": "urn:x", "offset": 1.5},
                "tool": {},
                "result": {"segments": [{"start": 0, "end": 2, "text": h("segment")}]},
            },
            {
                "kind": h("reading kind"),
                "source": {},
                "tool": {},
                "result": {"lines": []},
            },
            {
                "kind": "translation",
                "source": {},
                "tool": {},
                "result": {"lines": [{"source": h("read"), "translation": h("translation")}]},
            },
        ],
        signed_by=h("addendum signed by"),
        tokens=[(h("addendum token"), h("token time"), h("token tsa"), h("token check"))],
        problems=[h("analysis problem")],
    )


def hostile_capture(h: Fields, origin: str, certificate: CertificateFacts | None) -> CaptureFacts:
    software = {h("tool"): h("tool version"), "chromium": h("chromium"), "osint-capture": h("oc")}
    manifest = {
        "url": h("url"),
        "final_url": f"{origin}/{h('final url')}",
        "title": h("title"),
        "http_status": h("http status"),
        "status": h("status"),
        "reasons": [h("reason")],
        "started_at": h("started"),
        "finished_at": h("finished"),
        "clock": h("clock"),
        "operator": h("operator"),
        "case": h("case"),
        "note": h("note"),
        "software": software,
        "items": [
            {"kind": "media", "path": h("media path"), "url": h("media url")}
            | {"size": h("media size"), "sha256": h("media sha256")},
        ],
        "extra": {
            "media": [
                {"requested_url": h("requested"), "found_as": h("found as")}
                | {"extractor": h("extractor"), "format": h("format"), "remuxed": True}
                | {"conversion": h("conversion"), "postprocessors": [h("postprocessor")]}
                | {"yt_dlp": h("yt-dlp"), "ffmpeg": h("ffmpeg"), "error": h("media error")},
            ]
        },
    }
    warc = WarcFacts(
        servers={h("host"): {h("address")}},
        page_info={
            "redirect_chain": [{"url": h("hop url"), "status": h("hop status"), "ip": h("hop ip")}],
            "failed_requests": [{"url": h("failed url"), "type": h("type"), "error": h("error")}],
        },
        certificates={origin: certificate} if certificate else {},
        problems=[h("warc problem")],
    )
    return CaptureFacts(
        capture_id=h("capture id"),
        manifest=manifest,
        manifest_sha256=h("manifest sha256"),
        files=(PackagedFile(h("file"), h("package path"), h("kind"), h("sha256"), 10),),
        screenshot=h("screenshot"),
        tokens=(TokenFacts(h("token"), h("chain"), h("gen time"), h("tsa"), 3, h("check")),),
        warc=warc,
        custody=(
            {"seq": h("seq"), "time": h("time"), "action": h("action"), "actor": h("actor")}
            | {"details": {"note": DETAILS}, "hash": h("hash")},
        ),
        manifest_signed_by=h("signed by"),
        analyses=(analysis_run(h),),
    )


def test_hostile_text_in_every_field_of_the_report_is_escaped() -> None:
    h = Fields()
    # The origin is the URL's scheme and host, so the host itself breaks out of attributes.
    origin = 'https://evil.example"><img src=x onerror=alert(3)>'
    cert = CertificateFacts(
        origin,
        subject=h("subject"),
        issuer=h("issuer"),
        not_before=h("not before"),
        not_after=h("not after"),
        names=(h("san"),),
        protocol=h("protocol"),
    )
    captures = [
        hostile_capture(h, origin, cert),
        hostile_capture(h, origin, CertificateFacts(origin, problem=h("certificate problem"))),
        hostile_capture(h, origin, None),
    ]
    page = render_report(
        captures,
        package_name=h("package"),
        created=h("created"),
        software=h("software"),
        key_fingerprint=h("fingerprint"),
    )
    for value in h.made:
        assert str(escape(value)) in page, f"not shown, or not escaped: {value!r}"
    assert str(escape(origin)) in page
    # Custody details are shown as their JSON.
    details = json.dumps({"note": DETAILS}, ensure_ascii=False, sort_keys=True)
    assert str(escape(details)) in page
    assert "<script" not in page and "<b>" not in page and "<img src=x" not in page

    parser = Elements()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert tags <= TEMPLATE_TAGS, tags - TEMPLATE_TAGS
    attributes = {name for _, attrs in parser.tags for name, _ in attrs}
    assert attributes <= TEMPLATE_ATTRIBUTES, attributes - TEMPLATE_ATTRIBUTES
    images = [dict(attrs) for tag, attrs in parser.tags if tag == "img"]
    assert [i["src"] for i in images] == ["screenshot:" + HOSTILE] * 3  # one per capture


def test_verify_md_shows_a_hostile_url_as_one_inline_code_span() -> None:
    url = "https://x.example/`\n# Heading {{ 7 * 7 }} {% if 1 %}<script>alert(1)</script>\u202e"
    text = verify_md(
        [PackagedCapture("c1", url, "ab" * 32, ())],
        package_name="p.wacz",
        fingerprint="sha256:00",
        sums_path="evidence/SHA256SUMS",
        has_custody=False,
        has_anchors=False,
    )
    line = next(line for line in text.splitlines() if line.startswith("- `c1`:"))
    shown = "`https://x.example/# Heading {{ 7 * 7 }} {% if 1 %}<script>alert(1)</script>`"
    assert line == f"- `c1`: {shown}, manifest SHA-256 `{'ab' * 32}`"
    assert "\n# Heading" not in text


def test_html_templates_escape_markdown_ones_do_not_and_nothing_is_left_undefined() -> None:
    env = environment()
    for name in env.list_templates():
        assert name.endswith((".html.j2", ".md.j2")), name
        assert env.autoescape(name) is name.endswith(".html.j2"), name
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("_summary.html.j2").render()
