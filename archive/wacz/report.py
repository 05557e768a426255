"""The export's report: one plain, printable HTML page a lawyer or a judge can read.

A WACZ file is proof for machines; people need to see, per capture, what was asked
for, what came back, from which server, when, by whom, with which tools, and which
files carry which hashes. :func:`collect_capture` gathers those facts from a sealed
capture (its manifest, its catalog files, its WARC read as a stream, its custody
events) and :func:`render_report` writes them out, followed by a draft declaration
for the operator and a plain statement of what the signatures prove and what they
cannot.

Everything that came from a captured page (URLs, titles, errors, certificate
names, even the operator's note) is treated as hostile: every string goes through
:func:`html.escape`, nothing captured becomes a link, and the page forbids scripts
and network fetches (Content-Security-Policy), so opening the report never
contacts anyone. The page is self-contained apart from the screenshots, which
are files of the package referenced beside it (``evidence/``), not copies in the
HTML: a full-page screenshot can be tens of megabytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from warcio.archiveiterator import ArchiveIterator

from archive.evidence.addendum import analysis_number
from archive.evidence.signing import SignatureError, verify_signed
from archive.wacz.report_analysis import RunFacts, collect_analyses, recheck_token, render_analyses
from archive.wacz.report_text import declaration, what_it_proves
from archive.wacz.report_text import escape as _e

#: Page info and TLS metadata are JSON written by osint-capture: small. Anything far
#: larger is not read into memory for a report.
MAX_PAGE_INFO_BYTES = 64 * 1024 * 1024
MAX_TLS_METADATA_BYTES = 4 * 1024 * 1024
PAGE_INFO_PREFIX = "urn:pageinfo:"
TLS_METADATA = "tls-certificate-chain"
#: The manifest's signature file in a capture directory (named by capture/sealing.py).
SIGNATURE_NAME = "manifest.sig.json"

#: Scripts, frames, fonts and fetches are all refused; images only from files beside
#: the report. A hostile string that slipped through escaping still could not act.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' file: data:; "
    "base-uri 'none'; form-action 'none'"
)

REPORT_CSS = """
body { font: 10.5pt/1.45 Georgia, "Times New Roman", serif; color: #000; background: #fff;
       max-width: 60em; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 18pt; margin-bottom: .2em; }
