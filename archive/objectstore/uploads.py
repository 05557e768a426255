"""A sealed file sent to the bucket: its SHA-256 with it, locked from the first byte.

The file is already sealed on local scratch (hashed as written, fsynced) when it gets
here; the upload reads it back once, hashing again as it goes, and refuses to finish if
the bytes on disk no longer hash to what was sealed. Files up to one part are one
``PutObject``; larger ones a multipart upload whose parts are read from disk one at a
time (memory holds one part, whatever the file's size). Every request carries:

- ``ChecksumSHA256``: the server computes its own and refuses a mismatch (``BadDigest``),
  for the whole object or for each part;
- the Object Lock mode and retain-until date, and the legal hold when the capture's
  case is held, so no moment exists in which the new version is unlocked or unheld;
- ``If-None-Match: *``: a key that already holds an object is refused
  (:class:`AlreadySealed`), so the store never puts a second version over evidence.

A multipart upload that fails is aborted (its parts would otherwise lie in the bucket
unseen, taking space); nothing of it was ever readable as an object.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from archive.objectstore.client import S3Client, error_code
from archive.objectstore.errors import BucketNotLocked, ObjectTampered
from archive.objectstore.location import RetentionMode
from archive.store import AlreadySealed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lock:
    """The Object Lock an upload asks for (``None`` fields: no lock, when allowed), and
    whether the new version is under legal hold from its first byte (its case is held)."""

    mode: RetentionMode | None
    retain_until: datetime | None
    legal_hold: bool = False

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.mode is not None and self.retain_until is not None:
            params["ObjectLockMode"] = self.mode.value
            params["ObjectLockRetainUntilDate"] = self.retain_until
        if self.legal_hold:
            params["ObjectLockLegalHoldStatus"] = "ON"
        return params


@dataclass(frozen=True)
class Sent:
    """What an upload made: the new version, and the checksum S3 should now report for
    it (the whole file's SHA-256, or for multipart S3's SHA-256 of the parts' SHA-256s
    followed by ``-N``)."""

    key: str
    version_id: str
    checksum: str
    parts: int


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def upload_file(
    client: S3Client, key: str, path: Path, sha256: str, size: int, lock: Lock, part_size: int
) -> Sent:
    """Send the sealed file ``path`` to ``key``; blocks until the bucket has it."""
    if size <= part_size:
        return client.run(lambda s3: _put(s3, client, key, path, sha256, lock), f"upload {key}")
    return client.run(
        lambda s3: _multipart(s3, client, key, path, sha256, lock, part_size), f"upload {key}"
    )


async def _put(s3: Any, client: S3Client, key: str, path: Path, sha256: str, lock: Lock) -> Sent:
    data = await asyncio.to_thread(path.read_bytes)
    digest = hashlib.sha256(data).digest()
    _same_as_sealed(key, path, digest.hex(), sha256)
    answer = await _refusing_existing(
        key,
        s3.put_object(
            Bucket=client.location.bucket,
            Key=key,
            Body=data,
            ChecksumSHA256=b64(digest),
            IfNoneMatch="*",
            **lock.params(),
        ),
    )
    return Sent(key, _version_of(key, answer), b64(digest), parts=1)


async def _multipart(
    s3: Any, client: S3Client, key: str, path: Path, sha256: str, lock: Lock, part_size: int
) -> Sent:
    bucket = client.location.bucket
    started = await s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **lock.params()
    )
    upload_id = started["UploadId"]
    try:
        parts, part_digests = await _send_parts(s3, bucket, key, upload_id, path, sha256, part_size)
        answer = await _refusing_existing(
            key,
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            ),
        )
    except BaseException:
        await _abort(s3, bucket, key, upload_id)
        raise
    composite = b64(hashlib.sha256(b"".join(part_digests)).digest()) + f"-{len(parts)}"
    return Sent(key, _version_of(key, answer), composite, parts=len(parts))


async def _send_parts(
    s3: Any, bucket: str, key: str, upload_id: str, path: Path, sha256: str, part_size: int
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Each part read, hashed and sent in turn; the whole file's hash checked at the end."""
    whole = hashlib.sha256()
    parts: list[dict[str, Any]] = []
    digests: list[bytes] = []
    with open(path, "rb") as fh:
        while data := await asyncio.to_thread(_read_part, fh, part_size):
            whole.update(data)
            digest = hashlib.sha256(data).digest()
            number = len(parts) + 1
            sent = await s3.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=b64(digest),
            )
            del data  # one part in memory at a time
            parts.append(
                {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": b64(digest)}
            )
            digests.append(digest)
    _same_as_sealed(key, path, whole.hexdigest(), sha256)
    return parts, digests


def _read_part(fh: BinaryIO, part_size: int) -> bytes:
    return fh.read(part_size)


async def _abort(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:  # the failure being raised matters more than this one
        log.warning("could not abort the failed multipart upload %s of %s: %s", upload_id, key, exc)


async def _refusing_existing(key: str, request: Any) -> dict[str, Any]:
    try:
        return await request
    except Exception as exc:
        if error_code(exc) in ("PreconditionFailed", "412"):
            raise AlreadySealed(
                f"object {key} already exists in the bucket: evidence is never overwritten"
            ) from exc
        raise


def _same_as_sealed(key: str, path: Path, found: str, sealed: str) -> None:
    if found != sealed:
        raise ObjectTampered(
            f"{path} changed on local scratch after it was sealed (sha256 {found}, sealed "
            f"as {sealed}); it was not uploaded to {key} and stays there for inspection"
        )


def _version_of(key: str, answer: dict[str, Any]) -> str:
    version = answer.get("VersionId")
    if not version or version == "null":
        raise BucketNotLocked(
            f"the bucket stored {key} without a version id: versioning is off, so the "
            "object could be replaced unseen; enable versioning and Object Lock on the bucket"
        )
    return str(version)
