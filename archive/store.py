"""The file store: where a capture's files live, and how they become sealed.

Today this is a local directory (``DATA/captures/<capture-id>/``); everything that
touches capture files goes through :class:`FileStore`, so another backend (an
S3-compatible bucket) replaces this one module. Sealed files that belong to no
capture (custody anchors, ``DATA/anchors/``) are written through it too
(:meth:`FileStore.create_file`).

A file is written under a temporary name, hashed as it is written, fsynced, then
renamed to its final name and made read-only. A crash leaves only ``*.partial``
files, which are never mistaken for sealed evidence.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from archive.errors import Conflict, Failed
from archive.hashing import CHUNK_SIZE, HashingWriter, sha256_file
from archive.timeutil import utc_now

if TYPE_CHECKING:
    from archive.incoming import LocalIncoming

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
#: Space held back in the data directory, freed when a write finds the disk full so
#: the failure can still be written to the catalog and the chain of custody.
RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 4 * 1024 * 1024
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


class StoreError(Failed):
    """A file of a capture could not be written, sealed or moved."""


class AlreadySealed(StoreError, Conflict):
    """The sealed file (or capture directory) is already there: evidence is never
    overwritten."""


class ArtifactWriter:
    """A capture file being written. Hashes every byte; :meth:`seal` makes it evidence."""

    def __init__(self, final_path: Path, kind: str) -> None:
        self.final_path = final_path
        self.kind = kind
        self.partial_path = final_path.with_name("." + final_path.name + PARTIAL_SUFFIX)
        if final_path.exists():
            raise AlreadySealed(f"refusing to overwrite sealed file {final_path}")
        # A large buffer (the WARC writer hands over 16 KiB at a time).
        self._fh = open(self.partial_path, "xb", buffering=CHUNK_SIZE)  # noqa: SIM115 - closed by seal()/close()
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
        """Stop writing without sealing: the ``.partial`` file stays for quarantine.

        Never raises for the file's own I/O: this runs on the failure path, often
        because a write failed (a full disk), and closing then flushes the same
        buffer again. Raising here would stop the failure from being recorded.
        """
        if self._fh.closed:
            return
        try:
            self._fh.close()
        except OSError as exc:
            log.warning(
                "unsealed %s lost its last buffered bytes on close: %s", self.partial_path, exc
            )

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

    @property
    def incoming(self) -> LocalIncoming:
        """What came in with requests, staged until sealed (``DATA/incoming/``)."""
        from archive.incoming import LocalIncoming  # it builds on this module's writer

        return LocalIncoming(self.root, self.quarantine_root)

    def work_dir(self, capture_id: str) -> Path:
        """Scratch space of a running capture (downloads before sealing); never evidence."""
        return self.root / "work" / capture_id

    def make_spool_dir(self, capture_id: str) -> Path:
        """Make (empty) the directory where a running capture spools bodies too large
        for memory until their records are written: on the data disk, whose space is
        reserved and watched, not in the system's temp, which may be small or memory."""
        path = self.work_dir(capture_id) / "spool"
        shutil.rmtree(path, ignore_errors=True)  # a crashed attempt's leftovers
        path.mkdir(parents=True)
        return path

    def clear_work(self, capture_id: str) -> None:
        """Remove a capture's scratch space: never evidence (downloads are moved out of
        it when sealed, spooled bodies are in the WARC), and a video can be large."""
        shutil.rmtree(self.work_dir(capture_id), ignore_errors=True)

    def capture_dir(self, capture_id: str) -> Path:
        return self.captures_root / capture_id

    def create_capture_dir(self, capture_id: str) -> Path:
        path = self.capture_dir(capture_id)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise AlreadySealed(f"capture directory {path} already exists") from exc
        fsync_dir(path.parent)
        return path

    def create(self, capture_id: str, name: str, kind: str) -> ArtifactWriter:
        """Open a new file of a capture for writing."""
        _check_name(name)
        return ArtifactWriter(self.capture_dir(capture_id) / name, kind)

    def create_file(self, folder: str, name: str, kind: str) -> ArtifactWriter:
        """Open a new sealed file in ``DATA/<folder>/``, evidence that belongs to no one
        capture (custody anchors): written, hashed and sealed as a capture's files are.

        ``folder`` is one plain name, made on first use. Sealing does not check that
        ``name`` is still free when it renames: callers that may race for a name pick
        it under a lock of their own (:func:`locked`).
        """
        _check_name(folder)
        _check_name(name)
        directory = self.root / folder
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.root)
        return ArtifactWriter(directory / name, kind)

    def adopt(self, capture_id: str, name: str, kind: str, source: Path) -> Artifact:
        """Seal a finished file from the capture's work directory without copying it.

        A downloader (yt-dlp) writes into :meth:`work_dir`, where nothing but the
        capture itself touches it. The file is moved under its ``.partial`` name into
        the capture's directory, then hashed, fsynced and renamed like any other:
        its hash is taken the moment its writer hands it over, as a copy's would be,
        without writing a gigabyte video a second time. When the two directories are
        on different filesystems (a rename cannot cross them), it is copied instead.
        """
        _check_name(name)
        final = self.local_path(capture_id, name)
        if final.exists():
            raise AlreadySealed(f"refusing to overwrite sealed file {final}")
        partial = final.with_name("." + final.name + PARTIAL_SUFFIX)
        try:
            os.rename(source, partial)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return self._copy_in(capture_id, name, kind, source)
        sha256, size = sha256_file(partial)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(partial, final)
        os.chmod(final, SEALED_MODE)
        fsync_dir(final.parent)
        return Artifact(path=name, sha256=sha256, size=size, kind=kind)

    def _copy_in(self, capture_id: str, name: str, kind: str, source: Path) -> Artifact:
        """Copy a file into the capture, hashing it as the sealed copy is written."""
        with self.create(capture_id, name, kind) as out, open(source, "rb") as fh:
            while chunk := fh.read(CHUNK_SIZE):
                out.write(chunk)
        assert out.sealed is not None
        return out.sealed

    def local_path(self, capture_id: str, name: str) -> Path:
        """Where a sealed file can be read by path, for the tools that take nothing else
        (the CDXJ indexer, ffmpeg, the report's PDF printer). Everything that can read a
        stream uses :meth:`open_sealed`; a store that keeps files elsewhere (an object
        store) answers here with a local copy it has checked against the file's hash."""
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
        return open(self.local_path(capture_id, name), "rb")

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

    @property
    def reserve_path(self) -> Path:
        return self.root / RESERVE_NAME

    def keep_reserve(self) -> bool:
        """Hold :data:`RESERVE_BYTES` of the disk in a file, if not already held.

        Returns whether the reserve is in place. A disk too full to hold it is
        logged, not raised: capturing goes on, without the safety margin.
        """
        if self.reserve_path.exists():
            return True
        # A name of its own: captures starting together each make one, and the last
        # rename wins (a shared name made one capture's rename find nothing).
        temp: Path | None = None
        try:
            fd, name = tempfile.mkstemp(
                prefix=RESERVE_NAME + ".", suffix=PARTIAL_SUFFIX, dir=self.root
            )
            temp = Path(name)
            with open(fd, "wb") as fh:
                zeros = bytes(1024 * 1024)
                for _ in range(RESERVE_BYTES // len(zeros)):
                    fh.write(zeros)  # written, not sparse: the blocks are really taken
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(temp, self.reserve_path)
        except OSError as exc:
            if temp is not None:
                temp.unlink(missing_ok=True)
            log.warning(
                "no space reserve in %s (%s); a full disk may go unrecorded", self.root, exc
            )
            return False
        return True

    def release_reserve(self) -> bool:
        """Free the reserve (the disk is full); whether there was one to free."""
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        return True


def _check_name(name: str) -> None:
    """A sealed file's name is one plain name: no folder, not hidden (temporary files are)."""
    if not name or "/" in name or name.startswith("."):
        raise StoreError(f"invalid artifact name {name!r}")


@contextmanager
def locked(path: Path, *, exclusive: bool) -> Iterator[None]:
    """``flock`` on the file ``path`` (made if missing): one writer, or many readers.

    Each call opens the file anew, so threads of one process exclude each other too (a
    lock belongs to an open file, not to a process); the same thread must not take it
    twice.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


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
