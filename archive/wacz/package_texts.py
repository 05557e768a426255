"""The package's texts for its readers: the report (and its PDF), VERIFY.md, SHA256SUMS.

Each is made from what is already in the package, so it can only be written once
the files it names are in: the report from each capture's packaged files and the
custody slice, VERIFY.md from the paths its commands name, SHA256SUMS from every
entry written before it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from archive.evidence.addendum import analysis_number
from archive.evidence.signing import SignatureError, SigningKey
from archive.wacz.export_types import ExportError, ExportTampered, PdfRenderer
from archive.wacz.layout import EVIDENCE_DIR, SOFTWARE, SUMS_PATH
from archive.wacz.loading import SealedCapture
from archive.wacz.package_writer import Resource
from archive.wacz.report import collect_capture
from archive.wacz.report_view import render_report
from archive.wacz.verify_md import PackagedCapture, verify_md


def report_html(
    captures: list[SealedCapture],
    events: list[dict[str, Any]],
    created: str,
    key: SigningKey,
    package_name: str,
) -> bytes:
    """``evidence/report.html``; a capture whose manifest signature fails stops the export."""
    facts = []
    for capture in captures:
        try:
            facts.append(
                collect_capture(
                    capture.id,
                    capture_dir=capture.directory,
                    manifest_bytes=capture.manifest_bytes,
                    manifest_sha256=capture.row.manifest_sha256 or "",
                    files=capture.packaged,
                    custody=events,
                    report_dir=EVIDENCE_DIR,
                )
            )
        except SignatureError as exc:
            raise ExportTampered(
                f"capture {capture.id}: its manifest signature fails: {exc}"
            ) from exc
    text = render_report(
        facts,
        package_name=package_name,
        created=created,
        software=SOFTWARE,
        key_fingerprint=key.fingerprint,
    )
    return text.encode("utf-8")


def render_pdf(
    renderer: PdfRenderer, report: bytes, captures: list[SealedCapture], work: Path
) -> Path:
    """Have the caller's browser print the report; the screenshots sit beside it, as in the
    package (links to the sealed files, nothing copied)."""
    folder = work / "report"
    folder.mkdir()
    html_path = folder / "report.html"
    html_path.write_bytes(report)
    for capture in captures:
        for f in capture.packaged:
            if f.kind == "screenshot":
                os.symlink(capture.directory / f.name, folder / Path(f.package_path).name)
    pdf_path = folder / "report.pdf"
    try:
        renderer(html_path, pdf_path)
    except Exception as exc:
        raise ExportError(f"rendering the report as PDF failed: {exc}") from exc
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise ExportError(f"the PDF renderer wrote nothing to {pdf_path}")
    return pdf_path


def verify_guide(
    captures: list[SealedCapture],
    *,
    package_name: str,
    fingerprint: str,
    has_custody: bool,
    has_anchors: bool,
    has_embedded_anchors: bool = False,
) -> bytes:
    """``evidence/VERIFY.md``, naming each capture's tokens and addenda as packaged."""
    guide = verify_md(
        [_as_guided(c) for c in captures],
        package_name=package_name,
        fingerprint=fingerprint,
        sums_path=SUMS_PATH,
        has_custody=has_custody,
        has_anchors=has_anchors,
        has_embedded_anchors=has_embedded_anchors,
    )
    return guide.encode("utf-8")


def _as_guided(capture: SealedCapture) -> PackagedCapture:
    """The capture's own tokens, and each analysis run with the tokens over its addendum."""
    return PackagedCapture(
        capture.id,
        str(capture.manifest.get("url", "")),
        capture.row.manifest_sha256 or "",
        tuple(
            capture.evidence_path(a)
            for a in capture.others
            if a.kind == "timestamp" and analysis_number(a.path) is None
        ),
        addenda=tuple(
            number
            for a in capture.others
            if a.kind == "addendum" and (number := analysis_number(a.path)) is not None
        ),
        addendum_tokens=tuple(
            (number, capture.evidence_path(a))
            for a in capture.others
            if a.kind == "timestamp" and (number := analysis_number(a.path)) is not None
        ),
    )


def sha256sums(resources: list[Resource]) -> bytes:
    """``sha256sum -c`` input: two spaces, path from the package root, one file a line."""
    return "".join(f"{r.sha256}  {r.path}\n" for r in resources).encode("utf-8")