h2 { font-size: 14pt; border-bottom: 1px solid #000; margin-top: 2em; }
h3 { font-size: 11.5pt; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
th, td { border: 1px solid #999; padding: .25em .45em; text-align: left; vertical-align: top; }
th { background: #eee; width: 14em; font-weight: normal; }
thead th { width: auto; font-weight: bold; }
code, .hash, .mono { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 8.5pt;
                     overflow-wrap: anywhere; }
.url { overflow-wrap: anywhere; }
.note { color: #333; font-style: italic; }
.warning { border: 2px solid #000; padding: .5em .8em; }
figure { margin: 1em 0; page-break-inside: auto; }
figure img { max-width: 100%; border: 1px solid #999; }
figcaption { font-size: 9pt; margin-bottom: .4em; }
section.capture { page-break-before: always; }
section.declaration { page-break-before: always; }
.blank { display: inline-block; min-width: 16em; border-bottom: 1px solid #000; }
.signature-line { margin-top: 3em; }
.reading { border-left: 3px dashed #666; padding-left: .6em; margin: .6em 0; }
@media print { body { margin: 0; max-width: none; } a { color: #000; text-decoration: none; } }
"""


# -- facts gathered for each capture ----------------------------------------------------------


@dataclass(frozen=True)
class PackagedFile:
    """A file of a capture and where its copy sits in the package."""

    #: The name in the capture's directory (what the manifest and the catalog say).
    name: str
    #: The path inside the package, from its root.
    package_path: str
    kind: str
    sha256: str
    size: int


@dataclass(frozen=True)
class CertificateFacts:
    """The leaf certificate an HTTPS origin presented, as the browser reported it."""

    origin: str
    subject: str | None = None
    issuer: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    names: tuple[str, ...] = ()
    protocol: str | None = None
    #: Why the certificate could not be read, when it could not.
    problem: str | None = None


@dataclass
class WarcFacts:
    """What the report needs from a capture's WARC, gathered in one streaming pass."""

    #: Every host the browser got a response from, with the addresses it connected to.
    servers: dict[str, set[str]] = field(default_factory=dict)
    #: The ``urn:pageinfo:`` record's JSON, when there is one.
    page_info: dict[str, Any] | None = None
    certificates: dict[str, CertificateFacts] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TokenFacts:
    """An RFC 3161 token over a capture's manifest, and what could be said about it here."""

    package_path: str
    chain_path: str | None
    #: The TSA's time, from the ``timestamped`` custody event written when the token
    #: was received and verified.
    gen_time: str | None
    tsa: str | None
    custody_seq: int | None
    #: Whether it verifies again now, against the public roots, in words.
    check: str


@dataclass(frozen=True)
class CaptureFacts:
    """Everything the report shows about one capture."""

    capture_id: str
    manifest: dict[str, Any]
    manifest_sha256: str
    files: tuple[PackagedFile, ...]
    #: The full-page screenshot's path relative to the report, if the capture has one.
    screenshot: str | None
    tokens: tuple[TokenFacts, ...]
    warc: WarcFacts
    custody: tuple[dict[str, Any], ...]
    #: The fingerprint of the key that signed the manifest (checked when collected), or
    #: ``None`` for a capture sealed before osint-capture signed manifests.
    manifest_signed_by: str | None
    #: The capture's analysis addenda in the package (machine drafts), oldest first.
    analyses: tuple[RunFacts, ...] = ()


def collect_capture(
    capture_id: str,
    *,
    capture_dir: Path,
    manifest_bytes: bytes,
    manifest_sha256: str,
    files: Sequence[PackagedFile],
    custody: Iterable[Mapping[str, Any]],
    report_dir: str,
) -> CaptureFacts:
    """Gather one capture's facts. Blocking: reads the WARC through once.

    ``files`` are the capture's files as packaged; ``report_dir`` is the package
    folder the report sits in, so the screenshot can be referenced beside it.
    Raises :class:`SignatureError` when the manifest has a signature that does not hold.
    """
    manifest = json.loads(manifest_bytes)
    signed_by = None
    if any(f.name == SIGNATURE_NAME for f in files):
        try:
            record = json.loads((capture_dir / SIGNATURE_NAME).read_bytes())
        except ValueError as exc:
            raise SignatureError(f"{SIGNATURE_NAME} is not JSON: {exc}") from exc
        verify_signed(record, manifest_bytes)
        signed_by = str(record["fingerprint"])
    events = tuple(dict(e) for e in custody if capture_id in e.get("captures", ()))
    warc_name = manifest.get("warc")
    warc = read_warc_facts(capture_dir / warc_name) if warc_name else WarcFacts()
    screenshot = next((f for f in files if f.kind == "screenshot"), None)
    return CaptureFacts(
        capture_id=capture_id,
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        files=tuple(files),
        screenshot=_relative_to(screenshot.package_path, report_dir) if screenshot else None,
        tokens=tuple(_token_facts(capture_dir, files, manifest_sha256, events)),
        warc=warc,
        custody=events,
        manifest_signed_by=signed_by,
        analyses=tuple(collect_analyses(capture_dir, files, events)),
    )


def read_warc_facts(path: Path) -> WarcFacts:
    """Server addresses, page info and TLS certificates from a WARC, read as a stream.

    Only the page info record and the TLS metadata records are read into memory
    (both small JSON written by osint-capture, and capped); every other payload is
    skipped as the iterator passes it.
    """
    facts = WarcFacts()
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type == "response":
                ip = record.rec_headers.get_header("WARC-IP-Address")
                host = _host(uri)
                if host:
                    addresses = facts.servers.setdefault(host, set())
                    if ip:
                        addresses.add(ip)
            elif record.rec_type == "resource" and uri.startswith(PAGE_INFO_PREFIX):
                data = _read_capped(record, MAX_PAGE_INFO_BYTES)
                if data is None:
                    facts.problems.append("the page info record is too large to read for a report")
                else:
                    try:
                        info = json.loads(data)
                    except ValueError as exc:
                        facts.problems.append(f"the page info record is not JSON: {exc}")
                    else:
                        if isinstance(info, dict):
                            facts.page_info = info
                        else:
                            facts.problems.append("the page info record is not a JSON object")
            elif (
                record.rec_type == "metadata"
                and record.rec_headers.get_header("X-Osint-Metadata") == TLS_METADATA
            ):
                certificate = _certificate_facts(uri, _read_capped(record, MAX_TLS_METADATA_BYTES))
                facts.certificates[certificate.origin] = certificate
    return facts


# -- rendering ----------------------------------------------------------------------------------


def render_report(
    captures: Sequence[CaptureFacts],
    *,
    package_name: str,
    created: str,
    software: str,
    key_fingerprint: str,
) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Capture report: {_e(package_name)}</title>",
        f"<style>{REPORT_CSS}</style>",
        "</head><body>",
        f"<h1>Capture report: <span class='mono'>{_e(package_name)}</span></h1>",
        _summary(captures, package_name, created, software, key_fingerprint),
        what_it_proves(key_fingerprint, created, package_name),
    ]
    parts += [_capture_section(number, c) for number, c in enumerate(captures, start=1)]
    parts.append(declaration(captures, package_name, created, software, key_fingerprint))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _summary(
    captures: Sequence[CaptureFacts],
    package_name: str,
    created: str,
    software: str,
    key_fingerprint: str,
) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{number}</td>"
        f"<td class='url'>{_e(c.manifest.get('url'))}</td>"
        f"<td>{_e(c.manifest.get('started_at'))}</td>"
        f"<td>{_e(c.manifest.get('status'))}</td>"
        f"<td class='mono'>{_e(c.capture_id)}</td>"
        "</tr>"
        for number, c in enumerate(captures, start=1)
    )
    return (
        "<table>"
        f"<tr><th>Package</th><td class='mono'>{_e(package_name)}</td></tr>"
        f"<tr><th>Packaging started</th><td>{_e(created)} (system clock of the packaging machine,"
        " UTC)</td></tr>"
        f"<tr><th>Packaged with</th><td>{_e(software)}</td></tr>"
        f"<tr><th>Signing key</th><td class='hash'>{_e(key_fingerprint)}</td></tr>"
        f"<tr><th>Captures</th><td>{len(captures)}</td></tr>"
        "</table>"
        "<table><thead><tr><th>#</th><th>Requested URL</th><th>Capture started (UTC)</th>"
        f"<th>Status</th><th>Capture id</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p class='note'>Each file named in this report is in the package; "
        "<code>evidence/VERIFY.md</code> explains how to check every hash and signature by"
        " hand.</p>"
    )


def _capture_section(number: int, c: CaptureFacts) -> str:
    m = c.manifest
    info = c.warc.page_info or {}
    software = m.get("software") or {}
    reasons = m.get("reasons") or []
    rows = [
        ("Capture id", f"<span class='mono'>{_e(c.capture_id)}</span>"),
        ("Requested URL", f"<span class='url'>{_e(m.get('url'))}</span>"),
        ("Final URL", f"<span class='url'>{_e(m.get('final_url'))}</span>"),
        ("Page title", _e(m.get("title"))),
        ("HTTP status", _e(m.get("http_status"))),
        ("Status", _e(m.get("status"))),
        ("Capture started", f"{_e(m.get('started_at'))} UTC (capturing machine's clock)"),
        ("Capture finished", f"{_e(m.get('finished_at'))} UTC (capturing machine's clock)"),
        ("Clock", _e(m.get("clock"))),
        ("Trusted time", _trusted_time(c.tokens, m.get("finished_at"))),
        ("Operator", _e(m.get("operator"))),
        ("Case", _e(m.get("case"))),
        ("Note", _e(m.get("note"))),
        ("Manifest SHA-256", f"<span class='hash'>{_e(c.manifest_sha256)}</span>"),
        (
            "Manifest signed by",
            f"<span class='hash'>{_e(c.manifest_signed_by)}</span> (signature checked when"
            " this package was made)"
            if c.manifest_signed_by
            else "not signed: the capture was sealed before osint-capture signed manifests",
        ),
    ]
    if reasons:
        rows.insert(6, ("Why partial", _list(reasons)))
    parts = [
        f"<section class='capture' id='capture-{_e(c.capture_id)}'>",
        f"<h2>Capture {number}: <span class='url'>{_e(m.get('url'))}</span></h2>",
        _table(rows),
        "<h3>Tools</h3>",
        _table([(name, _e(version)) for name, version in software.items()])
        if software
        else "<p>The manifest names no software.</p>",
        "<h3>Servers</h3>",
        _servers(info, c.warc),
        "<h3>TLS certificate of the page's origin</h3>",
        _certificate(m.get("final_url") or m.get("url"), c.warc),
        "<h3>Full-page screenshot</h3>",
        _screenshot(c),
        "<h3>Files</h3>",
        _files(c.files),
        "<h3>Resources that failed to load</h3>",
        _failed(info, c.warc),
        "<h3>Media downloaded, and conversions</h3>",
        _media(m),
        render_analyses(c.analyses),
        "<h3>Chain of custody</h3>",
        _custody(c.custody),
        "</section>",
    ]
    return "\n".join(parts)


def _trusted_time(tokens: Sequence[TokenFacts], finished_at: object) -> str:
    """Each token's time as what is proven: the manifest existed no later than that."""
    if not tokens:
        return (
            "none: no time-stamp token was obtained for this capture, so nothing independent"
            " of the capturing machine's clock proves when it was made; a verification"
            " reports it as not authenticated"
        )
    items = []
    for token in tokens:
        when = _e(token.gen_time) if token.gen_time else "a time not recorded in custody"
        tsa = f" by {_e(token.tsa)}" if token.tsa else ""
        seq = f" (custody seq {token.custody_seq})" if token.custody_seq is not None else ""
        chain = f", chain <code>{_e(token.chain_path)}</code>" if token.chain_path else ""
        items.append(
            f"<strong>Proven no later than {when}</strong>{tsa}{seq}; the capturing machine's"
            f" clock says it finished at {_e(finished_at)}. Token"
            f" <code>{_e(token.package_path)}</code>{chain}. {_e(token.check)}"
        )
    return _list(items, escaped=True)


def _servers(info: Mapping[str, Any], warc: WarcFacts) -> str:
    parts = []
    chain = info.get("redirect_chain") or []
    if chain:
        parts.append(
            "<table><thead><tr><th>Page request (redirects in order)</th><th>HTTP status</th>"
            "<th>Server address</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td class='url'>{_e(hop.get('url'))}</td><td>{_e(hop.get('status'))}</td>"
                f"<td class='mono'>{_e(hop.get('ip'))}</td></tr>"
                for hop in chain
                if isinstance(hop, Mapping)
            )
            + "</tbody></table>"
        )
    if warc.servers:
        parts.append(
            "<table><thead><tr><th>Every host that answered</th><th>Addresses connected to"
            " (WARC-IP-Address)</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td class='url'>{_e(host)}</td>"
                f"<td class='mono'>{_e(', '.join(sorted(ips)) or 'not reported')}</td></tr>"
                for host, ips in sorted(warc.servers.items())
            )
            + "</tbody></table>"
        )
    if not parts:
        return "<p>No server addresses were recorded.</p>"
    return "".join(parts)


def _certificate(url: str | None, warc: WarcFacts) -> str:
    origin = _origin(url or "")
    if not origin.startswith("https://"):
        return "<p>Not applicable: the page was not loaded over HTTPS.</p>"
    cert = warc.certificates.get(origin)
    if cert is None:
        return f"<p>No certificate was recorded for {_e(origin)}.</p>"
    if cert.problem:
        return f"<p>Certificate of {_e(origin)}: {_e(cert.problem)}.</p>"
    rows = [
        ("Origin", _e(origin)),
        ("Subject", f"<span class='mono'>{_e(cert.subject)}</span>"),
        ("Issuer", f"<span class='mono'>{_e(cert.issuer)}</span>"),
        ("Valid from", f"{_e(cert.not_before)} UTC"),
        ("Valid until", f"{_e(cert.not_after)} UTC"),
        ("Names (SAN)", _e(", ".join(cert.names)) if cert.names else "none"),
        ("TLS", _e(cert.protocol)),
    ]
    others = len(warc.certificates) - 1
    note = (
        f"<p class='note'>The WARC holds the certificate chains of {others} other HTTPS"
        " origin(s) the page loaded from, in metadata records.</p>"
        if others > 0
        else ""
    )
    return _table(rows) + note


def _screenshot(c: CaptureFacts) -> str:
    if c.screenshot is None:
        return "<p>This capture has no full-page screenshot.</p>"
    m = c.manifest
    return (
        "<figure><figcaption>"
        f"<span class='url'>{_e(m.get('final_url') or m.get('url'))}</span><br>"
        f"captured {_e(m.get('started_at'))} to {_e(m.get('finished_at'))} UTC;"
        f" file <code>{_e(c.screenshot)}</code>"
        "</figcaption>"
        f"<img src='{_e(c.screenshot)}' alt='full-page screenshot of capture {_e(c.capture_id)}'>"
        "</figure>"
    )


def _files(files: Sequence[PackagedFile]) -> str:
    rows = "".join(
        f"<tr><td class='mono'>{_e(f.name)}</td><td class='mono'>{_e(f.package_path)}</td>"
        f"<td>{_e(f.kind)}</td><td>{f.size:,}</td><td class='hash'>{_e(f.sha256)}</td></tr>"
        for f in files
    )
    return (
        "<table><thead><tr><th>File (as sealed)</th><th>In this package</th><th>Kind</th>"
        f"<th>Bytes</th><th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _failed(info: Mapping[str, Any], warc: WarcFacts) -> str:
    notes = "".join(f"<p class='note'>{_e(p)}</p>" for p in warc.problems)
    if not info:
        return notes + "<p>No page info record was found in the WARC.</p>"
    failed = [f for f in info.get("failed_requests") or [] if isinstance(f, Mapping)]
    if not failed:
        return notes + "<p>None: every request the page made got a response.</p>"
    rows = "".join(
        f"<tr><td class='url'>{_e(f.get('url'))}</td><td>{_e(f.get('type'))}</td>"
        f"<td class='mono'>{_e(f.get('error'))}</td></tr>"
        for f in failed
    )
    return (
        notes + "<table><thead><tr><th>URL</th><th>Type</th><th>Error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _media(m: Mapping[str, Any]) -> str:
    items = [
        i
        for i in m.get("items") or []
        if isinstance(i, Mapping) and i.get("kind") in ("media", "subtitles", "thumbnail")
    ]
    facts = [f for f in (m.get("extra") or {}).get("media") or [] if isinstance(f, Mapping)]
    images = sum(
        1 for i in m.get("items") or [] if isinstance(i, Mapping) and i.get("kind") == "image"
    )
    image_note = (
        f"<p class='note'>The manifest also lists {images} image(s) the page loaded, each"
        " with its URL and SHA-256 (<code>items</code>).</p>"
        if images
        else ""
    )
    if not items and not facts:
        return "<p>None: no video or audio was downloaded for this capture.</p>" + image_note
    parts = []
    if items:
        parts.append(
            "<table><thead><tr><th>File</th><th>Kind</th><th>Source URL</th><th>Bytes</th>"
            "<th>SHA-256</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td class='mono'>{_e(i.get('path'))}</td><td>{_e(i.get('kind'))}</td>"
                f"<td class='url'>{_e(i.get('url'))}</td><td>{_e(i.get('size'))}</td>"
                f"<td class='hash'>{_e(i.get('sha256'))}</td></tr>"
                for i in items
            )
            + "</tbody></table>"
        )
    if facts:
        parts.append(
            "<table><thead><tr><th>Requested</th><th>Extractor / format</th>"
            "<th>Conversion</th><th>Outcome</th></tr></thead><tbody>"
            + "".join(_media_row(f) for f in facts)
            + "</tbody></table>"
        )
    return "".join(parts) + image_note


def _media_row(f: Mapping[str, Any]) -> str:
    if f.get("remuxed"):
        conversion = f"remuxed (streams copied, not re-encoded): {f.get('conversion') or ''}"
        conversion += f" [{', '.join(map(str, f.get('postprocessors') or []))}]"
    else:
        conversion = "none: the bytes are the server's"
    outcome = f.get("error") or f.get("cut") or "downloaded whole"
    tools = f"yt-dlp {f.get('yt_dlp') or '?'}, ffmpeg {f.get('ffmpeg') or 'n/a'}"
    return (
        f"<tr><td class='url'>{_e(f.get('requested_url'))} ({_e(f.get('found_as'))})</td>"
        f"<td>{_e(f.get('extractor'))} / {_e(f.get('format'))}<br><span class='note'>"
        f"{_e(tools)}</span></td><td>{_e(conversion)}</td><td>{_e(outcome)}</td></tr>"
    )


def _custody(events: Sequence[Mapping[str, Any]]) -> str:
    if not events:
        return "<p>No custody events name this capture.</p>"
    rows = "".join(
        f"<tr><td>{_e(e.get('seq'))}</td><td>{_e(e.get('time'))}</td>"
        f"<td>{_e(e.get('action'))}</td><td>{_e(e.get('actor'))}</td>"
        f"<td class='mono'>{_e(json.dumps(e.get('details'), ensure_ascii=False, sort_keys=True))}"
        f"</td><td class='hash'>{_e(e.get('hash'))}</td></tr>"
        for e in events
    )
    return (
        "<table><thead><tr><th>Seq</th><th>Time (UTC, system clock)</th><th>Action</th>"
        "<th>Actor</th><th>Details</th><th>Event hash</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        "<p class='note'>The whole chain, from the first event about these captures to the"
        " log's head when the package was made, is <code>evidence/custody.jsonl</code>.</p>"
    )


# -- helpers ------------------------------------------------------------------------------------


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """Rows of (label, already-escaped value); labels are escaped here."""
    body = "".join(f"<tr><th>{_e(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{body}</table>"


def _list(items: Sequence[str], *, escaped: bool = False) -> str:
    return "<ul>" + "".join(f"<li>{i if escaped else _e(i)}</li>" for i in items) + "</ul>"


def _relative_to(package_path: str, report_dir: str) -> str:
    prefix = report_dir.rstrip("/") + "/"
    return package_path[len(prefix) :] if package_path.startswith(prefix) else "../" + package_path


def _host(url: str) -> str | None:
    """The host of a captured URL; ``None`` for one too malformed to parse."""
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket: hostile URLs exist
        return None


def _origin(url: str) -> str:
    """``scheme://netloc`` of a URL, or ``""`` when it cannot be parsed."""
    try:
        split = urlsplit(url)
    except ValueError:
        return ""
    return f"{split.scheme}://{split.netloc}"


def _read_capped(record: Any, limit: int) -> bytes | None:
    data = record.content_stream().read(limit + 1)
    return None if len(data) > limit else data


def _certificate_facts(uri: str, data: bytes | None) -> CertificateFacts:
    origin = _origin(uri)
    if data is None:
        return CertificateFacts(origin, problem="the TLS metadata record is too large to read")
    try:
        info = json.loads(data)
    except ValueError as exc:
        return CertificateFacts(origin, problem=f"the TLS metadata record is not JSON: {exc}")
    if not isinstance(info, dict):
        return CertificateFacts(origin, problem="the TLS metadata record is not a JSON object")
    origin = str(info.get("origin") or origin)
    details = info.get("security_details") or {}
    protocol = details.get("protocol") if isinstance(details, Mapping) else None
    chain = info.get("certificate_chain_pem") or []
    if not chain:
        why = info.get("certificate_error") or "the browser handed over no certificate"
        return CertificateFacts(origin, protocol=protocol, problem=str(why))
    try:
        cert = x509.load_pem_x509_certificate(str(chain[0]).encode("ascii"))
    except ValueError as exc:
        return CertificateFacts(origin, protocol=protocol, problem=f"unreadable PEM: {exc}")
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(str(getattr(n, "value", n)) for n in san)
    except (x509.ExtensionNotFound, ValueError):
        names = ()
    return CertificateFacts(
        origin=origin,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=_utc(cert.not_valid_before_utc),
        not_after=_utc(cert.not_valid_after_utc),
        names=names,
        protocol=protocol,
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_facts(
    capture_dir: Path,
    files: Sequence[PackagedFile],
    manifest_sha256: str,
    events: Sequence[Mapping[str, Any]],
) -> list[TokenFacts]:
    stamped = {
        str(e["details"].get("token")): e
        for e in events
        if e.get("action") == "timestamped" and isinstance(e.get("details"), Mapping)
    }
    by_name = {f.name: f for f in files}
    tokens = []
    for f in files:
        if f.kind != "timestamp" or analysis_number(f.name) is not None:
            continue  # an addendum's tokens stamp the addendum, not the manifest
        event = stamped.get(f.name)
        details = event["details"] if event else {}
        chain_name = f.name.removesuffix(".tsr") + ".chain.pem"
        chain = by_name.get(chain_name)
        tokens.append(
            TokenFacts(
                package_path=f.package_path,
                chain_path=chain.package_path if chain else None,
                gen_time=details.get("gen_time"),
                tsa=details.get("tsa"),
                custody_seq=event.get("seq") if event else None,
                check=recheck_token(capture_dir / f.name, manifest_sha256),
            )
        )
    return tokens
