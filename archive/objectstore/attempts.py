"""A capture's attempts in the bucket: where each attempt's files go, which attempt is the
capture's, and the listing that sets an interrupted attempt aside.

A capture interrupted by a crash is retried once under the same capture id
(``capture/recovery.py``). On a local disk its directory is moved to quarantine and the
retry starts afresh; in a bucket nothing can be moved or deleted: what the first
attempt sealed is uploaded, locked and recorded in the catalog, and stays so. So each
attempt writes under its own keys, and setting an attempt aside is itself a sealed
object:

- attempt 1: ``PREFIX/captures/ID/NAME`` (the layout of every capture never retried);
- attempt N >= 2: ``PREFIX/captures/ID/attempt-N/NAME``;
- the listing that set attempt N aside: ``PREFIX/captures/ID/set-aside/attempt-N.json``,
  uploaded, locked, verified and recorded like any sealed file. It names every object
  the bucket held for that attempt: ``objects`` with their recorded version, SHA-256 and
  size, and ``unrecorded`` (key, version id, size) for uploads whose record was never
  written because the machine died first.

A file's name never holds a ``/``, so the three forms never meet. A capture's current
attempt is one more than the number of its recorded listings: every machine reads it
from the catalog, so reads by ``(capture_id, name)`` resolve to the attempt that sealed
the capture, and the catalog's version rows are never changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from archive.catalog.rows import ObjectVersion
from archive.objectstore.client import S3Client
from archive.objectstore.errors import ObjectStoreError
from archive.objectstore.listing import list_versions
from archive.objectstore.location import StoreLocation
from archive.objectstore.versionbook import VersionBook

SET_ASIDE_FOLDER = "set-aside"
_ATTEMPT = re.compile(r"attempt-([1-9][0-9]*)")
_LISTING = re.compile(r"attempt-([1-9][0-9]*)\.json")
#: The listing's format, written into it so a reader knows what it holds.
LISTING_FORMAT = "osint-capture set-aside attempt 1"


def attempt_prefix(location: StoreLocation, capture_id: str, attempt: int) -> str:
    """Every key of one attempt's files starts with this (it ends with a slash)."""
    base = location.capture_prefix(capture_id)
    return base if attempt == 1 else f"{base}attempt-{attempt}/"


def file_key(location: StoreLocation, capture_id: str, attempt: int, name: str) -> str:
    """The key of the file ``name`` sealed by ``attempt`` of the capture."""
    return attempt_prefix(location, capture_id, attempt) + name


def set_aside_prefix(location: StoreLocation, capture_id: str) -> str:
    return f"{location.capture_prefix(capture_id)}{SET_ASIDE_FOLDER}/"


def listing_key(location: StoreLocation, capture_id: str, attempt: int) -> str:
    """The key of the listing that set ``attempt`` of the capture aside."""
    return f"{set_aside_prefix(location, capture_id)}attempt-{attempt}.json"


@dataclass(frozen=True)
class Place:
    """Where a key sits in a capture: a file of an attempt, or an attempt's listing."""

    capture_id: str
    attempt: int
    name: str | None  # ``None``: the listing that set ``attempt`` aside


def place_of(location: StoreLocation, key: str) -> Place | None:
    """The capture, attempt and file a key belongs to; ``None`` for other keys (anchors)."""
    if not key.startswith(location.root_prefix):
        return None
    parts = key[len(location.root_prefix) :].split("/")
    if len(parts) < 3 or parts[0] != "captures" or not parts[1] or not parts[-1]:
        return None
    if len(parts) == 3:
        return Place(parts[1], 1, parts[2])
    if len(parts) == 4 and parts[2] == SET_ASIDE_FOLDER and (found := _LISTING.fullmatch(parts[3])):
        return Place(parts[1], int(found.group(1)), None)
    if len(parts) == 4 and (found := _ATTEMPT.fullmatch(parts[2])) and int(found.group(1)) > 1:
        return Place(parts[1], int(found.group(1)), parts[3])
    return None


