"""Staged files in the bucket: what came in with a request, for a worker on another machine.

In team mode the server that receives a request is seldom the machine that captures it.
What the investigator's browser sent is first written on the server's disk, hashed as
written (:class:`~archive.incoming.LocalIncoming`), then uploaded to
``PREFIX/incoming/CAPTURE_ID/NAME`` with its SHA-256 (the bucket refuses other bytes)
and checked there, and the local copy goes. These objects are not evidence: no lock,
no version recorded in the catalog, and ``fsck`` counts them apart (``staged``).

The worker that runs the capture fetches each into its own ``DATA/incoming/ID/``,
refusing bytes that are not the ones hashed at staging; once the capture is sealed
every version under the capture's staging prefix is deleted. A capture that never
seals has them set aside in the worker's local quarantine first, then deleted.

A bucket whose *default* retention locks every new object locks these too: their
delete is then refused until the retention ends, which is logged and left for
``fsck`` to count; give such a bucket no default retention (this store locks what it
seals itself).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from pathlib import Path

from archive.catalog.rows import ObjectVersion
from archive.hashing import sha256_file
from archive.incoming import LocalIncoming
from archive.objectstore.client import S3Client
from archive.objectstore.errors import ObjectMissing, ObjectStoreError
from archive.objectstore.listing import list_versions
from archive.objectstore.location import StoreLocation
from archive.objectstore.reading import download_verified
from archive.objectstore.uploads import Lock, upload_file
from archive.objectstore.verifying import verify_upload
from archive.store import Artifact

log = logging.getLogger(__name__)

#: Staged objects carry no Object Lock: they are deleted once their capture is sealed.
UNLOCKED = Lock(None, None)


class BucketIncoming:
    """An object store's :class:`~archive.sealed_store.IncomingStore`."""

    def __init__(self, client: S3Client, location: StoreLocation, local: LocalIncoming) -> None:
        self._client = client
        self._location = location
        self.local = local

    def stage(self, capture_id: str, name: str, data: bytes) -> Artifact:
        """Written and hashed locally, uploaded with that SHA-256, checked; the local
        copy removed whether or not the upload succeeded (nothing else reads it)."""
        staged = self.local.stage(capture_id, name, data)
        path = self.local.directory(capture_id) / name
        key = self._location.incoming_key(capture_id, name)
        try:
            sent = upload_file(
                self._client,
                key,
                path,
                staged.sha256,
                staged.size,
                UNLOCKED,
                self._location.part_size,
            )
            verify_upload(self._client, sent, staged.sha256, staged.size, UNLOCKED)
        finally:
            path.unlink(missing_ok=True)
            _remove_if_empty(self.local.directory(capture_id))
        log.info("staged %s as version %s", key, sent.version_id)
        return staged

    def fetch(self, capture_id: str, name: str, sha256: str, size: int) -> Path:
        """The staged object in ``DATA/incoming/ID/NAME``, kept only if it is ``sha256``
        and ``size``; a copy already there with that hash is used as it is."""
        target = self.local.fetch(capture_id, name, sha256, size)
        if target.is_file() and sha256_file(target) == (sha256, size):
            return target
        target.unlink(missing_ok=True)
        key = self._location.incoming_key(capture_id, name)
        return download_verified(self._client, self._latest(key, sha256, size), target)

    def discard(self, capture_id: str) -> None:
        """The local copies and every version of the capture's staged objects deleted."""
        self.local.discard(capture_id)
        self._delete_staged(capture_id)

    def set_aside(self, capture_id: str) -> Path | None:
        """Each staged object this machine lacks downloaded (checked against the SHA-256
        the bucket keeps), the lot moved to local quarantine, then deleted from the
        bucket. If any cannot be downloaded, the bucket's copies are all kept."""
        try:
            self._download_missing(capture_id)
        except ObjectStoreError as exc:
            log.warning(
                "capture %s: its staged files stay in the bucket under %s, since they could"
                " not all be set aside here: %s",
                capture_id,
                self._location.incoming_prefix(capture_id),
                exc,
            )
            return self.local.set_aside(capture_id)
        moved = self.local.set_aside(capture_id)
        self._delete_staged(capture_id)
        return moved

    def _download_missing(self, capture_id: str) -> None:
        prefix = self._location.incoming_prefix(capture_id)
        for version in list_versions(self._client, prefix):
            target = self.local.directory(capture_id) / version.key[len(prefix) :]
            if version.delete_marker or not version.is_latest or target.exists():
                continue
            head = self._client.call(
                "head_object",
                f"read {version.key}",
                Bucket=self._location.bucket,
                Key=version.key,
                VersionId=version.version_id,
                ChecksumMode="ENABLED",
            )
            checksum = head.get("ChecksumSHA256")
            if not checksum or "-" in checksum:
                raise ObjectStoreError(
                    f"staged object {version.key} has no whole-file SHA-256 in the bucket"
                    " to check a download against"
                )
            sha256 = base64.b64decode(checksum).hex()
            recorded = ObjectVersion(version.key, version.version_id, sha256, version.size, "")
            download_verified(self._client, recorded, target)

    def _latest(self, key: str, sha256: str, size: int) -> ObjectVersion:
        """The staged object's current version, to be read by its id and checked."""
        head = self._client.call(
            "head_object", f"read {key}", Bucket=self._location.bucket, Key=key
        )
        version = head.get("VersionId")
        if not version:
            raise ObjectMissing(f"staged object {key} has no version id: cannot read it")
        return ObjectVersion(key, str(version), sha256, size, "")

    def _delete_staged(self, capture_id: str) -> None:
        """Every version (and delete marker) under the capture's staging prefix, deleted
        by version id; a refusal is logged, never raised (``fsck`` counts what is left)."""
        prefix = self._location.incoming_prefix(capture_id)
        try:
            for version in list(list_versions(self._client, prefix)):
                self._client.call(
                    "delete_object",
                    f"delete staged {version.key}",
                    Bucket=self._location.bucket,
                    Key=version.key,
                    VersionId=version.version_id,
                )
        except ObjectStoreError as exc:
            log.warning("capture %s: staged objects under %s stay: %s", capture_id, prefix, exc)


def _remove_if_empty(directory: Path) -> None:
    # Not empty: another file of the capture is being staged there.
    with contextlib.suppress(OSError):
        directory.rmdir()
