"""Sealed files in an S3 bucket with Object Lock: the second :class:`SealedStore`.

Writing: every file is written and hashed on local scratch (``DATA/work/.sealing/``),
exactly as a :class:`~archive.store.FileStore` writes, then ``seal()`` uploads it with
its SHA-256 and its lock, verifies what the bucket holds, and records the version id
(:class:`~archive.objectstore.versionbook.VersionBook`) before returning the
:class:`~archive.store.Artifact`. The order is upload, verify, record: an object without
its record is something ``fsck`` reports, never a record without its object.

Reading: always by the recorded version id, hashed to the end (``open_sealed``), or a
checked copy in the read cache ``DATA/cache/objects/`` for tools that take a path.

Scratch, spool, the space reserve and quarantine stay on local disk: a
:class:`~archive.store.FileStore` on the data directory does them, as in embedded mode.

Object keys: ``PREFIX/captures/CAPTURE_ID/NAME``; files of no capture (custody anchors)
``PREFIX/FOLDER/NAME``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from archive.hashing import sha256_file
from archive.objectstore import bucket, holds
from archive.objectstore.client import S3Client
from archive.objectstore.credentials import Credentials
from archive.objectstore.errors import ObjectMissing
from archive.objectstore.fsck import FsckReport, check_store
from archive.objectstore.listing import anything_under
from archive.objectstore.location import StoreLocation
from archive.objectstore.reading import download_verified, open_verified
from archive.objectstore.uploads import Lock, upload_file
from archive.objectstore.verifying import verify_upload
from archive.objectstore.versionbook import RecordedVersion, VersionBook
from archive.objectstore.writer import ObjectWriter
from archive.store import PARTIAL_SUFFIX, AlreadySealed, Artifact, FileStore, StoreError
from archive.timeutil import utc_now

log = logging.getLogger(__name__)

STAGING_DIR = ".sealing"
CACHE_DIR = "cache/objects"


class _Staging(FileStore):
    """Local scratch laid out as a file store (``captures/ID/``, ``FOLDER/``) under
    ``DATA/work/.sealing``, whose quarantine is the data directory's own."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "work" / STAGING_DIR)
        self.root.mkdir(parents=True, exist_ok=True)
        self._quarantine_root = data_dir / "quarantine"

    @property
    def quarantine_root(self) -> Path:
        return self._quarantine_root


