"""Sealed files in an S3 bucket with Object Lock: the second :class:`SealedStore`.

Writing: every file is written and hashed on local scratch (``DATA/work/.sealing/``),
exactly as a :class:`~archive.store.FileStore` writes, then ``seal()`` uploads it with
its SHA-256 and its lock, verifies what the bucket holds, and records the version id
(:class:`~archive.objectstore.versionbook.VersionBook`) before returning the
:class:`~archive.store.Artifact`. The order is upload, verify, record: an object without
its record is something ``fsck`` reports, never a record without its object.

Reading: always by the recorded version id, hashed to the end (``open_sealed``), or a
checked copy in the read cache ``DATA/cache/objects/`` for tools that take a path
(:mod:`archive.objectstore.read_cache`).

Scratch, spool and the space reserve stay on local disk: a
:class:`~archive.store.FileStore` on the data directory does them, as in embedded mode.

Quarantine and a retry: nothing in the bucket can be moved or deleted, so
``quarantine()`` sets the capture's current attempt aside instead. It seals a listing of
every object that attempt left in the bucket (:mod:`archive.objectstore.attempts`), keeps
a copy of it with the scratch leftovers in ``DATA/quarantine/ID-STAMP/``, and from then
on the capture's files are the next attempt's: the retry (``create_capture_dir`` again,
same id) writes under ``captures/ID/attempt-2/``, reads by ``(capture_id, name)`` find
its files, and ``fsck`` lists the earlier attempt's objects as set aside.

A version book that refuses a version (another was recorded for the key first) raises a
:class:`~archive.errors.Conflict` of its kind; the store reports it as
:class:`~archive.store.AlreadySealed`, as the bucket's own refusal of an existing key.

Object keys: ``PREFIX/captures/CAPTURE_ID/NAME`` (a retry's:
``PREFIX/captures/CAPTURE_ID/attempt-N/NAME``); files of no capture (custody anchors)
``PREFIX/FOLDER/NAME``; files staged for a capture that has not run yet, unlocked and
deleted once it seals (:mod:`archive.objectstore.incoming`), ``PREFIX/incoming/ID/NAME``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from archive.catalog.rows import ObjectVersion
from archive.errors import Conflict
from archive.objectstore import bucket, holds, removal
from archive.objectstore.attempts import (
    SET_ASIDE_FOLDER,
    SetAsideListing,
    attempt_files,
    attempt_prefix,
    current_attempt,
    file_key,
    gather_listing,
    listing_key,
)
from archive.objectstore.client import S3Client
from archive.objectstore.credentials import Credentials
from archive.objectstore.errors import ObjectMissing
from archive.objectstore.fsck import FsckReport, check_store
from archive.objectstore.holds import HoldBook
from archive.objectstore.incoming import BucketIncoming
from archive.objectstore.listing import anything_under
from archive.objectstore.location import StoreLocation
from archive.objectstore.quarantine import remove_empty, set_aside_scratch
from archive.objectstore.read_cache import ReadCache
from archive.objectstore.reading import open_verified
from archive.objectstore.uploads import Lock, upload_file
from archive.objectstore.verifying import verify_upload
from archive.objectstore.versionbook import VersionBook
from archive.objectstore.writer import ObjectWriter
from archive.store import (
    PARTIAL_SUFFIX,
    AlreadySealed,
    Artifact,
    ArtifactWriter,
    FileStore,
    StoreError,
)
from archive.timeutil import now_rfc3339, utc_now

log = logging.getLogger(__name__)

STAGING_DIR = ".sealing"


class ObjectStore:
    """A :class:`~archive.sealed_store.SealedStore` in a versioned, Object-Locked bucket.

    ``versions`` keeps each upload's version id: the catalog (a
    :class:`~archive.catalog.Catalog`, SQLite or PostgreSQL), shared by every machine of
    a team. ``allow_unlocked`` accepts a bucket without Object Lock (refused otherwise,
    with :class:`BucketNotLocked`). Opening it reads the bucket's configuration;
    :meth:`close` (or ``with``) ends its connections.
    """

    def __init__(
        self,
        data_dir: Path,
        location: StoreLocation,
        credentials: Credentials,
        versions: VersionBook,
        *,
        allow_unlocked: bool = False,
        holds: holds.HoldBook | None = None,
    ) -> None:
        self.root = Path(data_dir)
        self.location = location
        self.versions = versions
        # The catalog is both books; a store without one never uploads anything held.
        if holds is None and isinstance(versions, HoldBook):
            holds = versions
        self.holds = holds
        self.allow_unlocked = allow_unlocked
        self._local = FileStore(self.root)
        # Local scratch laid out as a file store (captures/ID/, FOLDER/).
        self._staging = FileStore(self.root / "work" / STAGING_DIR)
        self._staging.root.mkdir(parents=True, exist_ok=True)
        self._client = S3Client(location, credentials)
        try:
            found = bucket.describe_bucket(self._client, location)
            bucket.require_locked(found, allow_unlocked=allow_unlocked)
        except BaseException:
            self._client.close()
            raise
        self._locks = found.object_lock
        #: What came in with requests, staged in the bucket for any worker (not evidence).
        self.incoming = BucketIncoming(self._client, location, self._local.incoming)
        self.cache = ReadCache(self.root, location, self._client)

    # -- writing ------------------------------------------------------------------------

    def create_capture_dir(self, capture_id: str) -> Path:
        """The capture's scratch place; refused when the bucket has anything of the
        capture's current attempt (of that id at all, for a first attempt)."""
        attempt = self.attempt(capture_id)
        prefix = attempt_prefix(self.location, capture_id, attempt)
        if anything_under(self._client, prefix):
            which = "" if attempt == 1 else f" (attempt {attempt})"
            raise AlreadySealed(
                f"capture {capture_id}{which} already has objects in bucket "
                f"{self.location.bucket} under {prefix}: evidence is never overwritten"
            )
        return self._staging.create_capture_dir(capture_id)

    def create(self, capture_id: str, name: str, kind: str) -> ObjectWriter:
        """A new file of the capture's current attempt, written on scratch; ``seal()``
        uploads it. Its scratch place is made if missing (files added after the
        capture: addenda, analysis runs)."""
        key = self._file_key(capture_id, name)
        self._refuse_recorded(key)
        self._staging.capture_dir(capture_id).mkdir(parents=True, exist_ok=True)
        return self._writer(key, self._staging.create(capture_id, name, kind))

    def create_file(self, folder: str, name: str, kind: str) -> ObjectWriter:
        """A sealed file of no capture (custody anchors), at ``PREFIX/FOLDER/NAME``."""
        key = self.location.key(folder, name)
        self._refuse_recorded(key)
        return self._writer(key, self._staging.create_file(folder, name, kind))

    def adopt(self, capture_id: str, name: str, kind: str, source: Path) -> Artifact:
        """A finished scratch file (a download) moved to staging, hashed, then uploaded."""
        key = self._file_key(capture_id, name)
        self._refuse_recorded(key)
        self._staging.capture_dir(capture_id).mkdir(parents=True, exist_ok=True)
        staged = self._staging.adopt(capture_id, name, kind, source)
        return self._send(key, staged, self._staging.local_path(capture_id, name))

    def _writer(self, key: str, local: ArtifactWriter) -> ObjectWriter:
        return ObjectWriter(local, lambda staged, path: self._send(key, staged, path))

    def _refuse_recorded(self, key: str) -> None:
        if self.versions.object_version(key) is not None:
            raise AlreadySealed(f"object {key} is already sealed: evidence is never overwritten")

    def _send(self, key: str, staged: Artifact, path: Path) -> Artifact:
        """Upload, verify, record; then the staged copy becomes the read cache's.

        A file of a capture whose case is on hold is uploaded held; the hold is asked for
        again once the version is recorded, and set then if it came meanwhile (why two
        looks leave no object unheld: :mod:`archive.holds`).
        """
        held = self._on_hold(key)
        lock = self._lock(held)
        sent = upload_file(
            self._client, key, path, staged.sha256, staged.size, lock, self.location.part_size
        )
        method = verify_upload(self._client, sent, staged.sha256, staged.size, lock)
        self._record(key, sent.version_id, staged)
        if not held and self._on_hold(key):
            holds.hold_late(self._client, self.location, key, sent.version_id)
        log.info("sealed %s as version %s (%s)", key, sent.version_id, method)
        self.cache.adopt(key, path)
        return staged

    def _record(self, key: str, version_id: str, staged: Artifact) -> None:
        """The version written in the book; the book's refusal of it is AlreadySealed."""
        try:
            self.versions.record_version(key, version_id, staged.sha256, staged.size)
        except AlreadySealed:
            raise
        except Conflict as exc:
            raise AlreadySealed(
                f"object {key} was uploaded as version {version_id} and verified, but the "
                f"version book refused it ({exc}); that version stays in the bucket beside "
                "the recorded one (fsck names it) and the file stays on scratch for quarantine"
            ) from exc

    def _lock(self, held: bool) -> Lock:
        if not self._locks:
            return Lock(None, None)
        retention = self.location.retention
        return Lock(retention.mode, utc_now() + timedelta(days=retention.days), held)

    def _on_hold(self, key: str) -> bool:
        """Whether ``key`` is a file of a capture whose case is on hold now (in a bucket
        with Object Lock: a bucket without it holds nothing, and fsck says so)."""
        return bool(self._locks) and holds.capture_on_hold(self.holds, self.location, key)

    # -- reading ------------------------------------------------------------------------

    def attempt(self, capture_id: str) -> int:
        """The capture's current attempt (1 until an attempt of it is set aside): the one
        new files go to and every read of ``(capture_id, name)`` is answered from."""
        return current_attempt(self.versions, self.location, capture_id)

    def sealed_version(self, capture_id: str, name: str) -> ObjectVersion:
        """The recorded version a read of the capture's file uses (its current attempt's);
        :class:`ObjectMissing` when none is recorded."""
        _check_read_name(capture_id, name)
        return self._recorded(self._file_key(capture_id, name))

    def open_sealed(self, capture_id: str, name: str) -> BinaryIO:
        """The recorded version, streamed; :class:`ObjectTampered` at its end if it differs."""
        return open_verified(self._client, self.sealed_version(capture_id, name))

    def open_file(self, folder: str, name: str) -> BinaryIO:
        """A sealed file of no capture (an anchor), streamed and checked like any other."""
        _check_read_name(folder, name)
        return open_verified(self._client, self._recorded(self.location.key(folder, name)))

    def local_path(self, capture_id: str, name: str) -> Path:
        """A checked copy in the read cache (hashed again if already there)."""
        return self.cache.copy_of(self.sealed_version(capture_id, name))

    def capture_dir(self, capture_id: str) -> Path:
        """The read cache's directory of the capture's current attempt, with every
        recorded file of it there."""
        attempt = self.attempt(capture_id)
        for recorded in attempt_files(self.versions, self.location, capture_id, attempt):
            self.cache.copy_of(recorded)
        return self.cache.path(attempt_prefix(self.location, capture_id, attempt))

    def _file_key(self, capture_id: str, name: str) -> str:
        return file_key(self.location, capture_id, self.attempt(capture_id), name)

    def _recorded(self, key: str) -> ObjectVersion:
        recorded = self.versions.object_version(key)
        if recorded is None:
            raise ObjectMissing(f"no sealed version of {key} is recorded: it was never sealed here")
        return recorded

    # -- failure and scratch (local disk) -----------------------------------------------

    def quarantine(self, capture_id: str) -> Path | None:
        """The capture's current attempt set aside; where its leftovers went, or ``None``
        when it left nothing (on scratch or in the bucket).

        What reached the bucket stays there, locked: a listing of it is sealed (and a
        copy kept with the scratch leftovers), and the capture's next attempt writes
        under new keys. Unsealed (or sealed but not uploaded) scratch files are moved to
        ``DATA/quarantine/ID-STAMP/``, as the file store moves them.
        """
        listing = gather_listing(
            self._client,
            self.versions,
            self.location,
            capture_id,
            self.attempt(capture_id),
            now_rfc3339(),
        )
        if listing is not None:
            self._seal_listing(listing)
            for row in listing.objects:  # the cache holds only the capture's current files
                self.cache.forget(row.key)
        staging = self._staging.capture_dir(capture_id)
        return set_aside_scratch(staging, self.quarantine_root, capture_id, listing)

    def _seal_listing(self, listing: SetAsideListing) -> None:
        """The listing uploaded, verified and recorded: from then on the attempt is set
        aside on every machine."""
        key = listing_key(self.location, listing.capture_id, listing.attempt)
        self._refuse_recorded(key)
        name = f"{listing.capture_id}.attempt-{listing.attempt}.json"
        staged = self._staging.root / SET_ASIDE_FOLDER / name
        # A copy left by a set-aside that failed before its upload counted: never evidence.
        staged.unlink(missing_ok=True)
        staged.with_name(f".{name}{PARTIAL_SUFFIX}").unlink(missing_ok=True)
        local = self._staging.create_file(SET_ASIDE_FOLDER, name, "set-aside")
        try:
            with self._writer(key, local) as out:
                out.write(listing.to_bytes())
        except AlreadySealed as exc:
            raise AlreadySealed(
                f"capture {listing.capture_id}: attempt {listing.attempt} cannot be set aside:"
                f" its listing was refused ({exc}). An earlier set-aside may have stopped"
                " between the listing's upload and its record (fsck names such an object);"
                " nothing was moved, and the capture cannot be retried under this id"
            ) from exc
        log.info(
            "capture %s: attempt %d set aside (%d recorded, %d unrecorded objects) in %s",
            listing.capture_id,
            listing.attempt,
            len(listing.objects),
            len(listing.unrecorded),
            key,
        )

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
        remove_empty(self._staging.capture_dir(capture_id))

    def keep_reserve(self) -> bool:
        return self._local.keep_reserve()

    def release_reserve(self) -> bool:
        return self._local.release_reserve()

    # -- the bucket ---------------------------------------------------------------------

    def describe(self) -> bucket.BucketDescription:
        """The bucket's versioning and Object Lock configuration, read now."""
        return bucket.describe_bucket(self._client, self.location)

    def set_legal_hold(
        self,
        capture_ids: Iterable[str],
        on: bool,
        *,
        may_be_empty: Collection[str] = (),
        skip: Collection[tuple[str, str]] = (),
    ) -> list[holds.HoldState]:
        """Place (``on``) or lift the legal hold on every version of the captures' objects
        (every attempt's, and the set-aside listings): :func:`holds.set_legal_hold`."""
        return holds.set_legal_hold(
            self._client, self.location, capture_ids, on, may_be_empty=may_be_empty, skip=skip
        )

    def legal_holds(self, capture_id: str, *, empty_ok: bool = False) -> list[holds.HoldState]:
        """Whether each version of the capture's objects is held, as the bucket says."""
        return holds.legal_holds(self._client, self.location, capture_id, empty_ok=empty_ok)

    def capture_versions(self, capture_id: str) -> list[removal.StoredVersion]:
        """Every version the bucket holds under the capture's prefix, with its retention
        and legal hold as the bucket says (for a deletion's checks)."""
        return removal.capture_versions(self._client, self.location, capture_id)

    def delete_versions(
        self, versions: Iterable[removal.StoredVersion]
    ) -> tuple[list[removal.StoredVersion], list[str]]:
        """Delete those versions for good, by version id (a deleted capture's only); the
        ones deleted and the errors of the others. Their rows are the caller's to drop."""
        return removal.delete_versions(self._client, self.location, versions)

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
