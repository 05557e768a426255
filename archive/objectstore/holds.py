"""Legal hold: a capture's objects kept past their retention date, until released.

A hold is per object version in S3; a case's hold covers every version of every object
of each of its captures (the sealed version and anything put beside it since), so that
nothing of what the bucket holds for a capture can be deleted while the hold is on,
whatever its retention. Holding and releasing are recorded in custody by the caller
(``osint-capture case hold``); this module only asks the bucket and reports what it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from archive.objectstore.client import S3Client, error_code
from archive.objectstore.errors import ObjectMissing
from archive.objectstore.listing import list_versions
from archive.objectstore.location import StoreLocation


@dataclass(frozen=True)
class HoldState:
    """One object version and whether a legal hold is on it."""

    key: str
    version_id: str
    on: bool


def set_legal_hold(
    client: S3Client, location: StoreLocation, capture_ids: Iterable[str], on: bool
) -> list[HoldState]:
    """Put (``on``) or lift the legal hold on every version of each capture's objects.

    Raises :class:`ObjectMissing` for a capture with no object in the bucket: a hold that
    covers nothing must not look as if it had been placed.
    """
    status = "ON" if on else "OFF"
    changed: list[HoldState] = []
    for capture_id in capture_ids:
        versions = _versions(client, location, capture_id)
        for key, version_id in versions:
            client.call(
                "put_object_legal_hold",
                f"legal hold on {key} version {version_id}",
                Bucket=location.bucket,
                Key=key,
                VersionId=version_id,
                LegalHold={"Status": status},
            )
            changed.append(HoldState(key, version_id, on))
    return changed


def legal_holds(client: S3Client, location: StoreLocation, capture_id: str) -> list[HoldState]:
    """The hold state of every version of a capture's objects, as the bucket reports it."""
    return [
        HoldState(key, version_id, _held(client, location, key, version_id))
        for key, version_id in _versions(client, location, capture_id)
    ]


def _versions(client: S3Client, location: StoreLocation, capture_id: str) -> list[tuple[str, str]]:
    found = [
        (v.key, v.version_id)
        for v in list_versions(client, location.capture_prefix(capture_id))
        if not v.delete_marker
    ]
    if not found:
        raise ObjectMissing(
            f"capture {capture_id} has no object in bucket {location.bucket}: nothing to hold"
        )
    return found


def _held(client: S3Client, location: StoreLocation, key: str, version_id: str) -> bool:
    try:
        answer = client.call(
            "get_object_legal_hold",
            f"legal hold of {key} version {version_id}",
            Bucket=location.bucket,
            Key=key,
            VersionId=version_id,
        )
    except Exception as exc:
        # S3's answer for a version that never had a hold set: not held.
        if error_code(exc.__cause__ or exc) == "NoSuchObjectLegalHold":
            return False
        raise
    return answer.get("LegalHold", {}).get("Status") == "ON"
