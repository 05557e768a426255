"""The PostgreSQL catalog's schema, reached by migrations applied in order, each in its
own transaction (the steps themselves: :mod:`archive.catalog.pg_steps`).

``schema_migrations`` records each step applied (a row per version), so a database
catches up step by step, a crash half-way leaves it at the last whole step (PostgreSQL's
DDL is transactional), and two processes opening an old catalog at once apply each step
exactly once (the step runs under a lock on the schema's name). A database written by
a newer osint-capture is refused, as on SQLite. Never edit a released step: add the next.
"""

from __future__ import annotations

import contextlib
import hashlib

import psycopg

from archive.catalog.pg_steps import PG_MIGRATIONS
from archive.catalog.schema import refuse_newer, refuse_older
from archive.catalog.shared import CatalogError
from archive.timeutil import now_rfc3339

#: The bookkeeping table, made with the first step (and never changed).
MIGRATIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )
"""


def latest_pg_version() -> int:
    """The number of the last step, after checking the steps are numbered 1, 2, ..."""
    for expected, migration in enumerate(PG_MIGRATIONS, start=1):
        if migration.version != expected:
            raise CatalogError(
                f"PostgreSQL migration {migration.version} is out of order (expected {expected})"
            )
    return len(PG_MIGRATIONS)


def lock_ids(name: str) -> tuple[int, int]:
    """The two keys of PostgreSQL's advisory lock on ``name``: the catalog's own space
    (so no other program's locks collide with ours) and the name's hash."""
    space, key = hashlib.sha256(b"osint-capture catalog").digest(), hashlib.sha256(name.encode())
    return (
        int.from_bytes(space[:4], "big", signed=True),
        int.from_bytes(key.digest()[:4], "big", signed=True),
    )


def pg_version(conn: psycopg.Connection) -> int:
    """How far this database's schema has come (0 for a database without our tables)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_version(conn: psycopg.Connection, *, read_only: bool, where: str) -> None:
    """Refuse a database that cannot hold every script's text, a newer schema (before
    anything changes), and, for a reader, an older one."""
    encoding = conn.execute(
        "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    if encoding is None or encoding[0] != "UTF8":
        raise CatalogError(
            f"catalog database {where} is encoded {encoding[0] if encoding else 'unknown'},"
            " not UTF8, so it cannot hold text in every script: create it with"
            " CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0"
        )
    version, latest = pg_version(conn), latest_pg_version()
    refuse_newer(version, latest)
    if read_only:
        refuse_older(version, latest, where)


def pg_migrate(conn: psycopg.Connection) -> None:
    """Apply the missing steps, one transaction each, under the schema's advisory lock.

    The lock is the session's, taken before any step's transaction begins: a
    transaction that began before another process committed a step would still see
    the old schema in PostgreSQL's catalog caches, and apply that step again. The
    version is read again in each step's transaction, so two processes opening an old
    catalog at once apply each step exactly once. A step may take long on a big
    catalog: no statement timeout inside it (waiting for the lock still has the
    session's lock timeout). ``conn`` is in autocommit mode.
    """
    latest = latest_pg_version()
    conn.execute("SELECT pg_advisory_lock(%s, %s)", lock_ids("schema"))
    try:
        while _apply_next_step(conn, latest):
            pass
    finally:
        # A connection that failed cannot unlock, and needs not: its lock ends with it.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_ids("schema"))


def _apply_next_step(conn: psycopg.Connection, latest: int) -> bool:
    """Apply the step after this database's version, in one transaction; ``False`` when
    there is none left."""
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = 0")
        version = pg_version(conn)
        refuse_newer(version, latest)
        if version == latest:
            return False
        step = PG_MIGRATIONS[version]
        try:
            with conn.transaction():  # a savepoint: the failure is reported, then rolled back
                conn.execute(MIGRATIONS_TABLE)
                for statement in step.statements:
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise CatalogError(
                f"catalog migration {step.version} ({step.description}) failed: {exc}"
            ) from exc
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
            (step.version, step.description, now_rfc3339()),
        )
    return True
