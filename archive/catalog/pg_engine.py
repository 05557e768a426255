"""The catalog on PostgreSQL: a pool of connections, the session the concerns' SQL runs
on, the read and write transactions, and PostgreSQL's errors as the catalog's.

Writers on many machines run side by side: each write is one transaction (``READ
COMMITTED``) that locks the rows it changes (``FOR NO KEY UPDATE``, the lock that
still lets other rows point at the locked one) and claims with ``SKIP LOCKED``; a name
with no row yet (a URL being queued, the schema) is locked with an advisory lock.
A transaction that waits for a lock longer than the busy timeout gives up
(``lock_timeout``: :class:`archive.catalog.CatalogBusy`), and no statement runs for
ever (``statement_timeout``). Reads run outside transactions, each statement seeing
what was committed when it started, as on SQLite. A reader's connections refuse
every write (``default_transaction_read_only``).

The concerns write ``?`` placeholders; the session rewrites them as psycopg's ``%s``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from archive.catalog.pg_schema import check_version, lock_ids, pg_migrate, pg_version
from archive.catalog.pg_search import PgTextIndex
from archive.catalog.shared import (
    BadCatalogURL,
    CatalogBusy,
    CatalogError,
    CatalogFull,
    CatalogUnavailable,
)

#: Connections one open catalog keeps at most (a process has a writer and a reader).
POOL_SIZE = 4
#: The longest any one statement may run before PostgreSQL cancels it (migrations aside).
STATEMENT_TIMEOUT_MS = 60_000
#: How long a transaction may sit idle holding its locks (a hung process) before
#: PostgreSQL ends its session and frees them.
IDLE_IN_TRANSACTION_MS = 60_000
#: How long opening waits for PostgreSQL to answer.
CONNECT_TIMEOUT_S = 10


class PgRow:
    """A row read by column name or by position, as the concerns read SQLite's rows."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: psycopg.Cursor[Any]) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(names, values)


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``),
    leaving quoted strings and names untouched."""
    out, quote = [], ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
            out.append("%%" if char == "%" else char)
        elif char in "'\"":
            quote = char
            out.append(char)
        else:
            out.append({"?": "%s", "%": "%%"}.get(char, char))
    return "".join(out)


class PgSession:
    """A pooled connection as the concerns see it (see :mod:`archive.catalog.session`)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(pg_sql(sql), list(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        batch = [list(row) for row in rows]
        if batch:
            with self._conn.cursor() as cursor:
                cursor.executemany(pg_sql(sql), batch)

    def lock_rows(self, table: str) -> str:
        return f" FOR NO KEY UPDATE OF {table}"

    def skip_locked(self, table: str) -> str:
        return f" FOR NO KEY UPDATE OF {table} SKIP LOCKED"

    def lock_key(self, *names: str) -> None:
        # In the order of the keys themselves, so two transactions never wait on each other.
        for space, key in sorted({lock_ids(name) for name in names}):
            self._conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (space, key))


def display_url(url: str) -> str:
    """The catalog URL as messages show it: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class PgEngine:
    """One PostgreSQL catalog database, open (see :meth:`open`)."""

    text = PgTextIndex()
    shared = True

    def __init__(self, pool: ConnectionPool, where: str, busy_timeout_ms: int) -> None:
        self.where = where
        self.busy_timeout_ms = busy_timeout_ms
        self._pool: ConnectionPool | None = pool

    @classmethod
    def open(
        cls, url: str, *, read_only: bool, busy_timeout_ms: int, pool_size: int = POOL_SIZE
    ) -> PgEngine:
        """Connect to the catalog at ``url``, refuse a newer schema, and bring an older one
        up to date (a reader refuses an older one: only writers migrate)."""
        try:
            given = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            # Not the parser's words: they may quote the URL, password and all.
            raise BadCatalogURL(
                "the PostgreSQL catalog URL cannot be read: write"
                " postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or ~/.pgpass)"
            ) from None
        where = display_url(url)
        settings = {
            "lock_timeout": f"{int(busy_timeout_ms)}ms",
            "statement_timeout": f"{STATEMENT_TIMEOUT_MS}ms",
            "idle_in_transaction_session_timeout": f"{IDLE_IN_TRANSACTION_MS}ms",
            "default_transaction_read_only": "on" if read_only else "off",
        }
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": _rows,
            "options": (given.get("options", "") + " " + options).strip(),
            "application_name": "osint-capture",
            "connect_timeout": CONNECT_TIMEOUT_S,
        }
        try:
            with psycopg.connect(url, **kwargs) as conn:
                check_version(conn, read_only=read_only, where=where)
                if not read_only:
                    pg_migrate(conn)
        except psycopg.Error as exc:
            waited = busy_timeout_ms / 1000
            raise pg_failure(exc, f"cannot open catalog {where}", where, waited) from exc
        pool = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=pool_size,
            timeout=max(busy_timeout_ms / 1000, 1.0),
            num_workers=1,
            name=f"osint-capture catalog{' reader' if read_only else ''}",
            open=True,
        )
        return cls(pool, where, busy_timeout_ms)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def schema_version(self) -> int:
        with self._connection("catalog read failed") as conn:
            return pg_version(conn)

    def describe(self) -> dict[str, str]:
        """The server's version, the database, who we are in it and its encoding; and
        whether the job queue's tables (procrastinate's) are there yet."""
        with self.read() as session:
            row = session.execute(
                "SELECT current_setting('server_version') AS version, current_user AS role,"
                " current_database() AS db, pg_encoding_to_char(encoding) AS encoding,"
                " to_regclass('procrastinate_jobs') IS NOT NULL AS queue"
                " FROM pg_database WHERE datname = current_database()"
            ).fetchone()
        return {
            "engine": f"PostgreSQL {row['version']}",
            "where": str(self.where),
            "role": str(row["role"]),
            "encoding": str(row["encoding"]),
            "schema": str(self.schema_version()),
            "queue tables": "present" if row["queue"] else "absent",
        }

    def integrity_check(self) -> str:
        """What PostgreSQL can say of the catalog's own soundness: every constraint
        validated and every index valid and ready (a failed ``CREATE INDEX
        CONCURRENTLY`` or a ``NOT VALID`` constraint shows here), and the schema at
        this code's latest version. ``'ok'`` when all hold; else one line per fault.
        (Pages and checksums are the server's own: ``pg_amcheck``, ``data_checksums``.)
        """
        with self.read() as session:
            faults = [
                f"constraint {row['name']} on {row['owner']} is not validated"
                for row in session.execute(
                    "SELECT conname AS name, conrelid::regclass::text AS owner"
                    " FROM pg_constraint WHERE NOT convalidated"
                    " AND connamespace = current_schema()::regnamespace ORDER BY 1"
                ).fetchall()
            ]
            faults += [
                f"index {row['name']} is not valid or not ready: rebuild it (REINDEX)"
                for row in session.execute(
                    "SELECT indexrelid::regclass::text AS name FROM pg_index"
                    " JOIN pg_class ON pg_class.oid = pg_index.indexrelid"
                    " WHERE (NOT indisvalid OR NOT indisready)"
                    " AND relnamespace = current_schema()::regnamespace ORDER BY 1"
                ).fetchall()
            ]
        version = self.schema_version()
        if version == 0:
            faults.append("the catalog's tables are missing (schema version 0)")
        return "\n".join(faults) or "ok"

    @contextmanager
    def read(self) -> Iterator[PgSession]:
        """A session outside any transaction: each statement sees what was committed."""
        with self._connection("catalog read failed") as conn:
            yield PgSession(conn)

    @contextmanager
    def write(self) -> Iterator[PgSession]:
        """One transaction: committed whole, or rolled back whole."""
        with self._connection("catalog write failed") as conn, conn.transaction():
            yield PgSession(conn)

    @contextmanager
    def _connection(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        pool = self._pool
        if pool is None:
            raise CatalogError(f"catalog {self.where} is closed")
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise CatalogUnavailable(
                f"{what}: no connection to the catalog database {self.where} within"
                f" {pool.timeout:g} s: PostgreSQL is unreachable there, or all"
                f" {pool.max_size} of this process's connections are busy; try again,"
                " and check that PostgreSQL is running"
            ) from exc
        except psycopg.Error as exc:
            raise pg_failure(exc, what, self.where, self.busy_timeout_ms / 1000) from exc


#: SQLSTATEs that mean "another transaction holds what this one needs": try again.
_BUSY = {
    "55P03": "lock timeout",
    "40P01": "deadlock detected",
    "40001": "serialization failure",
    "57014": f"statement timeout ({STATEMENT_TIMEOUT_MS / 1000:g} s)",
}
#: SQLSTATE classes that mean the server cannot be reached or is going away.
_UNAVAILABLE = ("08", "57P01", "57P02", "57P03")


def pg_failure(exc: psycopg.Error, what: str, where: str, waited: float) -> CatalogError:
    """The catalog's error for a PostgreSQL error, by its SQLSTATE (not its wording)."""
    state = exc.sqlstate or ""
    message = exc.diag.message_primary or str(exc).strip()
    if exc.diag.message_detail:
        message += f" ({exc.diag.message_detail})"
    if state in _BUSY:
        return CatalogBusy(where, waited, detail=_BUSY[state])
    if state == "53100":
        return CatalogFull(f"{what}: {message}; free space on the disk of PostgreSQL at {where}")
    if state.startswith(_UNAVAILABLE) or (isinstance(exc, psycopg.OperationalError) and not state):
        return CatalogUnavailable(
            f"{what}: {message}; check that PostgreSQL is running at {where} and"
            " accepts this machine's connections"
        )
    return CatalogError(f"{what}: {message}")
