"""The file store: where a capture's files live, and how they become sealed.

Today this is a local directory (``DATA/captures/<capture-id>/``); everything that
touches capture files goes through :class:`FileStore`, so another backend (an
S3-compatible bucket) replaces this one module.

A file is written under a temporary name, hashed as it is written, fsynced, then
renamed to its final name and made read-only. A crash leaves only ``*.partial``
files, which are never mistaken for sealed evidence.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from archive.hashing import HashingWriter
from archive.timeutil import utc_now

PARTIAL_SUFFIX = ".partial"
SEALED_MODE = 0o444


@dataclass(frozen=True)
class Artifact:
    """A sealed file of a capture. ``path`` is relative to the capture's directory."""

    path: str
    sha256: str
    size: int
    kind: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class StoreError(Exception):
    """A file of a capture could not be written, sealed or moved."""


class ArtifactWriter:
    """A capture file being written. Hashes every byte; :meth:`seal` makes it evidence."""

    def __init__(self, final_path: Path, kind: str) -> None:
        self.final_path = final_path
        self.kind = kind
        self.partial_path = final_path.with_name("." + final_path.name + PARTIAL_SUFFIX)
        if final_path.exists():
            raise StoreError(f"refusing to overwrite sealed file {final_path}")
        self._fh = open(self.partial_path, "xb")  # noqa: SIM115 - closed by seal()/close()
        self._hashing = HashingWriter(self._fh)
        self.sealed: Artifact | None = None

    def write(self, data: bytes) -> int:
        return self._hashing.write(data)

    def flush(self) -> None:
        self._hashing.flush()

    def tell(self) -> int:
        return self._hashing.size

    def seal(self) -> Artifact:
        """fsync, rename to the final name, make read-only; return the sealed record."""
        if self.sealed is not None:
            return self.sealed
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.rename(self.partial_path, self.final_path)
        os.chmod(self.final_path, SEALED_MODE)
        fsync_dir(self.final_path.parent)
        self.sealed = Artifact(
            path=self.final_path.name,
            sha256=self._hashing.sha256,
            size=self._hashing.size,
            kind=self.kind,
        )
        return self.sealed

    def close(self) -> None:
        """Stop writing without sealing: the ``.partial`` file stays for quarantine."""
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.seal()
        else:
            self.close()


class FileStore:
    """Capture directories under one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def captures_root(self) -> Path:
        return self.root / "captures"

    @property
    def quarantine_root(self) -> Path:
        return self.root / "quarantine"

    def work_dir(self, capture_id: str) -> Path:
        """Scratch space of a running capture (downloads before sealing); never evidence."""
        return self.root / "work" / capture_id

    def capture_dir(self, capture_id: str) -> Path:
        return self.captures_root / capture_id

    def create_capture_dir(self, capture_id: str) -> Path:
        path = self.capture_dir(capture_id)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise StoreError(f"capture directory {path} already exists") from exc
        fsync_dir(path.parent)
        return path

    def create(self, capture_id: str, name: str, kind: str) -> ArtifactWriter:
        """Open a new file of a capture for writing."""
        if "/" in name or name.startswith("."):
            raise StoreError(f"invalid artifact name {name!r}")
        return ArtifactWriter(self.capture_dir(capture_id) / name, kind)

    def path(self, capture_id: str, name: str) -> Path:
        return self.capture_dir(capture_id) / name

    def open_sealed(self, capture_id: str, name: str) -> BinaryIO:
        """Open a sealed file of a capture for reading.

        Reading goes through here (not ``open(path)``) so that a ``.partial`` file or
        a name escaping the capture's directory is never read as evidence, and so
        another backend can stream from elsewhere. Raises :class:`FileNotFoundError`
        when the capture has no such file.
        """
        if "/" in name or name.startswith(".") or name.endswith(PARTIAL_SUFFIX):
            raise StoreError(f"capture {capture_id}: {name!r} cannot name a sealed file")
        return open(self.path(capture_id, name), "rb")

    def partial_files(self, capture_id: str) -> list[Path]:
        """Files of a capture that were never sealed."""
        directory = self.capture_dir(capture_id)
        if not directory.is_dir():
            return []
        return sorted(directory.glob("*" + PARTIAL_SUFFIX))

    def quarantine(self, capture_id: str) -> Path | None:
        """Move a capture's directory aside so unsealed bytes are never presented as evidence.

        Returns where it went, or ``None`` when the capture left no files at all.
        """
        source = self.capture_dir(capture_id)
        if not source.exists():
            return None
        self.quarantine_root.mkdir(parents=True, exist_ok=True)
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        target = self.quarantine_root / f"{capture_id}-{stamp}"
        shutil.move(str(source), str(target))
        fsync_dir(self.quarantine_root)
        return target


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in the directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all_and_sync(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to an open descriptor, then fsync it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)
