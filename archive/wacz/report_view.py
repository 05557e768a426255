"""The report's sections as data for its template, and the rendering of the whole report.

:mod:`archive.wacz.report` gathers what a capture proves (:class:`CaptureFacts`);
this module picks out, per section, what the report shows of it, and
``templates/report.html.j2`` lays that out. Values stay as recorded (a manifest
field can be any JSON value): the template shows each as text, escaped, with a
dash for one that is missing. No value is turned into markup here; the
templates write all of it, so captured text can only ever be text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from archive.evidence.addendum import MACHINE_DRAFT_NOTICE
from archive.wacz.report import (
    CaptureFacts,
    CertificateFacts,
    PackagedFile,
    TokenFacts,
    url_origin,
)
from archive.wacz.report_analysis import RunView, run_view
from archive.wacz.templating import render

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class Page:
    """What a capture's manifest says about the page and the capture, as recorded."""

    url: object
    final_url: object
    title: object
    http_status: object
    status: object
    #: Why the capture is partial, if it is.
    reasons: tuple[object, ...]
    started_at: object
    finished_at: object
    clock: object
    operator: object
    case: object
    note: object
    #: The tools the manifest names, with their versions.
    software: tuple[tuple[object, object], ...]


class Hop(NamedTuple):
    """One request of the page's redirect chain."""

    url: object
    status: object
    ip: object


class Host(NamedTuple):
    """A host that answered, and the addresses the browser connected to for it."""

    host: str
    addresses: str


@dataclass(frozen=True)
class Servers:
    """Where the page came from: its redirect chain, every host that answered."""

    #: ``None`` when the page info names no redirect chain.
    redirects: tuple[Hop, ...] | None
    hosts: tuple[Host, ...]


@dataclass(frozen=True)
class Certificate:
    """The TLS certificate section: the page's origin and what was recorded for it."""

    origin: str
    https: bool
    #: ``None`` when the WARC holds no certificate for the origin.
    facts: CertificateFacts | None
    #: How many other HTTPS origins the WARC holds certificate chains of.
    others: int


class FailedRequest(NamedTuple):
    url: object
    type: object
    error: object


@dataclass(frozen=True)
class Failures:
    """Requests that got no response, and what kept the WARC's page info from being read."""

    problems: tuple[str, ...]
    has_page_info: bool
    failed: tuple[FailedRequest, ...]


class MediaItem(NamedTuple):
    path: object
    kind: object
    url: object
    size: object
    sha256: object


class MediaDownload(NamedTuple):
    """One media request, how it was downloaded and whether the bytes were converted."""

    requested_url: object
    found_as: object
    extractor: object
    format: object
    tools: str
    conversion: str
    outcome: object


@dataclass(frozen=True)
class Media:
    items: tuple[MediaItem, ...]
    downloads: tuple[MediaDownload, ...]
    #: How many images the manifest lists besides (not shown one by one).
    images: int


class Event(NamedTuple):
    """One custody event as a row; ``details`` as canonical JSON text."""

    seq: object
    time: object
    action: object
    actor: object
    details: str
    hash: object


@dataclass(frozen=True)
class CaptureView:
    """One capture's section of the report."""

    number: int
    capture_id: str
    manifest_sha256: str
    signed_by: str | None
    page: Page
    tokens: tuple[TokenFacts, ...]
    servers: Servers
    certificate: Certificate
    #: The screenshot's path relative to the report, if there is one.
    screenshot: str | None
    files: tuple[PackagedFile, ...]
    failures: Failures
    media: Media
    analyses: tuple[RunView, ...]
    custody: tuple[Event, ...]


def render_report(
    captures: Sequence[CaptureFacts],
    *,
    package_name: str,
    created: str,
    software: str,
    key_fingerprint: str,
) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    return render(
        TEMPLATE,
        package_name=package_name,
        created=created,
        software=software,
        key_fingerprint=key_fingerprint,
        captures=[capture_view(n, c) for n, c in enumerate(captures, start=1)],
        osint_versions=_versions(captures, "osint-capture"),
        chromium_versions=_versions(captures, "chromium"),
        draft_notice=MACHINE_DRAFT_NOTICE,
    )


