"""An upload checked before it counts: the bucket must hold exactly the sealed bytes,
under the version the upload returned, locked as asked.

What SeaweedFS was measured to do (4.48): it computes the SHA-256 of what it receives
and refuses a mismatch with ``BadDigest`` (whole objects and each part); it keeps the
checksum and answers it on ``HEAD ...?versionId=`` with ``x-amz-checksum-mode:
ENABLED`` (the whole file's for a single PUT, S3's composite ``SHA256(part digests)-N``
for a multipart upload, the same as AWS); and it reports the version's lock mode,
retain-until date and legal hold (``ON`` when asked for at upload, single PUT or
multipart). So the check is a ``HEAD`` of the new version comparing size, checksum,
lock and hold with what was sent: the server has already hashed every byte.

A server that keeps no checksum (answers none) is not trusted on its word: the version
is then read back and hashed in full (:func:`read_back`). Nothing passes on a missing
answer.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from archive.hashing import CHUNK_SIZE
from archive.objectstore.client import S3Client
from archive.objectstore.errors import BucketNotLocked, ObjectTampered
from archive.objectstore.uploads import Lock, Sent

#: Servers keep retain-until dates to the second; what they report may be this much
#: earlier than what was sent.
_DATE_SLACK = timedelta(seconds=1)


def verify_upload(client: S3Client, sent: Sent, sha256: str, size: int, lock: Lock) -> str:
    """The new version checked against what was sent; :class:`ObjectTampered` if not.
    Says how it was checked: ``checksum`` (the server's) or ``read-back``."""
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
        read_back(client, sent.key, sent.version_id, sha256, size)
        return "read-back"
    if stored != sent.checksum:
        raise ObjectTampered(
            f"object {sent.key} version {sent.version_id} has checksum {stored}, but "
            f"{sent.checksum} was sent: the bucket does not hold the sealed bytes"
        )
    return "checksum"


def read_back(client: S3Client, key: str, version_id: str, sha256: str, size: int) -> None:
    """Read one version in full and hash it; :class:`ObjectTampered` unless it is
    ``size`` bytes with ``sha256`` (a new upload's, or a recorded row's)."""
    expected = (sha256, size)
    client.run(lambda s3: _hash_version(s3, client, key, version_id, expected), f"read back {key}")


async def _hash_version(
    s3: Any, client: S3Client, key: str, version_id: str, expected: tuple[str, int]
) -> None:
    answer = await s3.get_object(Bucket=client.location.bucket, Key=key, VersionId=version_id)
    body = answer["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := await body.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    finally:
        body.close()
    if (digest.hexdigest(), size) != expected:
        raise ObjectTampered(
            f"object {key} version {version_id} reads back as {size} bytes with sha256 "
            f"{digest.hexdigest()}, sealed as {expected[1]} bytes with sha256 {expected[0]}"
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
    if lock.legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON":
        raise BucketNotLocked(
            f"object {sent.key} version {sent.version_id} was uploaded under legal hold, but "
            f"the bucket reports its hold as {head.get('ObjectLockLegalHoldStatus') or 'none'}:"
            " the bucket does not apply legal holds; use a bucket made with Object Lock"
        )
    if lock.mode is None or lock.retain_until is None:
        return
    mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
    if mode != lock.mode.value or until is None or until < lock.retain_until - _DATE_SLACK:
        raise BucketNotLocked(
            f"object {sent.key} version {sent.version_id} is locked {mode or 'not at all'} "
            f"until {until or 'never'}, {lock.mode.value} until {lock.retain_until} was asked: "
            "the bucket does not apply Object Lock; use a bucket made with Object Lock"
        )
