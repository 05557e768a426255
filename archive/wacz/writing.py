"""The package's members, in order: each one written after every file it names.

The WARCs come first, with the index and page list that point into them; then each
capture's other sealed files, the custody slice and its anchors; then the texts
that name all of those (report, VERIFY.md, SHA256SUMS); last the datapackage, which
lists everything, and its signed digest. Scratch files (the index, the PDF) live in
a temporary folder for the length of the write.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.evidence.addendum import ANALYSIS_WARC
from archive.evidence.anchoring import PackageAnchors
from archive.evidence.custody import canonical_json
from archive.evidence.signing import SigningKey
from archive.hashing import HashingWriter
from archive.timeutil import now_rfc3339
from archive.wacz.datapackage import datapackage_json, signed_digest
from archive.wacz.export_types import PdfRenderer, Stamper
from archive.wacz.indexing import named_as_packaged, pages, write_index
from archive.wacz.layout import (
    CUSTODY_PATH,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    IMPORTED_CUSTODY_PATH,
    INDEX_PATH,
    PAGES_PATH,
    REPORT_PATH,
    REPORT_PDF_PATH,
    SUMS_PATH,
    VERIFY_PATH,
)
from archive.wacz.loading import SealedCapture
from archive.wacz.package_texts import render_pdf, report_html, sha256sums, verify_guide
from archive.wacz.package_writer import PackageWriter


@dataclass(frozen=True)
class PackageContents:
    """Everything the package is made of, settled before its first byte is written."""

    captures: list[SealedCapture]
    #: The custody slice that concerns the captures, and its anchors (when any).
    events: list[dict[str, Any]]
    anchors: PackageAnchors | None
    #: When the export started: the report's date and every entry's timestamp.
    created: str
    key: SigningKey
    package_name: str
    pdf_renderer: PdfRenderer | None = None
    stamper: Stamper | None = None
    #: Captures migrated from an embedded archive: the imported log's slice (else empty),
    #: and its head with the embedded log's own anchors within it.
    imported_events: list[dict[str, Any]] = field(default_factory=list)
    imported_anchors: PackageAnchors | None = None


def write_package(sink: HashingWriter, contents: PackageContents) -> list[str]:
    """Write every entry; return the notes for the operator (authorities that failed)."""
    package = PackageWriter(sink, datetime.fromisoformat(contents.created.replace("Z", "+00:00")))
    try:
        with tempfile.TemporaryDirectory(prefix="osint-capture-export-") as work_name:
            work = Path(work_name)
            _add_replayable(package, work, contents.captures)
            _add_evidence(package, contents)
            _add_texts(package, work, contents)
            notes = _add_signed(package, contents)
    except BaseException:
        package.abandon()
        raise
    package.close()
    return notes


def _add_replayable(package: PackageWriter, work: Path, captures: list[SealedCapture]) -> None:
    """The WARCs, each checked against its seal as it streams in; the index and pages."""
    for capture in captures:
        for warc in capture.warcs:
            package.add_file(
                capture.evidence_path(warc), capture.directory / warc.path, expected=warc
            )
    index = work / "index.cdxj"
    write_index(named_as_packaged(captures, work), index)
    package.add_file(INDEX_PATH, index)
    package.add_bytes(PAGES_PATH, pages(captures))


def _add_evidence(package: PackageWriter, contents: PackageContents) -> None:
    """Each capture's other sealed files, the custody slice, and its anchors."""
    for capture in contents.captures:
        capture.packaged.append(capture.packaged_file(capture.warc))
        for artifact in capture.others:
            if artifact.kind != ANALYSIS_WARC:  # already in, with the replayable WARCs
                package.add_file(
                    capture.evidence_path(artifact),
                    capture.directory / artifact.path,
                    expected=artifact,
                )
            capture.packaged.append(capture.packaged_file(artifact))
    if contents.events:
        # Byte for byte the log's own lines (they are canonical JSON, checked by slice_for).
        package.add_bytes(
            CUSTODY_PATH, b"".join(canonical_json(e) + b"\n" for e in contents.events)
        )
    if contents.imported_events:
        package.add_bytes(
            IMPORTED_CUSTODY_PATH,
            b"".join(canonical_json(e) + b"\n" for e in contents.imported_events),
        )
    # else: captures sealed before the custody log existed. An empty .jsonl would fail
    # ``wacz validate`` (frictionless cannot read a table with no rows); VERIFY.md says so.
    for anchors in (contents.anchors, contents.imported_anchors):
        for path, data in anchors.entries() if anchors is not None else ():
            package.add_bytes(path, data)


def _add_texts(package: PackageWriter, work: Path, contents: PackageContents) -> None:
    """The report (and its PDF), VERIFY.md, and SHA256SUMS over every entry before it."""
    captures = contents.captures
    report = report_html(
        captures, contents.events, contents.created, contents.key, contents.package_name
    )
    package.add_bytes(REPORT_PATH, report)
    if contents.pdf_renderer is not None:
        package.add_file(REPORT_PDF_PATH, render_pdf(contents.pdf_renderer, report, captures, work))
    anchors = contents.anchors
    guide = verify_guide(
        captures,
        package_name=contents.package_name,
        fingerprint=contents.key.fingerprint,
        has_custody=bool(contents.events),
        has_anchors=anchors is not None and bool(anchors.tokens),
        has_embedded_anchors=bool(contents.imported_anchors and contents.imported_anchors.tokens),
    )
    package.add_bytes(VERIFY_PATH, guide)
    package.add_bytes(SUMS_PATH, sha256sums(package.resources))


def _add_signed(package: PackageWriter, contents: PackageContents) -> list[str]:
    """The datapackage and its signed, time-stamped digest; the notes of the stamping."""
    # Signed now: what the package claims as its time is what its token is compared
    # with, so it is taken when signing, not when packaging (hours ago, for a big case).
    signed_at = now_rfc3339()
    datapackage = datapackage_json(package.resources, contents.captures, signed_at)
    package.add_unlisted(DATAPACKAGE, datapackage)
    digest, notes = signed_digest(datapackage, signed_at, contents.key, contents.stamper)
    package.add_unlisted(DATAPACKAGE_DIGEST, digest)
    return notes
