"""What a capture's deletion removes from the data directory, and the removing.

A capture's bytes are not only its sealed files. On a file store they are
``DATA/captures/ID/``; on either store there may be copies made from them: the replay
view ``DATA/replay/ID.wacz``, an object store's read cache and staging
(``DATA/cache/objects/captures/ID/``, ``DATA/work/.sealing/captures/ID/``), a running
capture's scratch ``DATA/work/ID/`` and the leftovers of interrupted attempts set aside in
``DATA/quarantine/ID-<time>/``. A deletion that left any of them would leave what it
was asked to remove, so each is found, hashed (the custody event names every file it
removes with its SHA-256 and size), and removed.

Exports already made (``DATA/exports/``, and wherever packages were sent) are not
reached: they are copies handed out, and deleting them is their holders' decision.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.hashing import sha256_file

#: The places of a capture's copies under the data directory, beside its sealed files.
_COPIES = (
    "replay/{id}.wacz",
    "cache/objects/captures/{id}",
    "work/{id}",
    "work/.sealing/captures/{id}",
)


@dataclass(frozen=True)
class Removed:
    """One file or object version a deletion removes, as its custody event names it."""

    #: Relative to the data directory for a local file; the object key for an object.
    name: str
    #: The SHA-256 of what is removed (``None``: an object version no row recorded).
    sha256: str | None
    size: int
    #: The object's version id (object stores), else ``None``.
    version_id: str | None = None
    #: Evidence (a sealed file or object), or a copy made from it (replay, cache, scratch).
    sealed: bool = True

    def details(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "sha256": self.sha256, "size": self.size}
        if self.version_id is not None:
            shown["version_id"] = self.version_id
        return shown


@dataclass(frozen=True)
class LocalFile:
    """A file in the data directory a deletion removes, and what its event says of it."""

    path: Path
    removed: Removed


def local_files(root: Path, capture_id: str, *, sealed_here: bool) -> list[LocalFile]:
    """Every local file of the capture, each hashed now: its sealed files when
    ``sealed_here`` (a file store), and every copy made from them (either store)."""
    places = [(root / "captures" / capture_id, True)] if sealed_here else []
    places += [(root / place.format(id=capture_id), False) for place in _COPIES]
    places += [(path, False) for path in _quarantined(root / "quarantine", capture_id)]
    found = []
    for place, sealed in places:
        for path in _files_under(place):
            digest, size = sha256_file(path)
            name = path.relative_to(root).as_posix()
            found.append(LocalFile(path, Removed(name, digest, size, sealed=sealed)))
    return found


def remove_local(root: Path, capture_id: str, files: list[LocalFile]) -> list[str]:
    """Unlink each file, then every folder of the capture's places left empty; the
    errors (a file that cannot be removed is named, the rest go all the same)."""
    errors = []
    for file in files:
        try:
            file.path.unlink(missing_ok=True)
        except OSError as exc:
            errors.append(f"{file.removed.name}: {exc.strerror or exc}")
    places = [root / "captures" / capture_id, *(root / p.format(id=capture_id) for p in _COPIES)]
    for place in [*places, *_quarantined(root / "quarantine", capture_id)]:
        _remove_empty_tree(place)
    return errors


def _quarantined(folder: Path, capture_id: str) -> list[Path]:
    """The capture's set-aside attempts: ``ID-<time>`` and ``ID-<time>-<n>`` exactly (an
    id that merely starts with this one is another capture's)."""
    pattern = re.compile(re.escape(capture_id) + r"-\d{8}T\d{6}Z(-\d+)?")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))


def _files_under(place: Path) -> list[Path]:
    if place.is_file() or place.is_symlink():
        return [place]
    if not place.is_dir():
        return []
    return sorted(p for p in place.rglob("*") if p.is_file() or p.is_symlink())


def _remove_empty_tree(place: Path) -> None:
    """Each empty folder under ``place`` and ``place`` itself; a folder still holding a
    file (one that appeared since, or could not go) is left."""
    if not place.is_dir() or place.is_symlink():
        return
    for folder, _dirs, _files in os.walk(place, topdown=False):
        try:
            os.rmdir(folder)
        except OSError:
            continue
