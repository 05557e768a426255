"""The bucket compared with the version book (and the catalog): differences reported,
nothing deleted.

An object the book does not know is what an upload leaves when the machine died
between the bucket's answer and the catalog's transaction; a row without its object is
a store that lost data; a version at a recorded key that is not the recorded one was
put by someone else. All are findings for a person to judge: the bucket's retention
would refuse a delete anyway, and evidence is never removed by a check.

Files staged for a capture that has not sealed yet (``PREFIX/incoming/``) are not
evidence: they are counted (``staged``), not compared.

A capture's attempt that was set aside (:mod:`archive.objectstore.attempts`) is no
finding: its sealed listing names each of its objects, which the report lists under
``set_aside`` (recorded ones are checked like any other; unrecorded ones, uploads whose
record was lost when the attempt was interrupted, by the size the listing gives). What
the listing does not explain stays a finding: an object sealed into the attempt after it
was set aside, a listing that disagrees with the rows or the bucket, or one unreadable.
The catalog's files are compared with the capture's current attempt.

The default check compares what the bucket reports (sizes, and the SHA-256 it keeps for
single-part objects) without reading data (but the listings, which are small);
``deep`` reads every recorded version back and hashes it, which is the only check for a
multipart object's whole-file SHA-256.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from archive.catalog.rows import ObjectVersion
from archive.objectstore.attempts import SetAsideListing, file_key, parse_listing, place_of
from archive.objectstore.client import S3Client
from archive.objectstore.errors import ObjectMissing, ObjectStoreError, ObjectTampered
from archive.objectstore.listing import ListedVersion, list_versions
from archive.objectstore.location import StoreLocation
from archive.objectstore.reading import open_verified
from archive.objectstore.verifying import read_back
from archive.objectstore.versionbook import VersionBook


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
    SEALED_AFTER_SET_ASIDE = "sealed into an attempt after it was set aside"
    SET_ASIDE_MISMATCH = "set-aside listing disagrees"
    BAD_LISTING = "set-aside listing unreadable"


@dataclass(frozen=True)
class Finding:
    problem: Problem
    key: str
    version_id: str | None
    detail: str


@dataclass(frozen=True)
class SetAside:
    """An object of a capture's attempt that was set aside: kept, locked, explained by
    its listing, and not the capture's (its retry's files are)."""

    key: str
    version_id: str
    capture_id: str
    attempt: int
    recorded: bool  # False: uploaded, but the attempt stopped before its row was written
    listing: str  # the key of the listing that names it


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
    set_aside: tuple[SetAside, ...] = field(default_factory=tuple)
    #: Versions under ``PREFIX/incoming/``: files staged for captures not yet sealed
    #: (:mod:`archive.objectstore.incoming`), never evidence, so neither checked nor findings.
    staged: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings and self.objects_checked > 0

    def of(self, problem: Problem) -> list[Finding]:
        return [f for f in self.findings if f.problem is problem]


@dataclass
class _Explained:
    """What the set-aside listings say: each listed version (with the size it gives),
    and which attempts of which captures were set aside, by which listing."""

    listed: dict[tuple[str, str], tuple[SetAside, int]] = field(default_factory=dict)
    listings: dict[tuple[str, int], str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def set_aside_count(self) -> Counter[str]:
        """How many attempts of each capture were set aside."""
        return Counter(capture_id for capture_id, _attempt in self.listings)


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
    explained = _read_listings(client, location, rows)
    findings = list(explained.findings)
    matched: list[ObjectVersion] = []
    seen: set[tuple[str, str]] = set()
    listed = staged = 0
    for version in list_versions(client, location.root_prefix):
        listed += 1
        if version.key.startswith(location.incoming_prefix()):
            staged += 1
            continue
        seen.add((version.key, version.version_id))
        row = rows.get(version.key)
        finding = _compare_listed(version, row, explained)
        if finding is not None:
            findings.append(finding)
        elif row is not None and not version.delete_marker:
            matched.append(row)
    found = {r.key for r in matched}
    findings += [
        Finding(Problem.MISSING_OBJECT, key, row.version_id, "recorded, not in the bucket")
        for key, row in rows.items()
        if key not in found
    ]
    findings += _unexplained(location, rows, explained, seen)
    for row in matched:
        findings += _check_content(client, row, deep)
    findings += _compare_catalog(location, rows, explained.set_aside_count(), catalog_files)
    return FsckReport(
        bucket=location.bucket,
        prefix=location.prefix,
        versions_listed=listed,
        rows_read=len(rows),
        objects_checked=len(matched),
        deep=deep,
        findings=tuple(findings),
        set_aside=tuple(
            entry for key, (entry, _size) in sorted(explained.listed.items()) if key in seen
        ),
        staged=staged,
    )


def _read_listings(
    client: S3Client, location: StoreLocation, rows: dict[str, ObjectVersion]
) -> _Explained:
    """Every recorded listing read back (hash-checked) and held against its own key."""
    explained = _Explained()
    for key, row in rows.items():
        place = place_of(location, key)
        if place is None or place.name is not None:
            continue
        explained.listings[(place.capture_id, place.attempt)] = key
        try:
            with open_verified(client, row) as fh:
                listing = parse_listing(key, fh.read())
        except ObjectMissing:
            continue  # reported as a row without its object
        except ObjectStoreError as exc:
            explained.findings.append(Finding(Problem.BAD_LISTING, key, row.version_id, str(exc)))
            continue
        if (listing.capture_id, listing.attempt) != (place.capture_id, place.attempt):
            detail = f"it sets aside attempt {listing.attempt} of capture {listing.capture_id}"
            explained.findings.append(Finding(Problem.BAD_LISTING, key, row.version_id, detail))
            continue
        _take_listing(location, key, listing, rows, explained)
    return explained


def _take_listing(
    location: StoreLocation,
    key: str,
    listing: SetAsideListing,
    rows: dict[str, ObjectVersion],
    explained: _Explained,
) -> None:
    """The listing's entries, each checked to be of its attempt and to match its row."""
    entries = [(o.key, o.version_id, o.size, o) for o in listing.objects]
    entries += [(u.key, u.version_id, u.size, None) for u in listing.unrecorded]
    for item, version_id, size, vouched in entries:
        place = place_of(location, item)
        row = rows.get(item)
        ours = place is not None and place.name is not None
        if not ours or (place.capture_id, place.attempt) != (listing.capture_id, listing.attempt):
            problem = f"{key} lists {item}, which is not a file of attempt {listing.attempt}"
        elif vouched is not None and row != vouched:
            problem = f"{key} lists {item} as {vouched}, the catalog has {row}"
        elif vouched is None and row is not None:
            problem = f"{key} lists {item} as unrecorded, the catalog has {row}"
        else:
            entry = SetAside(
                item,
                version_id,
                listing.capture_id,
                listing.attempt,
                vouched is not None,
                key,
            )
            explained.listed[(item, version_id)] = (entry, size)
            continue
        explained.findings.append(Finding(Problem.SET_ASIDE_MISMATCH, item, version_id, problem))


