"""An upload checked before it counts: the bucket must hold exactly the sealed bytes,
under the version the upload returned, locked as asked.

What SeaweedFS was measured to do (4.48): it computes the SHA-256 of what it receives
and refuses a mismatch with ``BadDigest`` (whole objects and each part); it keeps the
checksum and answers it on ``HEAD ...?versionId=`` with ``x-amz-checksum-mode:
ENABLED`` (the whole file's for a single PUT, S3's composite ``SHA256(part digests)-N``
for a multipart upload, the same as AWS); and it reports the version's lock mode and
retain-until date. So the check is a ``HEAD`` of the new version comparing size,
checksum and lock with what was sent: the server has already hashed every byte.

A server that keeps no checksum (answers none) is not trusted on its word: the version
is then read back and hashed in full (:func:`read_back`). Nothing passes on a missing
answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from archive.hashing import CHUNK_SIZE
from archive.objectstore.client import S3Client
from archive.objectstore.errors import BucketNotLocked, ObjectTampered
from archive.objectstore.uploads import Lock, Sent
from archive.objectstore.versionbook import RecordedVersion

#: Servers keep retain-until dates to the second; what they report may be this much
#: earlier than what was sent.
_DATE_SLACK = timedelta(seconds=1)


@dataclass(frozen=True)
class Verified:
    """An upload found whole: how it was checked (``checksum`` or ``read-back``)."""

    recorded: RecordedVersion
    method: str


def verify_upload(client: S3Client, sent: Sent, sha256: str, size: int, lock: Lock) -> Verified:
    """The new version checked against what was sent; :class:`ObjectTampered` if not."""
    recorded = RecordedVersion(sent.key, sent.version_id, sha256, size)
    head = client.call(
        "head_object",
        f"verify {sent.key}",
        Bucket=client.location.bucket,
        Key=sent.key,
        VersionId=sent.version_id,
        ChecksumMode="ENABLED",
    )
    _check_version(sent, head)
    _check_size(sent, head, size)
    _check_lock(sent, head, lock)
    stored = head.get("ChecksumSHA256")
    if stored is None:
        read_back(client, recorded)
        return Verified(recorded, "read-back")
    if stored != sent.checksum:
        raise ObjectTampered(
            f"object {sent.key} version {sent.version_id} has checksum {stored}, but "
            f"{sent.checksum} was sent: the bucket does not hold the sealed bytes"
        )
    return Verified(recorded, "checksum")


def read_back(client: S3Client, recorded: RecordedVersion) -> None:
    """Read the recorded version in full and hash it; :class:`ObjectTampered` if it differs."""
    client.run(lambda s3: _hash_version(s3, client, recorded), f"read back {recorded.key}")


async def _hash_version(s3: Any, client: S3Client, recorded: RecordedVersion) -> None:
    answer = await s3.get_object(
        Bucket=client.location.bucket, Key=recorded.key, VersionId=recorded.version_id
    )
    body = answer["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := await body.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    finally:
        body.close()
    if (digest.hexdigest(), size) != (recorded.sha256, recorded.size):
        raise ObjectTampered(
            f"object {recorded.key} version {recorded.version_id} reads back as {size} "
            f"bytes with sha256 {digest.hexdigest()}, sealed as {recorded.size} bytes with "
            f"sha256 {recorded.sha256}"
        )


def _check_version(sent: Sent, head: dict[str, Any]) -> None:
    if head.get("VersionId") != sent.version_id:
        raise ObjectTampered(
            f"asked for {sent.key} version {sent.version_id}, the bucket answered version "
            f"{head.get('VersionId')}: it does not read by version id"
        )


def _check_size(sent: Sent, head: dict[str, Any], size: int) -> None:
    if head.get("ContentLength") != size:
        raise ObjectTampered(
            f"object {sent.key} version {sent.version_id} is {head.get('ContentLength')} "
            f"bytes, {size} were sent"
        )


def _check_lock(sent: Sent, head: dict[str, Any], lock: Lock) -> None:
    if lock.mode is None or lock.retain_until is None:
        return
    mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
    if mode != lock.mode.value or until is None or until < lock.retain_until - _DATE_SLACK:
        raise BucketNotLocked(
            f"object {sent.key} version {sent.version_id} is locked {mode or 'not at all'} "
            f"until {until or 'never'}, {lock.mode.value} until {lock.retain_until} was asked: "
            "the bucket does not apply Object Lock; use a bucket made with Object Lock"
        )
