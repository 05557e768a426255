"""What every concern's SQL sees of a database, whichever it is: a :class:`Session`.

The catalog's concerns (cases, captures, the queue, targets, ...) are written once,
against this small surface, and run unchanged on SQLite and on PostgreSQL: one copy of
each query wherever the SQL is portable. Each backend hands its own session to the
concerns from ``_read`` and ``_write`` (:mod:`archive.catalog.sqlite_engine`,
:mod:`archive.catalog.pg_engine`):

- ``execute(sql, params)`` with ``?`` placeholders (PostgreSQL's session translates
  them), returning a cursor whose rows are read by column name or position;
- ``executemany``;
- the few words only one dialect needs, each a no-op or an empty string on the other:
  :meth:`Session.lock_rows` and :meth:`Session.skip_locked` (row locks: PostgreSQL
  writes run side by side, SQLite's are one at a time under ``BEGIN IMMEDIATE``) and
  :meth:`Session.lock_key` (a lock on a name, such as a URL being queued).

The rule for a concern's write: lock the row it is about to change (``lock_rows``),
then check its state, then change it. On SQLite the lock is the transaction's; on
PostgreSQL it is the row's, so two machines never both finish, claim or queue the
same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Row(Protocol):
    """One row: ``row["column"]`` or ``row[0]``."""

    def __getitem__(self, key: str | int, /) -> Any: ...


class Cursor(Protocol):
    """The result of :meth:`Session.execute`."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Session(Protocol):
    """A connection inside one read or one write transaction (see the module docstring)."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...

    def lock_rows(self, table: str) -> str:
        """The clause that ends a ``SELECT`` to lock the rows of ``table`` it returns
        until the transaction ends (``""`` where writes are one at a time)."""
        ...

    def skip_locked(self, table: str) -> str:
        """The clause that ends a claim's ``SELECT``: lock the rows of ``table`` it
        returns, passing over those another transaction holds."""
        ...

    def lock_key(self, *names: str) -> None:
        """Hold a lock on each name (in sorted order, so two transactions never wait on
        each other) until the transaction ends; nothing where writes are one at a time."""
        ...