def current_attempt(book: VersionBook, location: StoreLocation, capture_id: str) -> int:
    """The attempt whose files are the capture's: one more than the attempts set aside."""
    return 1 + len(book.recorded_versions(set_aside_prefix(location, capture_id)))


def attempt_files(
    book: VersionBook, location: StoreLocation, capture_id: str, attempt: int
) -> list[ObjectVersion]:
    """The recorded files of one attempt (attempt 1's prefix also holds the later
    attempts and the listings: only the keys right under it are its files)."""
    prefix = attempt_prefix(location, capture_id, attempt)
    return [row for row in book.recorded_versions(prefix) if "/" not in row.key[len(prefix) :]]


@dataclass(frozen=True)
class Unrecorded:
    """An object the bucket held for a set-aside attempt with no row in the catalog."""

    key: str
    version_id: str
    size: int


@dataclass(frozen=True)
class SetAsideListing:
    """What one attempt of a capture left in the bucket when it was set aside."""

    capture_id: str
    attempt: int
    set_aside_at: str
    objects: tuple[ObjectVersion, ...]
    unrecorded: tuple[Unrecorded, ...]

    def to_bytes(self) -> bytes:
        """The listing as sealed: JSON, keys sorted, UTF-8, one final newline."""
        document = {
            "format": LISTING_FORMAT,
            "capture_id": self.capture_id,
            "attempt": self.attempt,
            "set_aside_at": self.set_aside_at,
            "objects": [
                {
                    "key": o.key,
                    "version_id": o.version_id,
                    "sha256": o.sha256,
                    "size": o.size,
                    "recorded_at": o.stored_at,
                }
                for o in self.objects
            ],
            "unrecorded": [
                {"key": u.key, "version_id": u.version_id, "size": u.size} for u in self.unrecorded
            ],
        }
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def parse_listing(key: str, data: bytes) -> SetAsideListing:
    """A listing read back (already hash-checked); :class:`ObjectStoreError` if the bytes
    are not one (fsck reports it)."""
    try:
        document = json.loads(data.decode("utf-8"))
        if document["format"] != LISTING_FORMAT:
            raise ValueError(f"its format is {document['format']!r}, not {LISTING_FORMAT!r}")
        return SetAsideListing(
            capture_id=str(document["capture_id"]),
            attempt=int(document["attempt"]),
            set_aside_at=str(document["set_aside_at"]),
            objects=tuple(
                ObjectVersion(
                    str(o["key"]),
                    str(o["version_id"]),
                    str(o["sha256"]),
                    int(o["size"]),
                    str(o["recorded_at"]),
                )
                for o in document["objects"]
            ),
            unrecorded=tuple(
                Unrecorded(str(u["key"]), str(u["version_id"]), int(u["size"]))
                for u in document["unrecorded"]
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:  # JSON and Unicode errors are ValueErrors
        raise ObjectStoreError(f"{key} is not a set-aside listing: {exc}") from exc


def gather_listing(
    client: S3Client,
    book: VersionBook,
    location: StoreLocation,
    capture_id: str,
    attempt: int,
    at: str,
) -> SetAsideListing | None:
    """What ``attempt`` of the capture left: its recorded files, and the versions the
    bucket holds at its keys that have no row (never a version put beside a recorded
    one: fsck keeps naming those). ``None`` when it left nothing in the bucket."""
    prefix = attempt_prefix(location, capture_id, attempt)
    objects = attempt_files(book, location, capture_id, attempt)
    recorded = {row.key for row in objects}
    unrecorded = tuple(
        Unrecorded(v.key, v.version_id, v.size)
        for v in list_versions(client, prefix)
        if not v.delete_marker and v.key not in recorded and "/" not in v.key[len(prefix) :]
    )
    if not objects and not unrecorded:
        return None
    return SetAsideListing(capture_id, attempt, at, tuple(objects), unrecorded)
