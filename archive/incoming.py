"""What came in with a request, staged on the local disk until its capture seals it.

The investigator's browser sends its own screenshot and DOM with a capture request.
They are written the moment they arrive, hashed as written and made read-only, in
``DATA/incoming/<capture-id>/``; the capture later puts them into its WARC, checking
each against the hash taken here. They are not evidence yet (nothing in the catalog
names them), so they are not the sealed store's files: once the capture is sealed they
are discarded; if it never seals, they are set aside with its other leftovers in
``DATA/quarantine/``.

:class:`LocalIncoming` is the file store's staging (``FileStore.incoming``), and the
local half of an object store's (:mod:`archive.objectstore.incoming`), which also puts
each file in the bucket so a worker on another machine can fetch it.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from archive.store import Artifact, ArtifactWriter, StoreError, fsync_dir

#: The data directory's folder of staged files, one folder per capture.
INCOMING_DIR = "incoming"


class LocalIncoming:
    """Staged files of captures under ``ROOT/incoming/``; set aside under ``quarantine_root``."""

    def __init__(self, root: Path, quarantine_root: Path) -> None:
        self.root = Path(root) / INCOMING_DIR
        self.quarantine_root = quarantine_root

    def directory(self, capture_id: str) -> Path:
        """Where a capture's staged files wait."""
        return self.root / capture_id

    def stage(self, capture_id: str, name: str, data: bytes) -> Artifact:
        """``data`` written at once as ``name``, hashed as written, fsynced, read-only."""
        _check_plain(capture_id, name)
        directory = self.directory(capture_id)
        directory.mkdir(parents=True, exist_ok=True)
        with ArtifactWriter(directory / name, kind=name) as writer:
            writer.write(data)
        assert writer.sealed is not None
        return writer.sealed

    def fetch(self, capture_id: str, name: str, sha256: str, size: int) -> Path:
        """Where the staged file is read by path: where it was staged. The capture checks
        it against ``sha256`` as it reads it (a file changed or gone is reported there)."""
        _check_plain(capture_id, name)
        return self.directory(capture_id) / name

    def discard(self, capture_id: str) -> None:
        """The capture sealed them into its WARC (or never needed them): they go."""
        shutil.rmtree(self.directory(capture_id), ignore_errors=True)

    def set_aside(self, capture_id: str) -> Path | None:
        """A capture that never sealed: its staged files kept in
        ``quarantine/ID-as-seen-XXXXXXXX/``; where they went, ``None`` if there were none."""
        source = self.directory(capture_id)
        if not source.exists():
            return None
        self.quarantine_root.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_root / f"{capture_id}-as-seen-{uuid.uuid4().hex[:8]}"
        shutil.move(str(source), str(target))
        fsync_dir(self.quarantine_root)
        return target


def _check_plain(capture_id: str, name: str) -> None:
    for part in (capture_id, name):
        if not part or "/" in part or part.startswith("."):
            raise StoreError(f"{capture_id}/{name}: {part!r} cannot name a staged file")
