"""Which version of each object is the sealed one: kept at upload, used for every read.

A versioned bucket keeps every object ever put at a key; anyone with write access can
put a newer one. The store therefore reads a sealed file by the version id its own
upload returned, never "the latest", and checks it against the SHA-256 recorded with
it. Those ids live outside the bucket, in a :class:`VersionBook`: the catalog's
``object_versions`` table in team mode, or :class:`SqliteVersionBook` here (a real,
small implementation for a single machine and the tests). ``Artifact`` gets no version
field: it goes into sealed manifests, whose bytes do not change with the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from archive.objectstore.errors import ObjectStoreError
from archive.store import AlreadySealed
from archive.timeutil import now_rfc3339


@dataclass(frozen=True)
class RecordedVersion:
    """One sealed object: its key, the version the upload made, and what it must hash to."""

    key: str
    version_id: str
    sha256: str
    size: int


@runtime_checkable
class VersionBook(Protocol):
    """Where the store writes down each verified upload, and reads it back."""

    def record_version(self, key: str, version_id: str, sha256: str, size: int) -> None:
        """Keep ``key``'s sealed version. The same call again is a no-op; another version
        (or hash) for a key already recorded is refused with :class:`AlreadySealed`."""
        ...

    def object_version(self, key: str) -> RecordedVersion | None:
        """The sealed version of ``key``, or ``None`` if none was recorded."""
        ...

    def recorded_versions(self, prefix: str) -> Iterator[RecordedVersion]:
        """Every recorded object whose key starts with ``prefix``, in key order."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS object_versions (
    key TEXT PRIMARY KEY,
    version_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    recorded_at TEXT NOT NULL
)
"""


class SqliteVersionBook:
    """A :class:`VersionBook` in one SQLite file; safe from any thread (a connection per
    call, every write its own ``BEGIN IMMEDIATE`` transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise ObjectStoreError(f"cannot open the version book {self.path}: {exc}") from exc
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def record_version(self, key: str, version_id: str, sha256: str, size: int) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT version_id, sha256, size FROM object_versions WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO object_versions VALUES (?, ?, ?, ?, ?)",
                        (key, version_id, sha256, size, now_rfc3339()),
                    )
                elif tuple(row) != (version_id, sha256, size):
                    raise AlreadySealed(
                        f"object {key} is already recorded as version {row[0]} "
                        f"(sha256 {row[1]}); refusing to record version {version_id}"
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def object_version(self, key: str) -> RecordedVersion | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT key, version_id, sha256, size FROM object_versions WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else RecordedVersion(*row)

    def recorded_versions(self, prefix: str) -> Iterator[RecordedVersion]:
        # A range, not LIKE: keys may hold '%' or '_', which LIKE would read as patterns.
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT key, version_id, sha256, size FROM object_versions"
                " WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        return iter([RecordedVersion(*row) for row in rows])