def _compare_listed(
    version: ListedVersion, row: ObjectVersion | None, explained: _Explained
) -> Finding | None:
    if version.delete_marker:
        return Finding(
            Problem.DELETE_MARKER,
            version.key,
            version.version_id,
            "someone asked to delete this key (its versions are still there)",
        )
    aside = explained.listed.get((version.key, version.version_id))
    if row is None and aside is not None:
        if version.size == aside[1]:
            return None  # an unrecorded upload of a set-aside attempt, named by its listing
        return Finding(
            Problem.SIZE_MISMATCH,
            version.key,
            version.version_id,
            f"{version.size} bytes in the bucket, {aside[1]} in {aside[0].listing}",
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


def _unexplained(
    location: StoreLocation,
    rows: dict[str, ObjectVersion],
    explained: _Explained,
    seen: set[tuple[str, str]],
) -> list[Finding]:
    """Rows sealed into a set-aside attempt that its listing does not name, and listed
    unrecorded objects the bucket no longer holds."""
    findings = []
    for key, row in rows.items():
        place = place_of(location, key)
        if place is None or place.name is None or (key, row.version_id) in explained.listed:
            continue
        listing = explained.listings.get((place.capture_id, place.attempt))
        if listing is not None:
            findings.append(
                Finding(
                    Problem.SEALED_AFTER_SET_ASIDE,
                    key,
                    row.version_id,
                    f"recorded at {row.stored_at} in attempt {place.attempt} of capture "
                    f"{place.capture_id}, which {listing} set aside without it",
                )
            )
    findings += [
        Finding(Problem.MISSING_OBJECT, key, version_id, f"listed in {entry.listing}, gone")
        for (key, version_id), (entry, _size) in explained.listed.items()
        if not entry.recorded and (key, version_id) not in seen
    ]
    return findings


def _check_content(client: S3Client, row: ObjectVersion, deep: bool) -> list[Finding]:
    try:
        if deep:
            read_back(client, row.key, row.version_id, row.sha256, row.size)
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
    rows: dict[str, ObjectVersion],
    set_aside: Counter[str],
    catalog_files: Iterable[tuple[str, str, str]],
) -> list[Finding]:
    """Each catalog file against the row of its capture's current attempt."""
    findings = []
    for capture_id, name, sha256 in catalog_files:
        key = file_key(location, capture_id, 1 + set_aside[capture_id], name)
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
