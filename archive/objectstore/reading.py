"""Sealed objects read back: by their recorded version, checked against their SHA-256.

A read names the version id the upload returned (a newer version put at the same key
by anyone else is never what is read), and hashes every byte that passes: at the end
of the stream the SHA-256 and size must be the ones recorded, or the read fails with
:class:`ObjectTampered` instead of ending quietly. A reader that stops early has
checked nothing; the manifest and export checks read to the end.

:func:`download_verified` puts a copy on local disk for the tools that take only a
path: written under a temporary name, hashed as written, renamed into place only when
it matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from archive.catalog.rows import ObjectVersion
from archive.hashing import CHUNK_SIZE
from archive.objectstore.client import S3Client
from archive.objectstore.errors import ObjectTampered, StoreClosed
from archive.store import SEALED_MODE


class VerifiedObjectReader(io.RawIOBase):
    """A sealed object's bytes as a blocking stream; checks the hash at end of stream."""

    def __init__(self, client: S3Client, body: Any, recorded: ObjectVersion) -> None:
        self._client = client
        self._body = body
        self.recorded = recorded
        self._sha256 = hashlib.sha256()
        self._size = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        data: bytes = self._client.run(
            lambda _s3: self._body.read(len(view)), f"read {self.recorded.key}"
        )
        count = len(data)
        view[:count] = data
        self._sha256.update(data)
        self._size += count
        # Checked as soon as the sealed size is reached (a reader that takes exactly
        # that many bytes is checked too), and at end of stream.
        if self._size >= self.recorded.size or count == 0:
            self._check()
        return count

    def _check(self) -> None:
        found = self._sha256.hexdigest()
        if self._size != self.recorded.size or found != self.recorded.sha256:
            raise ObjectTampered(
                f"object {self.recorded.key} version {self.recorded.version_id} is not the "
                f"sealed file: read {self._size} bytes with sha256 {found}, sealed as "
                f"{self.recorded.size} bytes with sha256 {self.recorded.sha256}"
            )
        self.verified = True

    def close(self) -> None:
        if not self.closed:
            # A closed store has closed its connections (and this body's) already.
            with contextlib.suppress(StoreClosed):
                self._client.run(lambda _s3: _release(self._body), f"close {self.recorded.key}")
        super().close()


async def _release(body: Any) -> None:
    body.close()


async def _get(s3: Any, client: S3Client, recorded: ObjectVersion) -> Any:
    """The GET of the recorded version; its announced size checked before any byte."""
    answer = await s3.get_object(
        Bucket=client.location.bucket, Key=recorded.key, VersionId=recorded.version_id
    )
    length = answer.get("ContentLength")
    if length is not None and int(length) != recorded.size:
        answer["Body"].close()
        raise ObjectTampered(
            f"object {recorded.key} version {recorded.version_id} is {length} bytes, sealed "
            f"as {recorded.size}: it is not the sealed file"
        )
    return answer["Body"]


def open_verified(client: S3Client, recorded: ObjectVersion) -> io.BufferedReader:
    """A buffered stream of the recorded version, hash-checked at its end."""
    body = client.run(lambda s3: _get(s3, client, recorded), f"read {recorded.key}")
    return io.BufferedReader(VerifiedObjectReader(client, body, recorded), CHUNK_SIZE)


def download_verified(client: S3Client, recorded: ObjectVersion, target: Path) -> Path:
    """The recorded version copied to ``target`` (read-only), only if its hash matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix="." + target.name + ".", suffix=".partial", dir=target.parent
    )
    temp = Path(name)
    try:
        with open(fd, "wb") as out:
            client.run(lambda s3: _copy(s3, client, recorded, out), f"download {recorded.key}")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, SEALED_MODE)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


async def _copy(s3: Any, client: S3Client, recorded: ObjectVersion, out: Any) -> None:
    body = await _get(s3, client, recorded)
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := await body.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(out.write, chunk)
    finally:
        body.close()
    if size != recorded.size or digest.hexdigest() != recorded.sha256:
        raise ObjectTampered(
            f"object {recorded.key} version {recorded.version_id} downloaded as {size} bytes "
            f"with sha256 {digest.hexdigest()}, sealed as {recorded.size} bytes with sha256 "
            f"{recorded.sha256}: not kept"
        )