def capture_view(number: int, c: CaptureFacts) -> CaptureView:
    """The section of capture ``number`` (counted from 1)."""
    m = c.manifest
    info = c.warc.page_info or {}
    return CaptureView(
        number=number,
        capture_id=c.capture_id,
        manifest_sha256=c.manifest_sha256,
        signed_by=c.manifest_signed_by,
        page=_page(m),
        tokens=c.tokens,
        servers=_servers(info, c.warc.servers),
        certificate=_certificate(m.get("final_url") or m.get("url"), c.warc.certificates),
        screenshot=c.screenshot,
        files=c.files,
        failures=Failures(
            problems=tuple(c.warc.problems),
            has_page_info=bool(info),
            failed=tuple(
                FailedRequest(f.get("url"), f.get("type"), f.get("error"))
                for f in info.get("failed_requests") or []
                if isinstance(f, Mapping)
            ),
        ),
        media=_media(m),
        analyses=tuple(run_view(run) for run in c.analyses),
        custody=tuple(_event(e) for e in c.custody),
    )


def _page(m: Mapping[str, Any]) -> Page:
    return Page(
        url=m.get("url"),
        final_url=m.get("final_url"),
        title=m.get("title"),
        http_status=m.get("http_status"),
        status=m.get("status"),
        reasons=tuple(m.get("reasons") or ()),
        started_at=m.get("started_at"),
        finished_at=m.get("finished_at"),
        clock=m.get("clock"),
        operator=m.get("operator"),
        case=m.get("case"),
        note=m.get("note"),
        software=tuple((m.get("software") or {}).items()),
    )


def _servers(info: Mapping[str, Any], servers: Mapping[str, set[str]]) -> Servers:
    chain = info.get("redirect_chain") or []
    hops = tuple(
        Hop(hop.get("url"), hop.get("status"), hop.get("ip"))
        for hop in chain
        if isinstance(hop, Mapping)
    )
    hosts = tuple(
        Host(host, ", ".join(sorted(ips)) or "not reported")
        for host, ips in sorted(servers.items())
    )
    return Servers(hops if chain else None, hosts)


def _certificate(url: str | None, certificates: Mapping[str, CertificateFacts]) -> Certificate:
    origin = url_origin(url or "")
    return Certificate(
        origin=origin,
        https=origin.startswith("https://"),
        facts=certificates.get(origin),
        others=len(certificates) - 1,
    )


def _media(m: Mapping[str, Any]) -> Media:
    listed = [i for i in m.get("items") or [] if isinstance(i, Mapping)]
    items = tuple(
        MediaItem(i.get("path"), i.get("kind"), i.get("url"), i.get("size"), i.get("sha256"))
        for i in listed
        if i.get("kind") in ("media", "subtitles", "thumbnail")
    )
    downloads = tuple(
        _download(f) for f in (m.get("extra") or {}).get("media") or [] if isinstance(f, Mapping)
    )
    images = sum(1 for i in listed if i.get("kind") == "image")
    return Media(items, downloads, images)


def _download(f: Mapping[str, Any]) -> MediaDownload:
    if f.get("remuxed"):
        conversion = f"remuxed (streams copied, not re-encoded): {f.get('conversion') or ''}"
        conversion += f" [{', '.join(map(str, f.get('postprocessors') or []))}]"
    else:
        conversion = "none: the bytes are the server's"
    return MediaDownload(
        requested_url=f.get("requested_url"),
        found_as=f.get("found_as"),
        extractor=f.get("extractor"),
        format=f.get("format"),
        tools=f"yt-dlp {f.get('yt_dlp') or '?'}, ffmpeg {f.get('ffmpeg') or 'n/a'}",
        conversion=conversion,
        outcome=f.get("error") or f.get("cut") or "downloaded whole",
    )


def _event(e: Mapping[str, Any]) -> Event:
    details = json.dumps(e.get("details"), ensure_ascii=False, sort_keys=True)
    return Event(
        e.get("seq"), e.get("time"), e.get("action"), e.get("actor"), details, e.get("hash")
    )


def _versions(captures: Sequence[CaptureFacts], tool: str) -> str:
    """The versions of ``tool`` the captures' manifests name, for the declaration."""
    found = {str((c.manifest.get("software") or {}).get(tool, "")) for c in captures} - {""}
    return ", ".join(sorted(found))
