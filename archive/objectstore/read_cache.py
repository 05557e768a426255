"""The read cache: checked local copies of sealed objects, for tools that take a path.

``DATA/cache/objects/`` mirrors the bucket's keys under the store's prefix. A copy is
hashed again each time it is asked for and fetched anew (by its recorded version,
checked as it arrives) when it no longer matches: the cache is a convenience, never
evidence, and a changed copy is replaced, not trusted. A file this machine sealed is
moved in after its upload is verified, so reading it back costs no download.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from archive.catalog.rows import ObjectVersion
from archive.hashing import sha256_file
from archive.objectstore.client import S3Client
from archive.objectstore.location import StoreLocation
from archive.objectstore.reading import download_verified

log = logging.getLogger(__name__)

CACHE_DIR = "cache/objects"


class ReadCache:
    """Local copies of the objects of one store (see the module's docstring)."""

    def __init__(self, data_dir: Path, location: StoreLocation, client: S3Client) -> None:
        self.root = Path(data_dir) / CACHE_DIR
        self.location = location
        self._client = client

    def path(self, key: str) -> Path:
        """Where the copy of ``key`` (or of a prefix of keys) lives."""
        return self.root / key[len(self.location.root_prefix) :]

    def copy_of(self, recorded: ObjectVersion) -> Path:
        """A checked copy of the recorded version: the cached one if it still matches."""
        path = self.path(recorded.key)
        if path.exists():
            if sha256_file(path) == (recorded.sha256, recorded.size):
                return path
            log.warning("cached copy %s does not match its sealed hash; fetching again", path)
            path.unlink()
        return download_verified(self._client, recorded, path)

    def adopt(self, key: str, path: Path) -> None:
        """``path``, just uploaded and verified as ``key``, moved in as its copy."""
        cached = self.path(key)
        cached.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, cached)

    def forget(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
