"""The captures an export packages: sealed ones only, each checked against the catalog.

Nothing is written before every capture asked for is loaded: an unknown or unsealed
capture, a name that is not a plain file name, a WARC the catalog does not account
for, or a manifest whose SHA-256 is not the one recorded when it was sealed refuses
the whole export. The other sealed files are checked as they stream into the
package (:meth:`archive.wacz.package_writer.PackageWriter.add_file`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.catalog import CaptureRow
from archive.datadir import Archive
from archive.evidence.addendum import ANALYSIS_WARC
from archive.manifest import MANIFEST_NAME
from archive.store import Artifact
from archive.wacz.export_types import ExportError, ExportTampered
from archive.wacz.layout import package_path
from archive.wacz.report import PackagedFile

#: Only sealed captures are evidence; the others have nothing (or nothing final) to export.
EXPORTABLE_STATUSES = ("complete", "partial")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class SealedCapture:
    """One capture being exported: its row, its manifest, its files and where they go."""

    row: CaptureRow
    directory: Path
    manifest_bytes: bytes
    manifest: dict[str, Any]
    warc: Artifact
    others: list[Artifact]
    #: Filled in as its files go into the package, for the report.
    packaged: list[PackagedFile] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def warcs(self) -> list[Artifact]:
        """The capture's WARC, then the WARCs of its analysis runs (addenda)."""
        return [self.warc, *(a for a in self.others if a.kind == ANALYSIS_WARC)]

    def evidence_path(self, artifact: Artifact) -> str:
        return package_path(self.id, artifact.kind, artifact.path)

    def packaged_file(self, artifact: Artifact) -> PackagedFile:
        """What the report says of one of its files once it is in the package."""
        return PackagedFile(
            name=artifact.path,
            package_path=self.evidence_path(artifact),
            kind=artifact.kind,
            sha256=artifact.sha256,
            size=artifact.size,
        )


def checked_ids(capture_ids: Sequence[str]) -> list[str]:
    """The ids asked for, each once; a lone string is a caller's mistake, not a list."""
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


def load_capture(archive: Archive, capture_id: str) -> SealedCapture:
    """A sealed capture with its manifest read and checked, or :class:`ExportError`."""
    row = _sealed_row(archive, capture_id)
    directory = archive.store.capture_dir(capture_id)
    artifacts = archive.catalog.artifacts(capture_id)
    warc = _the_warc(capture_id, row, artifacts)
    manifest_bytes = _read_manifest(capture_id, row, directory)
    return SealedCapture(
        row=row,
        directory=directory,
        manifest_bytes=manifest_bytes,
        manifest=json.loads(manifest_bytes),
        warc=warc,
        others=[a for a in artifacts if a.kind != "warc"],
    )


def _sealed_row(archive: Archive, capture_id: str) -> CaptureRow:
    row = archive.catalog.get_capture(capture_id)
    if row is None:
        raise ExportError(f"no capture {capture_id!r} in the catalog of {archive.root}")
    if row.deleted_at is not None:
        raise ExportError(
            f"capture {capture_id} was deleted at {row.deleted_at} by {row.deleted_by}: its"
            " files are gone, so it cannot be exported (its custody events remain, and"
            " `osint-capture custody verify` checks them)"
        )
    if row.status not in EXPORTABLE_STATUSES or row.manifest_sha256 is None:
        raise ExportError(
            f"capture {capture_id} is {row.status}: only sealed captures (complete or partial)"
            " can be exported"
        )
    if not _SAFE_NAME.fullmatch(capture_id):
        raise ExportError(f"capture id {capture_id!r} cannot be used as a file name")
    return row


def _the_warc(capture_id: str, row: CaptureRow, artifacts: list[Artifact]) -> Artifact:
    """Every file name plain, and exactly the one WARC the capture's row names."""
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
    return warcs[0]


def _read_manifest(capture_id: str, row: CaptureRow, directory: Path) -> bytes:
    """The manifest's bytes, refused unless they have the SHA-256 recorded at sealing."""
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
    return manifest_bytes
