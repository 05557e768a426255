"""The signed WACZ export: sealed captures, packaged for someone else to check and replay.

One ``.wacz`` file (WACZ 1.1.1) holds the captures' WARC files byte for byte, an
index and a page list so ReplayWeb.page and pywb replay them, and beside them the
evidence a court needs: each capture's manifest, its signature, its time-stamp
tokens and other sealed files, the slice of the chain of custody that concerns
them, a report for people, a ``SHA256SUMS`` for ``sha256sum -c`` and a
``VERIFY.md`` saying how to check it all by hand. ``datapackage.json`` lists every
file with its SHA-256; ``datapackage-digest.json`` carries its hash and the
installation's anonymous WACZ signature over it.

Layout of the package::

    archive/<capture-id>.warc.gz            the sealed WARC, copied untouched (ZIP_STORED)
    indexes/index.cdxj                      CDXJ of every WARC (cdxj-indexer, as py-wacz)
    pages/pages.jsonl                       one page per capture
    evidence/<capture-id>.manifest.json     every other sealed file of each capture,
    evidence/<capture-id>.manifest.sig.json   its name prefixed with the capture id
    evidence/<capture-id>.screenshot.png
    evidence/<capture-id>.timestamp-N.tsr   (and .chain.pem, media files, ...)
    evidence/custody.jsonl                  the custody events, one per line, as logged
    evidence/custody-head.json              the slice's last event and its anchors
    evidence/custody-anchor-<seq>-<n>.tsr   each anchor of the slice (archive.evidence.anchors)
    evidence/report.html                    (and report.pdf when a renderer is given)
    evidence/VERIFY.md
    evidence/SHA256SUMS                     every file above; not datapackage*.json
    datapackage.json
    datapackage-digest.json

Why ``evidence/<capture-id>.<name>`` and not ``captures/<capture-id>/<name>``:
py-wacz's validator (``wacz validate``) names each file by its last two path
components and looks that up in ``datapackage.json``, so any file that is not
exactly one folder deep fails validation. A flat folder, with the capture id
in each name, keeps every file checkable by the reference validator.

Evidence rules kept here, as in :mod:`archive.store`:

- every byte is hashed as it goes into the package, and each sealed file is
  compared with the SHA-256 the catalog recorded when it was sealed: a file that
  changed since is refused, never packaged;
- large files stream through (1 MiB at a time); nothing large is held in memory;
- the package is written through a hashing writer under a temporary name in the
  output folder, fsynced, then linked to its final name, which is never replaced;
  a crash leaves only a ``.partial`` file;
- the export is a custody event (``exported``), written once the file is in place;
  if that fails, the file is removed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cdxj_indexer.main import CDXJIndexer

from archive import __version__
from archive.catalog import CaptureRow
from archive.datadir import Archive
from archive.errors import Failed, Tampered
from archive.evidence.addendum import ANALYSIS_WARC, analysis_number
from archive.evidence.anchoring import Anchoring, AnchorRun, PackageAnchors, package_anchors
from archive.evidence.custody import CustodyError, canonical_json
from archive.evidence.signing import SignatureError, SigningKey, signature_to_b64
from archive.hashing import CHUNK_SIZE, HashingWriter
from archive.manifest import MANIFEST_NAME
from archive.store import Artifact, fsync_dir
from archive.timeutil import now_rfc3339
from archive.wacz.report import PackagedFile, collect_capture
from archive.wacz.report_view import render_report
from archive.wacz.verify_md import PackagedCapture, verify_md

WACZ_VERSION = "1.1.1"
SOFTWARE = f"osint-capture {__version__}"
WACZ_SUFFIX = ".wacz"
PARTIAL_SUFFIX = ".partial"
EXPORT_MODE = 0o444

ARCHIVE_DIR = "archive"
EVIDENCE_DIR = "evidence"
INDEX_PATH = "indexes/index.cdxj"
PAGES_PATH = "pages/pages.jsonl"
CUSTODY_PATH = f"{EVIDENCE_DIR}/custody.jsonl"
REPORT_PATH = f"{EVIDENCE_DIR}/report.html"
REPORT_PDF_PATH = f"{EVIDENCE_DIR}/report.pdf"
VERIFY_PATH = f"{EVIDENCE_DIR}/VERIFY.md"
SUMS_PATH = f"{EVIDENCE_DIR}/SHA256SUMS"
DATAPACKAGE = "datapackage.json"
DATAPACKAGE_DIGEST = "datapackage-digest.json"

#: Only sealed captures are evidence; the others have nothing (or nothing final) to export.
EXPORTABLE_STATUSES = ("complete", "partial")
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
#: Record types replay needs. Metadata records are left out of the index: osint-capture
#: writes them at real URLs (TLS details at ``https://origin/``, media info at the media's
#: URL), where a replay tool could serve the JSON in place of the page or the video.
INDEX_RECORDS = "response,revisit,resource"
#: As py-wacz: referrers for page detection, cookies for replay of cookie-keyed responses.
INDEX_FIELDS = "referrer,req.http:cookie"
#: The custody lines' schema, stated so that frictionless (which ``wacz validate`` runs)
#: does not guess types from a sample: a few numeric-looking actor names would make it
#: call the column an integer and reject the rest.
CUSTODY_SCHEMA = {
    # In the order of the columns: canonical JSON sorts keys, and frictionless matches
    # schema fields to columns by position.
    "fields": [
        {"name": "action", "type": "string"},
        {"name": "actor", "type": "string"},
        {"name": "captures", "type": "array"},
        {"name": "clock", "type": "string"},
        {"name": "details", "type": "object"},
        {"name": "hash", "type": "string"},
        {"name": "prev", "type": "string"},
        {"name": "seq", "type": "integer"},
        {"name": "time", "type": "string"},
    ]
}
#: Text is deflated; everything else (WARCs are gzip already, images, PDFs, tokens) stored.
_DEFLATED_SUFFIXES = (".cdxj", ".jsonl", ".json", ".html", ".md", ".pem", ".txt", "SHA256SUMS")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RESOURCE_NAME_UNSAFE = re.compile(r"[^a-z0-9._/-]")

PdfRenderer = Callable[[Path, Path], None]


#: Given the SHA-256 of the package signature, returns ``{"tsa", "token" (base64 of the
#: TSA's reply), "gen_time"}`` for each token obtained, or ``{"tsa", "error"}``.
Stamper = Callable[[bytes], list[dict[str, str]]]


class ExportError(Failed):
    """The export was refused or could not be completed; nothing was left under its name."""


class ExportTampered(ExportError, Tampered):
    """A file to export (or its manifest's signature) is not what was sealed: the export
    is abandoned rather than package it."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    size: int
    captures: tuple[str, ...]
    #: What the operator must know about the package: each time-stamp authority that
    #: gave no token (a package without trusted time verifies only as "not authenticated").
    notes: tuple[str, ...] = ()
    #: The anchoring of the custody head done for this export, when TSAs were given.
    custody_anchors: AnchorRun | None = None


@dataclass(frozen=True)
class _Resource:
    path: str
    sha256: str
    size: int


@dataclass
class _Capture:
    """One capture being exported: its row, its manifest, its files and where they go."""

    row: CaptureRow
    directory: Path
    manifest_bytes: bytes
    manifest: dict[str, Any]
    warc: Artifact
    others: list[Artifact]
    packaged: list[PackagedFile] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def warcs(self) -> list[Artifact]:
        """The capture's WARC, then the WARCs of its analysis runs (addenda)."""
        return [self.warc, *(a for a in self.others if a.kind == ANALYSIS_WARC)]

    def evidence_path(self, artifact: Artifact) -> str:
        if artifact.kind == "warc":
            return f"{ARCHIVE_DIR}/{artifact.path}"
        if artifact.kind == ANALYSIS_WARC:
            # Replayable and indexed like the capture's WARC; named by the capture, since
            # every capture has an analysis-1.
            return f"{ARCHIVE_DIR}/{self.id}.{artifact.path}"
        return f"{EVIDENCE_DIR}/{self.id}.{artifact.path}"


def export_wacz(
    archive: Archive,
    capture_ids: list[str],
    out: Path,
    *,
    actor: str,
    pdf_renderer: PdfRenderer | None = None,
    stamper: Stamper | None = None,
    anchoring: Anchoring | None = None,
) -> ExportResult:
    """Package sealed captures into a signed WACZ at ``out``; record it in custody.

    ``stamper(digest)`` returns RFC 3161 tokens over the SHA-256 of the package
    signature; they go into ``datapackage-digest.json`` beside the signature they
    stamp (they cannot be listed in the datapackage the signature covers).
    ``anchoring`` anchors the custody slice's last event with its TSAs; the package
    carries that head and every anchor of the slice (:func:`package_anchors`).

    Blocking (reads and writes every byte of the captures): run it in a thread from
    async code. ``pdf_renderer(html_path, pdf_path)`` turns the report into a PDF
    (the caller has a browser; this package has none); the screenshots the report
    shows sit beside ``html_path``. Raises :class:`ExportError` for an unknown or
    unsealed capture, an existing ``out``, a custody log that does not verify, or a
    sealed file that no longer has its recorded hash.
    """
    out = Path(out)
    _check_output(out)
    key = archive.signing_key()
    captures = [_load_capture(archive, capture_id) for capture_id in _ids(capture_ids)]
    custody = archive.custody
    try:
        events = custody.slice_for([c.id for c in captures])
        anchors = package_anchors(custody, events, anchoring, actor=actor)
    except CustodyError as exc:
        raise ExportError(f"refusing to export: {exc}") from exc
    created = now_rfc3339()

    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        with open(partial, "xb") as raw:
            sink = HashingWriter(raw)
            notes = _write_package(
                sink, captures, events, anchors, created, key, out.name, pdf_renderer, stamper
            )
            sink.flush()
            os.fsync(raw.fileno())
        _link_into_place(partial, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    os.chmod(out, EXPORT_MODE)
    fsync_dir(out.parent)

    run = anchors.run if anchors is not None else None
    result = ExportResult(
        out, sink.sha256, sink.size, tuple(c.id for c in captures), tuple(notes), run
    )
    try:
        custody.append(
            "exported",
            actor=actor,
            captures=list(result.captures),
            details={
                "sha256": result.sha256,
                "size": result.size,
                "captures": len(result.captures),
                "format": f"WACZ {WACZ_VERSION}",
                "signed_by": key.fingerprint,
            },
        )
    except BaseException:
        # An export the chain of custody does not know of must not circulate.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out)
        raise
    return result


# -- checks before anything is written ----------------------------------------------------------


def _check_output(out: Path) -> None:
    if not out.name.endswith(WACZ_SUFFIX):
        raise ExportError(f"refusing to write {out}: a WACZ file's name must end in {WACZ_SUFFIX}")
    if out.exists() or out.is_symlink():
        raise ExportError(f"refusing to export to {out}: the file exists (choose a new name)")
    if not out.parent.is_dir():
        raise ExportError(f"cannot export to {out}: the folder {out.parent} does not exist")


def _ids(capture_ids: Sequence[str]) -> list[str]:
    if isinstance(capture_ids, str):
        raise TypeError("capture_ids is a list of capture ids, not one string")
    if not capture_ids:
        raise ExportError("nothing to export: no capture ids given")
    seen: set[str] = set()
    for capture_id in capture_ids:
        if capture_id in seen:
            raise ExportError(f"capture {capture_id} is listed twice")
        seen.add(capture_id)
    return list(capture_ids)


def _load_capture(archive: Archive, capture_id: str) -> _Capture:
    catalog = archive.catalog
    row = catalog.get_capture(capture_id)
    if row is None:
        raise ExportError(f"no capture {capture_id!r} in the catalog of {archive.root}")
    if row.status not in EXPORTABLE_STATUSES or row.manifest_sha256 is None:
        raise ExportError(
            f"capture {capture_id} is {row.status}: only sealed captures (complete or partial)"
            " can be exported"
        )
    if not _SAFE_NAME.fullmatch(capture_id):
        raise ExportError(f"capture id {capture_id!r} cannot be used as a file name")
    directory = archive.store.capture_dir(capture_id)
    artifacts = catalog.artifacts(capture_id)
    for artifact in artifacts:
        if not _SAFE_NAME.fullmatch(artifact.path):
            raise ExportError(
                f"capture {capture_id}: the catalog lists a file named {artifact.path!r},"
                " which is not a plain file name; refusing to package it"
            )
    warcs = [a for a in artifacts if a.kind == "warc"]
    if len(warcs) != 1 or warcs[0].path != row.warc:
        raise ExportError(
            f"capture {capture_id}: the catalog lists {len(warcs)} WARC file(s)"
            f" ({', '.join(a.path for a in warcs) or 'none'}), expected exactly {row.warc}"
        )
    try:
        manifest_bytes = (directory / MANIFEST_NAME).read_bytes()
    except OSError as exc:
        raise ExportError(f"capture {capture_id}: cannot read its manifest: {exc}") from exc
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if actual != row.manifest_sha256:
        raise ExportTampered(
            f"capture {capture_id}: manifest.json has SHA-256 {actual} but the catalog recorded"
            f" {row.manifest_sha256} when it was sealed; it changed since and will not be"
            " exported"
        )
    return _Capture(
        row=row,
        directory=directory,
        manifest_bytes=manifest_bytes,
        manifest=json.loads(manifest_bytes),
        warc=warcs[0],
        others=[a for a in artifacts if a.kind != "warc"],
    )


# -- writing the package ------------------------------------------------------------------------


class _Package:
    """A WACZ being written: every entry hashed as it goes in, and remembered."""

    def __init__(self, sink: HashingWriter, created: datetime) -> None:
        # ``sink`` cannot seek, so zipfile writes sizes after each entry (data descriptors):
        # the file is written strictly forward, through the whole-file hash.
        self.zip = zipfile.ZipFile(sink, "w", allowZip64=True)  # type: ignore[arg-type]
        self.date_time = created.timetuple()[:6]
        self.resources: list[_Resource] = []
        self.notes: list[str] = []

    def add_file(self, path: str, source: Path, *, expected: Artifact | None = None) -> _Resource:
        """Stream a file in; when ``expected`` is given its hash and size must match."""
        with open(source, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            resource = self._add(path, _chunks(fh), size)
        if expected is not None and (resource.sha256, resource.size) != (
            expected.sha256,
            expected.size,
        ):
            raise ExportTampered(
                f"{source} has SHA-256 {resource.sha256} ({resource.size} bytes) but was sealed"
                f" with {expected.sha256} ({expected.size} bytes): it changed since it was"
                " sealed; the export is abandoned"
            )
        return resource

    def add_bytes(self, path: str, data: bytes) -> _Resource:
        return self._add(path, iter((data,)), len(data))

    def add_unlisted(self, path: str, data: bytes) -> None:
        """``datapackage.json`` and its digest: in the zip, not in the resources."""
        self._add(path, iter((data,)), len(data), listed=False)

    def close(self) -> None:
        self.zip.close()

    def abandon(self) -> None:
        """After a failure: end the zip so nothing writes to it later (the file is deleted)."""
        with contextlib.suppress(Exception):
            self.zip.close()

    def _add(
        self, path: str, chunks: Iterator[bytes], size: int, *, listed: bool = True
    ) -> _Resource:
        info = zipfile.ZipInfo(path, self.date_time)
        info.compress_type = (
            zipfile.ZIP_DEFLATED if path.endswith(_DEFLATED_SUFFIXES) else zipfile.ZIP_STORED
        )
        info.external_attr = (0o100000 | EXPORT_MODE) << 16  # a regular file, read-only
        info.file_size = size  # lets zipfile choose ZIP64 before writing, for files over 4 GiB
        digest = hashlib.sha256()
        written = 0
        with self.zip.open(info, "w") as entry:
            for chunk in chunks:
                digest.update(chunk)
                written += len(chunk)
                entry.write(chunk)
        if written != size:
            raise ExportError(f"{path}: expected {size} bytes, read {written} (file changed?)")
        resource = _Resource(path, digest.hexdigest(), written)
        if listed:
            self.resources.append(resource)
        return resource


def _write_package(
    sink: HashingWriter,
    captures: list[_Capture],
    events: list[dict[str, Any]],
    anchors: PackageAnchors | None,
    created: str,
    key: SigningKey,
    package_name: str,
    pdf_renderer: PdfRenderer | None,
    stamper: Stamper | None,
) -> list[str]:
    """Write every entry; return the notes for the operator (authorities that failed)."""
    package = _Package(sink, datetime.fromisoformat(created.replace("Z", "+00:00")))
    try:
        with tempfile.TemporaryDirectory(prefix="osint-capture-export-") as work_name:
            _write_entries(
                package,
                Path(work_name),
                captures,
                events,
                anchors,
                created,
                key,
                package_name,
                pdf_renderer,
                stamper,
            )
    except BaseException:
        package.abandon()
        raise
    package.close()
    return package.notes


def _write_entries(
    package: _Package,
    work: Path,
    captures: list[_Capture],
    events: list[dict[str, Any]],
    anchors: PackageAnchors | None,
    created: str,
    key: SigningKey,
    package_name: str,
    pdf_renderer: PdfRenderer | None,
    stamper: Stamper | None,
) -> None:
    """Every entry, in an order where each file listed in a later one is already in."""
    for capture in captures:
        for warc in capture.warcs:
            package.add_file(
                capture.evidence_path(warc), capture.directory / warc.path, expected=warc
            )
    index = work / "index.cdxj"
    _write_index(_named_as_packaged(captures, work), index)
    package.add_file(INDEX_PATH, index)
    package.add_bytes(PAGES_PATH, _pages(captures))

    for capture in captures:
        capture.packaged.append(_packaged(capture, capture.warc))
        for artifact in capture.others:
            if artifact.kind == ANALYSIS_WARC:
                capture.packaged.append(_packaged(capture, artifact))
                continue
            package.add_file(
                capture.evidence_path(artifact),
                capture.directory / artifact.path,
                expected=artifact,
            )
            capture.packaged.append(_packaged(capture, artifact))
    if events:
        # Byte for byte the log's own lines (they are canonical JSON, checked by slice_for).
        package.add_bytes(CUSTODY_PATH, b"".join(canonical_json(e) + b"\n" for e in events))
    # else: captures sealed before the custody log existed. An empty .jsonl would fail
    # ``wacz validate`` (frictionless cannot read a table with no rows); VERIFY.md says so.
    for path, data in anchors.entries() if anchors is not None else ():
        package.add_bytes(path, data)

    report = _report(captures, events, created, key, package_name)
    package.add_bytes(REPORT_PATH, report)
    if pdf_renderer is not None:
        package.add_file(REPORT_PDF_PATH, _render_pdf(pdf_renderer, report, captures, work))
    guide = verify_md(
        [
            PackagedCapture(
                c.id,
                str(c.manifest.get("url", "")),
                c.row.manifest_sha256 or "",
                tuple(
                    c.evidence_path(a)
                    for a in c.others
                    if a.kind == "timestamp" and analysis_number(a.path) is None
                ),
                addenda=tuple(
                    number
                    for a in c.others
                    if a.kind == "addendum" and (number := analysis_number(a.path)) is not None
                ),
                addendum_tokens=tuple(
                    (number, c.evidence_path(a))
                    for a in c.others
                    if a.kind == "timestamp" and (number := analysis_number(a.path)) is not None
                ),
            )
            for c in captures
        ],
        package_name=package_name,
        fingerprint=key.fingerprint,
        sums_path=SUMS_PATH,
        has_custody=bool(events),
        has_anchors=anchors is not None and bool(anchors.tokens),
    )
    package.add_bytes(VERIFY_PATH, guide.encode("utf-8"))
    package.add_bytes(SUMS_PATH, _sha256sums(package.resources))

    # Signed now: what the package claims as its time is what its token is compared
    # with, so it is taken when signing, not when packaging (hours ago, for a big case).
    signed_at = now_rfc3339()
    datapackage = _datapackage(package.resources, captures, signed_at)
    package.add_unlisted(DATAPACKAGE, datapackage)
    digest, package.notes = _digest(datapackage, signed_at, key, stamper)
    package.add_unlisted(DATAPACKAGE_DIGEST, digest)


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK_SIZE):
        yield chunk


def _packaged(capture: _Capture, artifact: Artifact) -> PackagedFile:
    return PackagedFile(
        name=artifact.path,
        package_path=capture.evidence_path(artifact),
        kind=artifact.kind,
        sha256=artifact.sha256,
        size=artifact.size,
    )


def _named_as_packaged(captures: list[_Capture], work: Path) -> list[Path]:
    """Every WARC to index, under the base name it has in ``archive/``: the indexer names
    each line's file by it. An analysis WARC is ``analysis-N.warc.gz`` in its capture's
    folder and ``<id>.analysis-N.warc.gz`` in the package, so it is linked under that."""
    links = work / "warcs"
    links.mkdir(exist_ok=True)
    paths = []
    for capture in captures:
        for warc in capture.warcs:
            name = capture.evidence_path(warc).removeprefix(f"{ARCHIVE_DIR}/")
            source = capture.directory / warc.path
            if name != warc.path:
                (links / name).symlink_to(source.resolve())
                source = links / name
            paths.append(source)
    return paths


def _write_index(warcs: list[Path], target: Path) -> None:
    """A sorted CDXJ of every WARC, as py-wacz builds it but uncompressed.

    ``filename`` in each line is the WARC's base name, which is its name under
    ``archive/``: what replay tools resolve it against.
    """
    indexer = CDXJIndexer(
        str(target),
        [str(path) for path in warcs],
        sort=True,
        post_append=True,
        digest_records=True,
        fields=INDEX_FIELDS,
        records=INDEX_RECORDS,
    )
    indexer.process_all()


def _pages(captures: list[_Capture]) -> bytes:
    lines = [json.dumps(PAGES_HEADER)]
    for capture in captures:
        m = capture.manifest
        lines.append(
            json.dumps(
                {
                    "id": capture.id,
                    "url": m["url"],
                    "ts": _whole_seconds(m["started_at"]),
                    "title": m.get("title") or m["url"],
                },
                ensure_ascii=False,
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _whole_seconds(rfc3339: str) -> str:
    """``2026-11-26T19:00:00.123456Z`` as ``2026-11-26T19:00:00Z``: what py-wacz writes."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(
    captures: list[_Capture],
    events: list[dict[str, Any]],
    created: str,
    key: SigningKey,
    package_name: str,
) -> bytes:
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


def _render_pdf(renderer: PdfRenderer, report: bytes, captures: list[_Capture], work: Path) -> Path:
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


def _sha256sums(resources: list[_Resource]) -> bytes:
    """``sha256sum -c`` input: two spaces, path from the package root, one file a line."""
    return "".join(f"{r.sha256}  {r.path}\n" for r in resources).encode("utf-8")


def _datapackage(resources: list[_Resource], captures: list[_Capture], created: str) -> bytes:
    names: set[str] = set()
    listed = []
    for resource in resources:
        entry: dict[str, Any] = {
            "name": _resource_name(resource.path, names),
            "path": resource.path,
            "hash": f"sha256:{resource.sha256}",
            "bytes": resource.size,
        }
        if resource.path == CUSTODY_PATH:
            entry["schema"] = CUSTODY_SCHEMA
        listed.append(entry)
    cases = sorted({c.row.case for c in captures if c.row.case})
    title = f"osint-capture export: {len(captures)} capture(s)"
    if cases:
        title += f" ({', '.join(cases)})"
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": (
            "Sealed web captures made with osint-capture. The files under evidence/ hold each"
            " capture's manifest, signature and trusted-time tokens, the chain of custody, a"
            " report, and evidence/VERIFY.md, which explains how to check everything by hand."
        ),
        "created": created,
        "software": SOFTWARE,
        "resources": listed,
    }
    return (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _resource_name(path: str, taken: set[str]) -> str:
    """A frictionless resource name (lowercase ``a-z0-9._/-``, unique): the base name as
    py-wacz uses, else the whole path, else the path numbered (names that differ only in
    case, or in characters frictionless does not allow, would otherwise collide)."""
    base = _RESOURCE_NAME_UNSAFE.sub("-", path.rsplit("/", 1)[-1].lower())
    whole = _RESOURCE_NAME_UNSAFE.sub("-", path.lower())
    candidates = itertools.chain((base, whole), (f"{whole}-{n}" for n in itertools.count(2)))
    name = next(c for c in candidates if c not in taken)
    taken.add(name)
    return name


def _digest(
    datapackage: bytes, created: str, key: SigningKey, stamper: Stamper | None = None
) -> tuple[bytes, list[str]]:
    """``datapackage-digest.json`` with the WACZ anonymous signature, and what failed.

    The signature is over the UTF-8 text of ``hash`` (``sha256:<hex>``), as the WACZ
    signing spec's verifiers check it; ``created`` repeats datapackage.json's, which
    ``wacz validate`` requires. ``timestamps`` holds tokens only: an authority that
    gave none is a note for the operator, not an entry a verifier could mistake for
    trusted time.
    """
    digest = f"sha256:{hashlib.sha256(datapackage).hexdigest()}"
    signature = key.sign(digest.encode("utf-8"))
    document: dict[str, Any] = {
        "path": DATAPACKAGE,
        "hash": digest,
        "signedData": {
            "hash": digest,
            "signature": signature_to_b64(signature),
            "publicKey": key.public_key_b64,
            "created": created,
            "software": SOFTWARE,
        },
    }
    notes = ["no time-stamp authority is configured: the package has no trusted time"]
    if stamper is not None:
        # Trusted time for the package: tokens over the SHA-256 of the signature bytes.
        stamps = stamper(hashlib.sha256(signature).digest())
        notes = [
            f"no package time-stamp from {s['tsa']}: {s['error']}"
            for s in stamps
            if "token" not in s
        ]
        tokens = [s for s in stamps if "token" in s]
        if tokens:
            document["timestamps"] = tokens
        else:
            notes.append("no time-stamp authority gave a token: the package has no trusted time")
    return (json.dumps(document, indent=2) + "\n").encode("utf-8"), notes


def _link_into_place(partial: Path, out: Path) -> None:
    """Give the finished file its name without ever replacing a file of that name.

    ``link`` fails if ``out`` exists, so an export started twice keeps the first file.
    Filesystems without hard links (FAT, exFAT on a USB stick) get a rename after a
    last check instead.
    """
    try:
        os.link(partial, out)
    except FileExistsError:
        raise ExportError(
            f"refusing to export to {out}: a file of that name appeared while exporting"
        ) from None
    except OSError:
        if out.exists():
            raise ExportError(f"refusing to export to {out}: the file exists") from None
        os.rename(partial, out)