class ObjectStore:
    """A :class:`~archive.sealed_store.SealedStore` in a versioned, Object-Locked bucket.

    ``versions`` keeps each upload's version id; ``allow_unlocked`` accepts a bucket
    without Object Lock (refused otherwise, with :class:`BucketNotLocked`). Opening it
    reads the bucket's configuration; :meth:`close` (or ``with``) ends its connections.
    """

    def __init__(
        self,
        data_dir: Path,
        location: StoreLocation,
        credentials: Credentials,
        versions: VersionBook,
        *,
        allow_unlocked: bool = False,
    ) -> None:
        self.root = Path(data_dir)
        self.location = location
        self.versions = versions
        self.allow_unlocked = allow_unlocked
        self._local = FileStore(self.root)
        self._staging = _Staging(self.root)
        self._client = S3Client(location, credentials)
        try:
            found = bucket.describe_bucket(self._client, location)
            bucket.require_locked(found, allow_unlocked=allow_unlocked)
        except BaseException:
            self._client.close()
            raise
        self._locks = found.object_lock

    # -- writing ------------------------------------------------------------------------

    def create_capture_dir(self, capture_id: str) -> Path:
        """The capture's scratch place; refused when the bucket has anything of that id."""
        prefix = self.location.capture_prefix(capture_id)
        if anything_under(self._client, prefix):
            raise AlreadySealed(
                f"capture {capture_id} already has objects in bucket {self.location.bucket} "
                f"under {prefix}: evidence is never overwritten"
            )
        return self._staging.create_capture_dir(capture_id)

    def create(self, capture_id: str, name: str, kind: str) -> ObjectWriter:
        """A new file of the capture, written on scratch; ``seal()`` uploads it. Its
        scratch place is made if missing (files added after the capture: addenda,
        analysis runs)."""
        key = self.location.capture_key(capture_id, name)
        self._refuse_recorded(key)
        self._staging.capture_dir(capture_id).mkdir(parents=True, exist_ok=True)
        local = self._staging.create(capture_id, name, kind)
        return ObjectWriter(local, lambda staged, path: self._send(key, staged, path))

    def create_file(self, folder: str, name: str, kind: str) -> ObjectWriter:
        """A sealed file of no capture (custody anchors), at ``PREFIX/FOLDER/NAME``."""
        key = self.location.key(folder, name)
        self._refuse_recorded(key)
        local = self._staging.create_file(folder, name, kind)
        return ObjectWriter(local, lambda staged, path: self._send(key, staged, path))

    def adopt(self, capture_id: str, name: str, kind: str, source: Path) -> Artifact:
        """A finished scratch file (a download) moved to staging, hashed, then uploaded."""
        key = self.location.capture_key(capture_id, name)
        self._refuse_recorded(key)
        self._staging.capture_dir(capture_id).mkdir(parents=True, exist_ok=True)
        staged = self._staging.adopt(capture_id, name, kind, source)
        return self._send(key, staged, self._staging.local_path(capture_id, name))

    def _refuse_recorded(self, key: str) -> None:
        if self.versions.object_version(key) is not None:
            raise AlreadySealed(f"object {key} is already sealed: evidence is never overwritten")

    def _send(self, key: str, staged: Artifact, path: Path) -> Artifact:
        """Upload, verify, record; then the staged copy becomes the read cache's."""
        lock = self._lock()
        sent = upload_file(
            self._client, key, path, staged.sha256, staged.size, lock, self.location.part_size
        )
        verified = verify_upload(self._client, sent, staged.sha256, staged.size, lock)
        recorded = verified.recorded
        self.versions.record_version(key, recorded.version_id, recorded.sha256, recorded.size)
        log.info("sealed %s as version %s (%s)", key, recorded.version_id, verified.method)
        cached = self._cache_path(key)
        cached.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, cached)
        return staged

    def _lock(self) -> Lock:
        if not self._locks:
            return Lock(None, None)
        retention = self.location.retention
        return Lock(retention.mode, utc_now() + timedelta(days=retention.days))

    # -- reading ------------------------------------------------------------------------

    def open_sealed(self, capture_id: str, name: str) -> BinaryIO:
        """The recorded version, streamed; :class:`ObjectTampered` at its end if it differs."""
        _check_read_name(capture_id, name)
        return open_verified(
            self._client, self._recorded(self.location.capture_key(capture_id, name))
        )

    def open_file(self, folder: str, name: str) -> BinaryIO:
        """A sealed file of no capture (an anchor), streamed and checked like any other."""
        _check_read_name(folder, name)
        return open_verified(self._client, self._recorded(self.location.key(folder, name)))

    def local_path(self, capture_id: str, name: str) -> Path:
        """A checked copy in the read cache (hashed again if already there)."""
        _check_read_name(capture_id, name)
        return self._cached(self._recorded(self.location.capture_key(capture_id, name)))

    def capture_dir(self, capture_id: str) -> Path:
        """The read cache's directory of the capture, with every recorded file in it."""
        for recorded in self.versions.recorded_versions(self.location.capture_prefix(capture_id)):
            self._cached(recorded)
        return self._cache_path(self.location.capture_prefix(capture_id))

    def _recorded(self, key: str) -> RecordedVersion:
        recorded = self.versions.object_version(key)
        if recorded is None:
            raise ObjectMissing(f"no sealed version of {key} is recorded: it was never sealed here")
        return recorded

    def _cache_path(self, key: str) -> Path:
        relative = key[len(self.location.root_prefix) :]
        return self.root / CACHE_DIR / relative

    def _cached(self, recorded: RecordedVersion) -> Path:
        path = self._cache_path(recorded.key)
        if path.exists():
            if sha256_file(path) == (recorded.sha256, recorded.size):
                return path
            log.warning("cached copy %s does not match its sealed hash; fetching again", path)
            path.unlink()
        return download_verified(self._client, recorded, path)

    # -- failure and scratch (local disk) -----------------------------------------------

    def quarantine(self, capture_id: str) -> Path | None:
        """Unsealed (or sealed but not uploaded) files on scratch set aside; ``None`` when
        there are none. What reached the bucket stays there, locked."""
        staging = self._staging.capture_dir(capture_id)
        if not staging.exists():
            return None
        if not any(p.is_file() for p in staging.rglob("*")):
            _remove_empty(staging)
            return None
        return self._staging.quarantine(capture_id)

    @property
    def quarantine_root(self) -> Path:
        return self._local.quarantine_root

    def work_dir(self, capture_id: str) -> Path:
        return self._local.work_dir(capture_id)

    def make_spool_dir(self, capture_id: str) -> Path:
        return self._local.make_spool_dir(capture_id)

    def clear_work(self, capture_id: str) -> None:
        """The capture's scratch removed, and its staging place if nothing is left in it."""
        self._local.clear_work(capture_id)
        _remove_empty(self._staging.capture_dir(capture_id))

    def keep_reserve(self) -> bool:
        return self._local.keep_reserve()

    def release_reserve(self) -> bool:
        return self._local.release_reserve()

    # -- the bucket ---------------------------------------------------------------------

    def describe(self) -> bucket.BucketDescription:
        """The bucket's versioning and Object Lock configuration, read now."""
        return bucket.describe_bucket(self._client, self.location)

    def set_legal_hold(self, capture_ids: Iterable[str], on: bool) -> list[holds.HoldState]:
        """Place (``on``) or lift the legal hold on every version of the captures' objects."""
        return holds.set_legal_hold(self._client, self.location, capture_ids, on)

    def legal_holds(self, capture_id: str) -> list[holds.HoldState]:
        """Whether each version of the capture's objects is held, as the bucket says."""
        return holds.legal_holds(self._client, self.location, capture_id)

    def fsck(
        self, catalog_files: Iterable[tuple[str, str, str]] = (), *, deep: bool = False
    ) -> FsckReport:
        """The bucket against the version book (and the catalog's files); never deletes."""
        return check_store(self._client, self.location, self.versions, catalog_files, deep=deep)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_read_name(owner: str, name: str) -> None:
    """As the file store: a sealed file's name is plain, never a hidden or partial one."""
    for part in (owner, name):
        if not part or "/" in part or part.startswith(".") or part.endswith(PARTIAL_SUFFIX):
            raise StoreError(f"{owner}/{name}: {part!r} cannot name a sealed file")


def _remove_empty(directory: Path) -> None:
    """Remove ``directory`` and its empty subdirectories; leave anything holding a file."""
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()
    with contextlib.suppress(OSError):
        directory.rmdir()
