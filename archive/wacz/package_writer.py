"""Writing the package's ZIP: every entry hashed as it goes in, and remembered.

The ZIP is written strictly forward into a stream that cannot seek (the hashing
writer over the partial file, :mod:`archive.wacz.placing`), so zipfile puts each
entry's sizes after it (data descriptors). Large files stream through a chunk at a
time; a sealed file is compared with the hash and size it was sealed with as it
passes, so a file changed since sealing is never packaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from archive.hashing import CHUNK_SIZE, HashingWriter
from archive.store import Artifact
from archive.wacz.export_types import ExportError, ExportTampered
from archive.wacz.layout import EXPORT_MODE

#: Text is deflated; everything else (WARCs are gzip already, images, PDFs, tokens) stored.
_DEFLATED_SUFFIXES = (".cdxj", ".jsonl", ".json", ".html", ".md", ".pem", ".txt", "SHA256SUMS")


@dataclass(frozen=True)
class Resource:
    """One entry as written: what ``datapackage.json`` and ``SHA256SUMS`` list."""

    path: str
    sha256: str
    size: int


class PackageWriter:
    """A WACZ being written: every entry hashed as it goes in, and remembered."""

    def __init__(self, sink: HashingWriter, created: datetime) -> None:
        # ``sink`` cannot seek, so zipfile writes sizes after each entry (data descriptors):
        # the file is written strictly forward, through the whole-file hash.
        self.zip = zipfile.ZipFile(sink, "w", allowZip64=True)  # type: ignore[arg-type]
        self.date_time = created.timetuple()[:6]
        self.resources: list[Resource] = []

    def add_file(self, path: str, source: Path, *, expected: Artifact | None = None) -> Resource:
        """Stream a file in; when ``expected`` is given its hash and size must match."""
        with open(source, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            resource = self._add(path, _chunks(fh), size)
        if expected is not None and (resource.sha256, resource.size) != (
            expected.sha256,
            expected.size,
        ):
            raise ExportTampered(
                f"{source} has SHA-256 {resource.sha256} ({resource.size} bytes) but was sealed"
                f" with {expected.sha256} ({expected.size} bytes): it changed since it was"
                " sealed; the export is abandoned"
            )
        return resource

    def add_bytes(self, path: str, data: bytes) -> Resource:
        return self._add(path, iter((data,)), len(data))

    def add_unlisted(self, path: str, data: bytes) -> None:
        """``datapackage.json`` and its digest: in the zip, not in the resources."""
        self._add(path, iter((data,)), len(data), listed=False)

    def close(self) -> None:
        self.zip.close()

    def abandon(self) -> None:
        """After a failure: end the zip so nothing writes to it later (the file is deleted)."""
        with contextlib.suppress(Exception):
            self.zip.close()

    def _add(
        self, path: str, chunks: Iterator[bytes], size: int, *, listed: bool = True
    ) -> Resource:
        info = zipfile.ZipInfo(path, self.date_time)
        info.compress_type = (
            zipfile.ZIP_DEFLATED if path.endswith(_DEFLATED_SUFFIXES) else zipfile.ZIP_STORED
        )
        info.external_attr = (0o100000 | EXPORT_MODE) << 16  # a regular file, read-only
        info.file_size = size  # lets zipfile choose ZIP64 before writing, for files over 4 GiB
        digest = hashlib.sha256()
        written = 0
        with self.zip.open(info, "w") as entry:
            for chunk in chunks:
                digest.update(chunk)
                written += len(chunk)
                entry.write(chunk)
        if written != size:
            raise ExportError(f"{path}: expected {size} bytes, read {written} (file changed?)")
        resource = Resource(path, digest.hexdigest(), written)
        if listed:
            self.resources.append(resource)
        return resource


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK_SIZE):
        yield chunk
