"""Every sealed file of an embedded archive into the team store, re-hashed on the way.

Each file is read from the embedded store a chunk at a time, hashed as it is read, and
written through the target store's own writer (which hashes it again, uploads it with
its SHA-256 and lock, verifies the upload and records the version). Before the writer
seals it, the SHA-256 and size read must be the ones the catalog (or, for a custody
anchor, its ``anchored`` event) recorded: a file that differs stops the migration,
named, and nothing of it reaches the bucket. Memory stays flat: one chunk at a time.

The copy is resumable. A bucket's objects cannot be taken back (Object Lock), so a
migration interrupted half-way leaves the files it sealed recorded in the target's
version book; run again, it finds each one recorded with the hash the catalog expects
and goes on with the next. A key recorded with another hash is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from archive.catalog import Catalog
from archive.errors import Conflict, Tampered
from archive.evidence.anchors import ANCHORS_DIR, CHAIN_SUFFIX
from archive.evidence.chain_anchors import CHAIN_KIND, TOKEN_KIND
from archive.hashing import CHUNK_SIZE
from archive.store import FileStore


class SourceTampered(Tampered):
    """A file of the embedded archive no longer has the SHA-256 its catalog recorded."""


class TargetHoldsOther(Conflict):
    """The team store already records another file under a key this migration writes."""


@dataclass(frozen=True)
class SourceFile:
    """One sealed file to carry: where it is, where it goes, what it must hash to."""

    #: ``(capture_id, name)`` for a capture's file, ``("anchors", name)`` for an anchor.
    folder: str
    name: str
    kind: str
    #: The recorded SHA-256 (``None`` for an anchor's certificate chain: nothing records it).
    sha256: str | None
    size: int | None
    is_capture: bool

    @property
    def label(self) -> str:
        return f"{self.folder}/{self.name}"


@dataclass
class FilesCopied:
    """How many files were uploaded now, found already uploaded (a resumed run), and bytes."""

    uploaded: int = 0
    already: int = 0
    bytes: int = 0


def capture_files(catalog: Catalog) -> Iterator[SourceFile]:
    """Every artifact row of every capture, in id order (sealed or not: a failed
    capture's recorded files are evidence of its failure); a deleted capture's files are
    gone (its tombstone row and custody events are carried)."""
    for row in catalog.list_captures():
        if row.deleted_at is not None:
            continue
        for artifact in catalog.artifacts(row.id):
            yield SourceFile(
                row.id, artifact.path, artifact.kind, artifact.sha256, artifact.size, True
            )


def anchor_files(
    data_dir: Path, token_hashes: dict[str, str], place: str = ANCHORS_DIR
) -> Iterator[SourceFile]:
    """The custody anchors in ``DATA/anchors/`` (the access log's: ``place`` is
    ``access-anchors``): each token with the SHA-256 its ``anchored`` event recorded, and
    the certificate chain beside it."""
    folder = Path(data_dir) / place
    names = (
        sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if folder.is_dir()
        else []
    )
    for name in names:
        if name.endswith(".tsr"):
            yield SourceFile(place, name, TOKEN_KIND, token_hashes.get(name), None, False)
        elif name.endswith(CHAIN_SUFFIX):
            yield SourceFile(place, name, CHAIN_KIND, None, None, False)


def copy_files(
    files: Iterator[SourceFile],
    source: FileStore,
    target: Any,
    counts: FilesCopied,
    progress: Callable[[SourceFile], None] | None = None,
) -> None:
    """Each file into ``target`` (an :class:`~archive.objectstore.ObjectStore`), checked
    against its recorded hash before it is sealed; files already there are checked by
    their recorded version's hash and passed over."""
    for file in files:
        if _already(target, file):
            counts.already += 1
            continue
        with _open(source, file) as stream:
            counts.bytes += _copy_one(stream, target, file)
        counts.uploaded += 1
        if progress is not None:
            progress(file)


def target_key(target: Any, file: SourceFile) -> str:
    """The key the target store gives the file (a capture's current attempt: the first)."""
    from archive.objectstore.attempts import file_key

    if file.is_capture:
        return file_key(target.location, file.folder, target.attempt(file.folder), file.name)
    return str(target.location.key(file.folder, file.name))


def _already(target: Any, file: SourceFile) -> bool:
    recorded = target.versions.object_version(target_key(target, file))
    if recorded is None:
        return False
    if file.sha256 is not None and (recorded.sha256, recorded.size) != (
        file.sha256,
        recorded.size if file.size is None else file.size,
    ):
        raise TargetHoldsOther(
            f"the team store already records {recorded.key} with SHA-256 {recorded.sha256}"
            f" ({recorded.size} bytes), but {file.label} is {file.sha256}: another archive's"
            " files are there; migrate into an empty bucket prefix"
        )
    return True


def _open(source: FileStore, file: SourceFile) -> BinaryIO:
    if file.is_capture:
        return source.open_sealed(file.folder, file.name)
    return open(source.root / file.folder / file.name, "rb")


def _copy_one(stream: BinaryIO, target: Any, file: SourceFile) -> int:
    """Stream, hash, compare, then seal; a mismatch closes the writer unsealed."""
    if file.is_capture:
        writer = target.create(file.folder, file.name, file.kind)
    else:
        writer = target.create_file(file.folder, file.name, file.kind)
    digest, size = hashlib.sha256(), 0
    try:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
        _compare(file, digest.hexdigest(), size)
    except BaseException:
        writer.close()
        _drop_scratch(Path(writer.partial_path))
        raise
    sealed = writer.seal()
    _compare(file, sealed.sha256, sealed.size)
    return size


def _compare(file: SourceFile, sha256: str, size: int) -> None:
    if file.sha256 is None:
        return
    if sha256 != file.sha256 or (file.size is not None and size != file.size):
        raise SourceTampered(
            f"{file.label} in the embedded archive hashes to {sha256} ({size} bytes), but"
            f" {'the catalog' if file.is_capture else 'its anchored event'} recorded"
            f" {file.sha256}{'' if file.size is None else f' ({file.size} bytes)'}: it was"
            " changed after sealing. The migration stopped before sealing it; nothing of it"
            " is in the team store. Find out what changed it (fsck --deep, custody verify)"
        )


def _drop_scratch(path: Path) -> None:
    """The unsealed copy on scratch goes (it is a copy; the original stays where it is),
    so a run after the cause is dealt with can write the file anew."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
