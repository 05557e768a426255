"""The catalog's connection: the one base every concern's methods stand on, whichever the
database, and the read and write transactions they run in.

A concern reaches its database only through :meth:`CatalogConnection._read` and
:meth:`CatalogConnection._write`, which hand it a :class:`archive.catalog.session.
Session`. What stands behind them is an *engine*: :class:`archive.catalog.
sqlite_engine.SqliteEngine` (one file, one connection behind a lock, ``BEGIN
IMMEDIATE`` writes) or :class:`archive.catalog.pg_engine.PgEngine` (a pool of
PostgreSQL connections, row locks). :meth:`CatalogConnection.open` opens a SQLite file;
:func:`archive.catalog.opening.open_catalog` opens either from a catalog URL.

:meth:`CatalogConnection.transaction` lets a caller outside the catalog join several
concerns' writes into one transaction (a capture sealed and its custody event, in team
mode: both committed, or neither): while it is open, every ``_write`` and ``_read`` of
the same thread runs in it instead of opening its own, so no caller changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from archive.catalog.rows import AnalysisHit, SearchHit
from archive.catalog.session import Session
from archive.catalog.sqlite_engine import SqliteEngine
from archive.catalog.visibility import Within

#: How long a write waits for another process's write (or lock) to end before giving up
#: (then :class:`archive.catalog.CatalogBusy`).
BUSY_TIMEOUT_MS = 5000


class TextIndex(Protocol):
    """How an engine stores and searches text (see :mod:`archive.catalog.search`)."""

    def insert_page(
        self, conn: Session, capture_id: str, url: str, title: str, body: str
    ) -> None: ...

    def insert_lines(
        self, conn: Session, capture_id: str, number: int, lines: Sequence[tuple[str, str, str]]
    ) -> None: ...

    def page_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[SearchHit]: ...

    def line_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[AnalysisHit]: ...


class Engine(Protocol):
    """One open database behind a catalog."""

    #: The file, or the PostgreSQL URL without its password: what messages name.
    where: Path | str
    busy_timeout_ms: int
    text: TextIndex
    #: Whether many machines write this database at once (PostgreSQL): what only a
    #: shared catalog keeps (cookies lent to another machine's worker) needs it.
    shared: bool

    def read(self) -> AbstractContextManager[Session]: ...

    def write(self) -> AbstractContextManager[Session]: ...

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    def integrity_check(self) -> str: ...

    def describe(self) -> dict[str, str]: ...


class CatalogConnection:
    """One open catalog, safe to share between threads.

    The base of every concern's methods (see :class:`archive.catalog.Catalog`):
    they reach the database only through :meth:`_read` and :meth:`_write`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: The write session this thread opened with :meth:`transaction`, while it is open.
        self._joined = threading.local()

    @classmethod
    def open(
        cls, path: Path, *, read_only: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> Self:
        """Open (or create) the SQLite catalog at ``path`` and bring its schema up to date.

        ``read_only`` opens a reader beside the process's one writer: SQLite refuses
        any write on it (``query_only``), and under WAL its reads never wait for the
        writer's commits. It expects the writer to have brought the schema up to date.
        ``busy_timeout_ms``: how long a write waits for another process's lock before
        :class:`archive.catalog.CatalogBusy` (tests make it short).
        """
        engine = SqliteEngine.open(Path(path), read_only=read_only, busy_timeout_ms=busy_timeout_ms)
        return cls(engine)

    @property
    def path(self) -> Path | str:
        """Where the catalog is: its file, or its PostgreSQL URL (never with a password)."""
        return self._engine.where

    @property
    def busy_timeout_ms(self) -> int:
        return self._engine.busy_timeout_ms

    @property
    def shared(self) -> bool:
        """Whether this is a team's catalog, written by many machines (PostgreSQL)."""
        return self._engine.shared

    def close(self) -> None:
        """Close the catalog; any later call raises :class:`CatalogError`."""
        self._engine.close()

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
        return self._engine.schema_version()

    def integrity_check(self) -> str:
        """The database's own check of itself: ``'ok'`` when sound, else what is wrong."""
        return self._engine.integrity_check()

    def describe(self) -> dict[str, str]:
        """What the database is (engine, its version, where, schema version), for
        ``osint-capture config check``; nothing secret."""
        return self._engine.describe()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction that every catalog call of this thread joins until it ends.

        Committed when the block ends, rolled back whole if anything in it raises. Inside
        it, reads see the transaction's own changes, and a row locked by one call stays
        locked until the end (a custody chain's head, in team mode). Re-entrant: a
        ``transaction()`` inside another joins it. Other threads are not joined; on
        SQLite they wait for it, as for any write.
        """
        if getattr(self._joined, "session", None) is not None:
            yield
            return
        with self._engine.write() as session:
            self._joined.session = session
            try:
                yield
            finally:
                self._joined.session = None

    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`transaction`."""
        return getattr(self._joined, "session", None) is not None

    def _read(self) -> AbstractContextManager[Session]:
        """A session for reads; a database error surfaces as :class:`CatalogError`."""
        joined = getattr(self._joined, "session", None)
        return nullcontext(joined) if joined is not None else self._engine.read()

    def _write(self) -> AbstractContextManager[Session]:
        """One write transaction: committed whole, or rolled back whole (or, inside
        :meth:`transaction`, part of that one)."""
        joined = getattr(self._joined, "session", None)
        return nullcontext(joined) if joined is not None else self._engine.write()
