"""The catalog on SQLite: one file (``DATA/catalog.sqlite3``), its evidence settings,
and the read and write transactions every concern's methods run in.

Evidence settings: WAL (readers never block the writer), ``synchronous=FULL`` (a
committed row survives a power cut), foreign keys on, and every write in a ``BEGIN
IMMEDIATE`` transaction that rolls back whole if any part fails. Writes are one at a
time, so the row locks a :class:`archive.catalog.session.Session` offers are empty
words here.

One connection is shared between threads behind one lock: SQLite serialises writes
anyway, and one connection means one view of the database for every thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from archive.catalog.schema import (
    immediate,
    latest_version,
    migrate,
    refuse_newer,
    refuse_older,
    user_version,
)
from archive.catalog.shared import CatalogBusy, CatalogError, CatalogFull
from archive.catalog.sqlite_search import SqliteTextIndex


class SqliteSession:
    """The SQLite connection as the concerns see it (see :mod:`archive.catalog.session`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self._conn.executemany(sql, rows)

    def lock_rows(self, table: str) -> str:
        return ""  # BEGIN IMMEDIATE: no other write runs until this one ends

    def skip_locked(self, table: str) -> str:
        return ""

    def lock_key(self, *names: str) -> None:
        return None


class SqliteEngine:
    """One SQLite catalog file, open (see :meth:`open`)."""

    text = SqliteTextIndex()
    shared = False

    def __init__(self, conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
        self.where = path
        self.busy_timeout_ms = busy_timeout_ms
        self.conn: sqlite3.Connection | None = conn
        self.lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, read_only: bool, busy_timeout_ms: int) -> SqliteEngine:
        """Open (or create) the catalog at ``path`` and bring its schema up to date.

        ``read_only`` opens a reader beside the process's one writer: SQLite refuses
        any write on it (``query_only``), and under WAL its reads never wait for the
        writer's commits. It expects the writer to have brought the schema up to date.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every BEGIN here is explicit.
        conn = sqlite3.connect(
            path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
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
        return cls(conn, path, busy_timeout_ms)

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def schema_version(self) -> int:
        with self.read() as session:
            return int(session.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        """SQLite's own check of the database file: ``'ok'`` when sound."""
        with self.read() as session:
            rows = session.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    def describe(self) -> dict[str, str]:
        return {
            "engine": f"SQLite {sqlite3.sqlite_version}",
            "where": str(self.where),
            "schema": str(self.schema_version()),
        }

    @contextmanager
    def read(self) -> Iterator[SqliteSession]:
        """The connection under the lock; a SQLite error surfaces as :class:`CatalogError`."""
        with self.lock:
            conn = self._open_conn()
            try:
                yield SqliteSession(conn)
            except sqlite3.Error as exc:
                raise self._failure(exc, "catalog read failed") from exc

    @contextmanager
    def write(self) -> Iterator[SqliteSession]:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back whole."""
        with self.lock:
            conn = self._open_conn()
            try:
                with immediate(conn):
                    yield SqliteSession(conn)
            except sqlite3.Error as exc:
                raise self._failure(exc, "catalog write failed") from exc

    def _failure(self, exc: sqlite3.Error, what: str) -> CatalogError:
        return sqlite_failure(exc, what, self.where, self.busy_timeout_ms / 1000)

    def _open_conn(self) -> sqlite3.Connection:
        if self.conn is None:
            raise CatalogError(f"catalog {self.where} is closed")
        return self.conn


def sqlite_failure(exc: sqlite3.Error, what: str, path: Path, waited: float) -> CatalogError:
    """The catalog's error for a SQLite error: busy and full have kinds of their own.

    By SQLite's result code (``SQLITE_BUSY``, ``SQLITE_LOCKED``, ``SQLITE_FULL``),
    not by its message, so the kind holds whatever the wording.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return CatalogBusy(path, waited)
    if primary == sqlite3.SQLITE_FULL:
        return CatalogFull(f"{what}: {exc}; free space on the disk holding {path}")
    return CatalogError(f"{what}: {exc}")
