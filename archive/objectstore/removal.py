"""Deleting a capture's objects for good: every version under its prefix, each one only
once no lock keeps it.

The store never deletes on its own (quarantine sets aside, fsck reports); only a
capture's deletion (:mod:`archive.deletion`) comes here, after the catalog's checks. It
first reads, per version, what the bucket itself says would stop a delete: an Object
Lock retention date not yet passed, and a legal hold. A deletion is refused while any
version is so kept, before anything is recorded or removed, so the bucket's own refusal
is left for a race. Then each version (and delete marker) is deleted by its version id:
a plain delete would only add a delete marker and leave the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from archive.objectstore.client import S3Client, error_code
from archive.objectstore.errors import ObjectStoreError
from archive.objectstore.listing import list_versions
from archive.objectstore.location import StoreLocation
from archive.timeutil import rfc3339

#: S3's answers for "no retention on this version" (SeaweedFS names the bucket's config).
_NO_RETENTION = {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}


@dataclass(frozen=True)
class StoredVersion:
    """One version (or delete marker) of a capture's objects, with what locks it."""

    key: str
    version_id: str
    size: int
    delete_marker: bool
    #: The Object Lock retention date and mode (``None`` when the version has none).
    retain_until: datetime | None
    mode: str | None
    legal_hold: bool

    def kept(self, now: datetime) -> str | None:
        """Why the bucket would refuse to delete this version now, or ``None``."""
        if self.legal_hold:
            return f"{self.key} (version {self.version_id}) is under the bucket's legal hold"
        if self.retain_until is not None and self.retain_until > now:
            return (
                f"{self.key} (version {self.version_id}) is locked ({self.mode}) until"
                f" {rfc3339(self.retain_until)}"
            )
        return None


def capture_versions(
    client: S3Client, location: StoreLocation, capture_id: str
) -> list[StoredVersion]:
    """Every version and delete marker under the capture's prefix (every attempt, and
    the listings that set attempts aside), each with its retention and legal hold."""
    found = []
    for listed in list_versions(client, location.capture_prefix(capture_id)):
        if listed.delete_marker:
            found.append(StoredVersion(listed.key, listed.version_id, 0, True, None, None, False))
            continue
        until, mode = _retention(client, location, listed.key, listed.version_id)
        held = _legal_hold(client, location, listed.key, listed.version_id)
        found.append(
            StoredVersion(listed.key, listed.version_id, listed.size, False, until, mode, held)
        )
    return found


def delete_versions(
    client: S3Client, location: StoreLocation, versions: Iterable[StoredVersion]
) -> tuple[list[StoredVersion], list[str]]:
    """Delete each version by its id; the ones deleted, and an error for each refused
    (the others are tried all the same)."""
    deleted, errors = [], []
    for version in versions:
        try:
            client.call(
                "delete_object",
                f"delete {version.key} version {version.version_id}",
                Bucket=location.bucket,
                Key=version.key,
                VersionId=version.version_id,
            )
        except ObjectStoreError as exc:  # each names its object and why
            errors.append(str(exc))
            continue
        deleted.append(version)
    return deleted, errors


def _retention(
    client: S3Client, location: StoreLocation, key: str, version_id: str
) -> tuple[datetime | None, str | None]:
    try:
        answer = client.call(
            "get_object_retention",
            f"retention of {key} version {version_id}",
            Bucket=location.bucket,
            Key=key,
            VersionId=version_id,
        )
    except ObjectStoreError as exc:
        if error_code(exc.__cause__ or exc) in _NO_RETENTION:
            return None, None
        raise
    retention = answer.get("Retention") or {}
    until = retention.get("RetainUntilDate")
    return (until if isinstance(until, datetime) else None), retention.get("Mode")


def _legal_hold(client: S3Client, location: StoreLocation, key: str, version_id: str) -> bool:
    try:
        answer = client.call(
            "get_object_legal_hold",
            f"legal hold of {key} version {version_id}",
            Bucket=location.bucket,
            Key=key,
            VersionId=version_id,
        )
    except ObjectStoreError as exc:
        if error_code(exc.__cause__ or exc) in {"NoSuchObjectLegalHold", *_NO_RETENTION}:
            return False
        raise
    return answer.get("LegalHold", {}).get("Status") == "ON"
