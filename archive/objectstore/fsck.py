"""The bucket compared with the version book (and the catalog): differences reported,
nothing deleted.

An object the book does not know is what an upload leaves when the machine died
between the bucket's answer and the catalog's transaction; a row without its object is
a store that lost data; a version at a recorded key that is not the recorded one was
put by someone else. All are findings for a person to judge: the bucket's retention
would refuse a delete anyway, and evidence is never removed by a check.

The default check compares what the bucket reports (sizes, and the SHA-256 it keeps for
single-part objects) without reading data; ``deep`` reads every recorded version back
and hashes it, which is the only check for a multipart object's whole-file SHA-256.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from archive.objectstore.client import S3Client
from archive.objectstore.errors import ObjectMissing, ObjectTampered
from archive.objectstore.listing import ListedVersion, list_versions
from archive.objectstore.location import StoreLocation
from archive.objectstore.verifying import read_back
from archive.objectstore.versionbook import RecordedVersion, VersionBook


class Problem(StrEnum):
    """What kind of difference a finding is."""

    UNRECORDED_OBJECT = "object without a row"
    MISSING_OBJECT = "row without an object"
    FOREIGN_VERSION = "version not the recorded one"
    DELETE_MARKER = "delete marker"
    SIZE_MISMATCH = "size mismatch"
    CHECKSUM_MISMATCH = "checksum mismatch"
    CATALOG_UNRECORDED = "catalog file without a row"
    CATALOG_MISMATCH = "catalog and row disagree"


@dataclass(frozen=True)
class Finding:
    problem: Problem
    key: str
    version_id: str | None
    detail: str


@dataclass(frozen=True)
class FsckReport:
    """What was compared and what differed. ``ok`` only when something was checked."""

    bucket: str
    prefix: str
    versions_listed: int
    rows_read: int
    objects_checked: int
    deep: bool
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.findings and self.objects_checked > 0

    def of(self, problem: Problem) -> list[Finding]:
        return [f for f in self.findings if f.problem is problem]


def check_store(
    client: S3Client,
    location: StoreLocation,
    book: VersionBook,
    catalog_files: Iterable[tuple[str, str, str]] = (),
    *,
    deep: bool = False,
) -> FsckReport:
    """Compare every version under the store's prefix with the book, and the catalog's
    ``(capture_id, name, sha256)`` triples with the book."""
    rows = {r.key: r for r in book.recorded_versions(location.root_prefix)}
    findings: list[Finding] = []
    matched: list[RecordedVersion] = []
    listed = 0
    for version in list_versions(client, location.root_prefix):
        listed += 1
        finding = _compare_listed(version, rows.get(version.key))
        if finding is not None:
            findings.append(finding)
        elif not version.delete_marker:
            matched.append(rows[version.key])
    found = {r.key for r in matched}
    findings += [
        Finding(Problem.MISSING_OBJECT, key, row.version_id, "recorded, not in the bucket")
        for key, row in rows.items()
        if key not in found
    ]
    for row in matched:
        findings += _check_content(client, row, deep)
    findings += _compare_catalog(location, rows, catalog_files)
    return FsckReport(
        bucket=location.bucket,
        prefix=location.prefix,
        versions_listed=listed,
        rows_read=len(rows),
        objects_checked=len(matched),
        deep=deep,
        findings=tuple(findings),
    )


def _compare_listed(version: ListedVersion, row: RecordedVersion | None) -> Finding | None:
    if version.delete_marker:
        return Finding(
            Problem.DELETE_MARKER,
            version.key,
            version.version_id,
            "someone asked to delete this key (its versions are still there)",
        )
    if row is None:
        return Finding(
            Problem.UNRECORDED_OBJECT,
            version.key,
            version.version_id,
            f"{version.size} bytes in the bucket, in no row: an upload whose record was lost",
        )
    if version.version_id != row.version_id:
        return Finding(
            Problem.FOREIGN_VERSION,
            version.key,
            version.version_id,
            f"recorded version is {row.version_id}; this one was put beside it",
        )
    if version.size != row.size:
        return Finding(
            Problem.SIZE_MISMATCH,
            version.key,
            version.version_id,
            f"{version.size} bytes in the bucket, {row.size} recorded",
        )
    return None


def _check_content(client: S3Client, row: RecordedVersion, deep: bool) -> list[Finding]:
    try:
        if deep:
            read_back(client, row)
            return []
        head = client.call(
            "head_object",
            f"check {row.key}",
            Bucket=client.location.bucket,
            Key=row.key,
            VersionId=row.version_id,
            ChecksumMode="ENABLED",
        )
    except ObjectTampered as exc:
        return [Finding(Problem.CHECKSUM_MISMATCH, row.key, row.version_id, str(exc))]
    except ObjectMissing as exc:
        return [Finding(Problem.MISSING_OBJECT, row.key, row.version_id, str(exc))]
    stored = head.get("ChecksumSHA256")
    expected = base64.b64encode(bytes.fromhex(row.sha256)).decode("ascii")
    if stored is not None and "-" not in stored and stored != expected:
        return [
            Finding(
                Problem.CHECKSUM_MISMATCH,
                row.key,
                row.version_id,
                f"the bucket keeps checksum {stored}, the row's sha256 is {row.sha256}",
            )
        ]
    return []


def _compare_catalog(
    location: StoreLocation,
    rows: dict[str, RecordedVersion],
    catalog_files: Iterable[tuple[str, str, str]],
) -> list[Finding]:
    findings = []
    for capture_id, name, sha256 in catalog_files:
        key = location.capture_key(capture_id, name)
        row = rows.get(key)
        if row is None:
            findings.append(
                Finding(
                    Problem.CATALOG_UNRECORDED,
                    key,
                    None,
                    f"the catalog lists {name} of capture {capture_id}; no version is recorded",
                )
            )
        elif row.sha256 != sha256:
            findings.append(
                Finding(
                    Problem.CATALOG_MISMATCH,
                    key,
                    row.version_id,
                    f"the catalog says sha256 {sha256}, the row {row.sha256}",
                )
            )
    return findings
