"""Legal hold: a capture's objects kept past their retention date, until released.

A hold is per object version in S3; a case's hold covers every version of every object
of each of its captures (the sealed version and anything put beside it since), so that
nothing of what the bucket holds for a capture can be deleted while the hold is on,
whatever its retention. Holding and releasing are recorded in custody by the caller
(``osint-capture case hold``); this module only asks the bucket and reports what it did.

A file sealed into a capture whose case is already held is uploaded held
(:class:`~archive.objectstore.uploads.Lock`); the store asks its :class:`HoldBook` (the
catalog) at each upload, and again once the upload is recorded
(:meth:`archive.objectstore.ObjectStore` ``_send``; the race with ``case hold`` is
explained in :mod:`archive.holds`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from archive.objectstore.attempts import place_of
from archive.objectstore.client import S3Client, error_code
from archive.objectstore.errors import ObjectMissing
from archive.objectstore.listing import list_versions
from archive.objectstore.location import StoreLocation
from archive.store import StoreError

log = logging.getLogger(__name__)


@runtime_checkable
class HoldBook(Protocol):
    """Where the store learns whether a capture's case is on legal hold (the catalog)."""

    def capture_hold(self, capture_id: str) -> object | None:
        """The hold on the capture's case, or ``None`` when it is not held."""
        ...


@dataclass(frozen=True)
class HoldState:
    """One object version and whether a legal hold is on it."""

    key: str
    version_id: str
    on: bool


def set_legal_hold(
    client: S3Client,
    location: StoreLocation,
    capture_ids: Iterable[str],
    on: bool,
    *,
    may_be_empty: Collection[str] = (),
    skip: Collection[tuple[str, str]] = (),
) -> list[HoldState]:
    """Put (``on``) or lift the legal hold on every version of each capture's objects.

    Raises :class:`ObjectMissing` for a capture with no object in the bucket, unless it
    is in ``may_be_empty`` (a queued or running capture may have none yet): a hold that
    covers nothing must not look as if it had been placed. Versions in ``skip``
    (``(key, version_id)``, set by an earlier pass) are left as they are.
    """
    changed: list[HoldState] = []
    for capture_id in capture_ids:
        versions = _versions(client, location, capture_id, empty_ok=capture_id in may_be_empty)
        for key, version_id in versions:
            if (key, version_id) not in skip:
                put_legal_hold(client, location, key, version_id, on)
                changed.append(HoldState(key, version_id, on))
    return changed


def put_legal_hold(
    client: S3Client, location: StoreLocation, key: str, version_id: str, on: bool
) -> None:
    """One version's legal hold set (``on``) or lifted; setting it again changes nothing."""
    client.call(
        "put_object_legal_hold",
        f"legal hold on {key} version {version_id}",
        Bucket=location.bucket,
        Key=key,
        VersionId=version_id,
        LegalHold={"Status": "ON" if on else "OFF"},
    )


def capture_on_hold(book: HoldBook | None, location: StoreLocation, key: str) -> bool:
    """Whether ``key`` is a file of a capture (any attempt's, or a set-aside listing)
    whose case the book says is on hold now; never for keys of no capture (anchors)."""
    place = place_of(location, key)
    if book is None or place is None:
        return False
    return book.capture_hold(place.capture_id) is not None


def hold_late(client: S3Client, location: StoreLocation, key: str, version_id: str) -> None:
    """The hold set on a version uploaded unheld while its case was being put on hold."""
    try:
        put_legal_hold(client, location, key, version_id, True)
    except StoreError as exc:
        raise type(exc)(
            f"{key} version {version_id} is sealed and recorded, but its case was put on"
            f" hold during the upload and setting the hold on it failed ({exc}); run"
            " `osint-capture case hold CASE --reason ...` again: it sets the hold on"
            " every object of the case before saying the case is already held"
        ) from exc
    log.info("sealed %s while its case was put on hold: hold set on %s", key, version_id)


def legal_holds(
    client: S3Client, location: StoreLocation, capture_id: str, *, empty_ok: bool = False
) -> list[HoldState]:
    """The hold state of every version of a capture's objects, as the bucket reports it
    (:class:`ObjectMissing` when it has none, unless ``empty_ok``)."""
    return [
        HoldState(key, version_id, _held(client, location, key, version_id))
        for key, version_id in _versions(client, location, capture_id, empty_ok=empty_ok)
    ]


def _versions(
    client: S3Client, location: StoreLocation, capture_id: str, *, empty_ok: bool = False
) -> list[tuple[str, str]]:
    found = [
        (v.key, v.version_id)
        for v in list_versions(client, location.capture_prefix(capture_id))
        if not v.delete_marker
    ]
    if not found and not empty_ok:
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
