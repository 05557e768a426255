"""SHA-256 computed as bytes flow, never by re-reading a file later.

The evidence rule is that a hash is recorded before anyone can touch the file,
so writers hash what passes through them (:class:`HashingWriter`). Reading a file
back to hash it (:func:`sha256_file`) is only for verification.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

#: Files are read and written in pieces this big: nothing loads a whole video, and
#: warcio's 16 KiB pieces do not each become a system call.
CHUNK_SIZE = 1024 * 1024


class HashingWriter:
    """Wraps a binary file: every write goes through to it and into a SHA-256."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self._sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def tell(self) -> int:
        return self.size

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._sha256.hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file, read in chunks.

    Used to verify sealed files, and to hash a finished download as the store adopts it.
    """
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
