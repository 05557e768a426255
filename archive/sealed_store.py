"""The sealed-file store's interface: everything the rest of the code may ask of it.

:class:`~archive.store.FileStore` keeps sealed files in a local directory (embedded
mode); :class:`~archive.objectstore.ObjectStore` keeps them in an S3 bucket with Object
Lock (team mode, docs/team.md). The pipeline, sealing, export and analysis see only
these calls. Scratch space (``work_dir``, the spool, the space reserve, quarantine)
stays on the local disk in every store: browsers and downloaders write there before
anything is sealed. What arrives with a request before its capture runs (the
investigator's own screenshot and DOM) is staged by the store's :class:`IncomingStore`
(``store.incoming``): on the local disk for a file store; in the bucket too, unlocked,
for an object store, so that a worker on another machine can fetch it.
tests/test_store_contract.py runs the same tests on both stores.

The calls are synchronous and may block on the network (an object store's ``seal()``
uploads and verifies): call them from a worker thread (``asyncio.to_thread``) where an
event loop must not stall. A writer's ``seal()`` returns only once the file is
evidence: for the object store, uploaded, verified and its version recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable
from urllib.parse import urlsplit

from archive.errors import BadInput
from archive.store import Artifact, ArtifactWriter, FileStore

if TYPE_CHECKING:
    from archive.objectstore.versionbook import VersionBook


class IncomingStore(Protocol):
    """Files that came in with a request, staged (hashed, not yet evidence) until their
    capture seals them into its WARC. Each is named by its capture and a plain name."""

    def stage(self, capture_id: str, name: str, data: bytes) -> Artifact:
        """``data`` kept at once, hashed as written: the hash the capture will check."""
        ...

    def fetch(self, capture_id: str, name: str, sha256: str, size: int) -> Path:
        """The staged file on this machine's disk, for the capture to read. An object
        store downloads it (into ``DATA/incoming/ID/``) and refuses bytes that are not
        ``sha256`` and ``size`` (:class:`~archive.objectstore.ObjectTampered`)."""
        ...

    def discard(self, capture_id: str) -> None:
        """The capture sealed them (or never queued): every staged copy goes. Never
        raises; a copy that could not be removed is logged (``fsck`` counts it)."""
        ...

    def set_aside(self, capture_id: str) -> Path | None:
        """The capture will never seal them: kept in local quarantine (an object store
        downloads what this machine lacks first), and nowhere else; where they went."""
        ...


@runtime_checkable
class SealedStore(Protocol):
    """Where a capture's files are written, sealed (hashed, made immutable) and read."""

    # -- writing: every file is hashed as written and sealed when closed --------------------

    def create_capture_dir(self, capture_id: str) -> Path:
        """A new capture's place; refuses one that exists (:class:`AlreadySealed`)."""
        ...

    def create(self, capture_id: str, name: str, kind: str) -> ArtifactWriter:
        """A new file of a capture, hashed as written; ``seal()`` makes it evidence."""
        ...

    def create_file(self, folder: str, name: str, kind: str) -> ArtifactWriter:
        """A new sealed file that belongs to no capture (custody anchors)."""
        ...

    def adopt(self, capture_id: str, name: str, kind: str, source: Path) -> Artifact:
        """A finished scratch file (a download) sealed into the capture, hashed on the way."""
        ...

    # -- reading ------------------------------------------------------------------------------

    def open_sealed(self, capture_id: str, name: str) -> BinaryIO:
        """A sealed file as a stream; never a ``.partial`` one. :class:`FileNotFoundError`
        when there is no such sealed file (an object store checks the hash at its end)."""
        ...

    def local_path(self, capture_id: str, name: str) -> Path:
        """A sealed file readable by path, for tools that take nothing else (an object
        store answers with a copy in its read cache, checked against the sealed hash)."""
        ...

    def capture_dir(self, capture_id: str) -> Path:
        """Where a capture's files can be read by path (export, the report's PDF)."""
        ...

    # -- staged, not yet evidence -----------------------------------------------------------------

    @property
    def incoming(self) -> IncomingStore:
        """What came in with requests, staged until their captures seal it."""
        ...

    # -- failure and scratch --------------------------------------------------------------------

    def quarantine(self, capture_id: str) -> Path | None:
        """Unsealed leftovers of a capture set aside; where they went, if anywhere."""
        ...

    @property
    def quarantine_root(self) -> Path:
        """Where set-aside files go (local disk), with what came in for a failed capture."""
        ...

    def work_dir(self, capture_id: str) -> Path:
        """Scratch of a running capture (local disk); never evidence."""
        ...

    def make_spool_dir(self, capture_id: str) -> Path:
        """An empty place in the scratch for bodies too large for memory."""
        ...

    def clear_work(self, capture_id: str) -> None:
        """The scratch of a capture removed."""
        ...

    def keep_reserve(self) -> bool:
        """Space held back so that a full disk's failure can still be written down."""
        ...

    def release_reserve(self) -> bool:
        """The reserve freed, when a write found the disk full."""
        ...


def open_store(data_dir: Path, url: str, versions: VersionBook) -> SealedStore:
    """The store a setting names: ``file://`` (the data directory) or ``s3://...``.

    ``versions`` is where an object store records each sealed object's version (the
    catalog). A file store keeps sealed files beside the catalog, custody anchors and
    scratch, so it can only be the data directory itself; aiobotocore is imported only
    for an S3 store.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if Path(parts.path).resolve() != Path(data_dir).resolve():
            raise BadInput(
                f"store {url!r}: a file store is the data directory itself"
                f" (file://{Path(data_dir).resolve()}); move the archive with --data instead"
            )
        return FileStore(Path(data_dir))
    if parts.scheme == "s3":
        from archive.objectstore import ObjectStore, load_credentials, parse_location

        return ObjectStore(data_dir, parse_location(url), load_credentials(), versions)
    raise BadInput(f"store {url!r}: expected file:// (the data directory) or s3://BUCKET?...")
