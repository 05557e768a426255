"""The catalog's connection: opening the database, its evidence settings, and the read
and write transactions every concern's methods run in.

The catalog is one SQLite database (``DATA/catalog.sqlite3``). Evidence settings:
WAL (readers never block the writer), ``synchronous=FULL`` (a committed row survives
a power cut), foreign keys on, and every write in a ``BEGIN IMMEDIATE`` transaction
that rolls back whole if any part fails.

One connection is shared between threads behind one lock: SQLite serialises writes
anyway, and one connection means one view of the database for every thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from archive.catalog.schema import (
    latest_version,
    migrate,
    refuse_newer,
    refuse_older,
    user_version,
)
from archive.catalog.shared import CatalogError, immediate, sqlite_failure

#: How long a write waits for another process's write to finish before giving up
#: (then :class:`archive.catalog.CatalogBusy`).
BUSY_TIMEOUT_MS = 5000


class CatalogConnection:
    """One connection to the catalog, safe to share between threads (one lock).

    The base of every concern's methods (see :class:`archive.catalog.Catalog`):
    they reach the database only through :meth:`_read` and :meth:`_write`.
    """

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, path: Path, *, read_only: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> Self:
        """Open (or create) the catalog at ``path`` and bring its schema up to date.

        ``read_only`` opens a reader beside the process's one writer: SQLite refuses
        any write on it (``query_only``), and under WAL its reads never wait for the
        writer's commits. It expects the writer to have brought the schema up to date.
        ``busy_timeout_ms``: how long a write waits for another process's lock before
        :class:`archive.catalog.CatalogBusy` (tests make it short).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every BEGIN here is explicit.
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Refuse a newer schema before changing anything in the file (even its journal mode).
            refuse_newer(user_version(conn), latest_version())
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if read_only:
                refuse_older(user_version(conn), latest_version(), path)
                conn.execute("PRAGMA query_only = ON")
            else:
                migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            waited = busy_timeout_ms / 1000
            raise sqlite_failure(exc, f"cannot open catalog {path}", path, waited) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, busy_timeout_ms=busy_timeout_ms)

    def close(self) -> None:
        """Close the connection; any later call raises :class:`CatalogError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """How many migrations this database has had (the latest, once open)."""
        with self._read() as conn:
            return user_version(conn)

    def integrity_check(self) -> str:
        """SQLite's own check of the database file: ``'ok'`` when sound."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock; a SQLite error surfaces as :class:`CatalogError`."""
        with self._lock:
            conn = self._open_conn()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._failure(exc, "catalog read failed") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back whole."""
        with self._lock:
            conn = self._open_conn()
            try:
                with immediate(conn):
                    yield conn
            except sqlite3.Error as exc:
                raise self._failure(exc, "catalog write failed") from exc

    def _failure(self, exc: sqlite3.Error, what: str) -> CatalogError:
        """A SQLite error as the catalog's: busy (locked by another process), full, or
        failed."""
        return sqlite_failure(exc, what, self.path, self.busy_timeout_ms / 1000)

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CatalogError(f"catalog {self.path} is closed")
        return self._conn
