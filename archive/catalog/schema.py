"""The SQLite catalog's schema: every table, grown only by numbered migrations, in order.

Each migration is applied in its own transaction with ``PRAGMA user_version``
recording how far a database has come, so an old catalog on disk catches up step by
step and a crash half-way leaves it at the last whole step. A database written by a
newer osint-capture is refused, never "repaired": this code cannot know what the
newer steps meant.

The SQL of a released step is evidence of what every existing catalog holds: never
edit it (not even its whitespace, which SQLite keeps in ``sqlite_master``); add the
next step instead.

PostgreSQL's schema reaches the same tables by migrations of its own
(:mod:`archive.catalog.pg_schema`); a step added here is added there too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from archive.catalog.people_schema import acting_statements, people_statements
from archive.catalog.shared import CatalogError


@dataclass(frozen=True)
class Migration:
    """One step of the schema. Never edit a released step: add the next one."""

    version: int
    description: str
    statements: tuple[str, ...]


#: Migration 7's statements: analysis runs and their text, searchable line by line
#: (written to and read by archive.catalog.analyses and archive.catalog.search).
_ANALYSIS_STATEMENTS = (
    """
    CREATE TABLE analyses (
        capture_id TEXT NOT NULL REFERENCES captures(id),
        number INTEGER NOT NULL CHECK (number > 0),
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        request TEXT NOT NULL DEFAULT '{}',
        operator TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        addendum_sha256 TEXT,
        summary TEXT NOT NULL DEFAULT '{}',
        reasons TEXT NOT NULL DEFAULT '[]',
        timestamp TEXT NOT NULL DEFAULT 'none',
        timestamp_attempts INTEGER NOT NULL DEFAULT 0,
        timestamp_next_at TEXT,
        PRIMARY KEY (capture_id, number)
    )
    """,
    "CREATE INDEX analyses_queue ON analyses(status, created_at)",
    "CREATE INDEX analyses_timestamp ON analyses(timestamp, timestamp_next_at)",
    # One row per line or segment read; ``place`` (JSON) says where in the source.
    """
    CREATE VIRTUAL TABLE analysis_text USING fts5(
        capture_id UNINDEXED, number UNINDEXED, kind UNINDEXED, place UNINDEXED, body,
        tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "cases, captures and artifacts",
        (
            """
            CREATE TABLE cases (
                id INTEGER PRIMARY KEY,
                name TEXT UNIQUE NOT NULL,
                created_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE captures (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                final_url TEXT,
                case_id INTEGER REFERENCES cases(id),
                note TEXT,
                operator TEXT,
                status TEXT NOT NULL
                    CHECK (status IN ('queued', 'running', 'complete', 'partial', 'failed')),
                reasons TEXT NOT NULL DEFAULT '[]',
                started_at TEXT,
                finished_at TEXT,
                warc TEXT,
                manifest_sha256 TEXT,
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX captures_case_id ON captures(case_id)",
            "CREATE INDEX captures_status ON captures(status)",
            "CREATE INDEX captures_url ON captures(url)",
            """
            CREATE TABLE artifacts (
                capture_id TEXT NOT NULL REFERENCES captures(id),
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                recorded_at TEXT NOT NULL,
                PRIMARY KEY (capture_id, path)
            )
            """,
        ),
    ),
    Migration(
        2,
        "a queue in the catalog: attempts and the request of each capture",
        (
            "ALTER TABLE captures ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            # What was asked for (time budget, as-seen files received): never secrets.
            "ALTER TABLE captures ADD COLUMN request TEXT NOT NULL DEFAULT '{}'",
            "CREATE INDEX captures_queue ON captures(status, created_at)",
        ),
    ),
    Migration(
        3,
        "the custody log's head: the last event the catalog saw written",
        (
            # One row: a truncated or rewritten DATA/custody.jsonl no longer ends here.
            """
            CREATE TABLE custody_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        4,
        "trusted time: each capture's timestamp state and its retry schedule",
        (
            # none: no TSA configured; pending: sealed, no token yet; stamped: token kept.
            "ALTER TABLE captures ADD COLUMN timestamp TEXT NOT NULL DEFAULT 'none'",
            "ALTER TABLE captures ADD COLUMN timestamp_attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE captures ADD COLUMN timestamp_next_at TEXT",
            "CREATE INDEX captures_timestamp ON captures(timestamp, timestamp_next_at)",
        ),
    ),
    Migration(
        5,
        "watched targets, their captures and the timeline of what changed",
        (
            # A removed target keeps its row: its captures and timeline stay evidence.
            """
            CREATE TABLE targets (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL,
                case_id INTEGER REFERENCES cases(id),
                interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
                state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
                next_run_at TEXT,
                last_run_at TEXT,
                operator TEXT,
                note TEXT,
                request TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX targets_due ON targets(state, next_run_at)",
            "ALTER TABLE captures ADD COLUMN target_id INTEGER REFERENCES targets(id)",
            "CREATE INDEX captures_target ON captures(target_id, created_at)",
            """
            CREATE TABLE timeline (
                id INTEGER PRIMARY KEY,
                target_id INTEGER NOT NULL REFERENCES targets(id),
                capture_id TEXT REFERENCES captures(id),
                previous_capture_id TEXT REFERENCES captures(id),
                kind TEXT NOT NULL CHECK (kind IN
                    ('first', 'unchanged', 'changed', 'takedown', 'restored', 'failed')),
                summary TEXT NOT NULL,
                details TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX timeline_target ON timeline(target_id, id)",
        ),
    ),
    Migration(
        6,
        "full-text search over the visible text of every capture (FTS5)",
        (
            # unicode61 knows every script's letters; remove_diacritics 2 folds Latin
            # accents, and Arabic vowel marks are folded before indexing (search.fold).
            """
            CREATE VIRTUAL TABLE capture_text USING fts5(
                capture_id UNINDEXED, url, title, body,
                tokenize = 'unicode61 remove_diacritics 2'
            )
            """,
        ),
    ),
    Migration(
        7,
        "analysis runs (OCR, transcripts, translations) and their text, searchable line by line",
        _ANALYSIS_STATEMENTS,
    ),
    Migration(
        8,
        "object versions of sealed files in an object store, and legal holds on cases",
        (
            # One row per stored object: the version every read of it must name.
            """
            CREATE TABLE object_versions (
                key TEXT NOT NULL PRIMARY KEY,
                version_id TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                stored_at TEXT NOT NULL
            )
            """,
            # A row while a case is on hold: nothing of it may be deleted, whatever retention.
            """
            CREATE TABLE case_holds (
                case_id INTEGER NOT NULL PRIMARY KEY REFERENCES cases(id),
                held_by TEXT,
                reason TEXT,
                held_at TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        9,
        "custody chains in the catalog (team mode): one hash chain per case, events as bytes",
        (
            # One row per chain: its head, locked by every append to that chain.
            """
            CREATE TABLE custody_chains (
                chain TEXT NOT NULL PRIMARY KEY,
                seq INTEGER NOT NULL CHECK (seq >= 0),
                hash TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            # Each event as its exact canonical bytes (what its hash is over), never re-encoded.
            """
            CREATE TABLE custody_events (
                chain TEXT NOT NULL REFERENCES custody_chains(chain),
                seq INTEGER NOT NULL CHECK (seq > 0),
                hash TEXT NOT NULL,
                line BLOB NOT NULL,
                PRIMARY KEY (chain, seq)
            )
            """,
            # The anchors' token files, sealed in the store: listed here, not from a folder.
            """
            CREATE TABLE custody_anchors (
                name TEXT NOT NULL PRIMARY KEY,
                chain TEXT NOT NULL REFERENCES custody_chains(chain),
                seq INTEGER NOT NULL,
                token_sha256 TEXT NOT NULL,
                recorded_at TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        10,
        "people: accounts, their tokens and sessions, case membership; who collected a capture",
        people_statements(key="INTEGER PRIMARY KEY", text="TEXT", case_key="INTEGER"),
    ),
    Migration(
        11,
        "deleted captures: the row stays as a tombstone (when, by whom, why)",
        (
            # NULL while the capture's files are kept; set by archive.deletion, never unset.
            "ALTER TABLE captures ADD COLUMN deleted_at TEXT",
            "ALTER TABLE captures ADD COLUMN deleted_by TEXT",
            "ALTER TABLE captures ADD COLUMN deletion_reason TEXT",
        ),
    ),
    Migration(
        12,
        "who started a watch or asked for a reading, as captures say who collected them",
        acting_statements(text="TEXT"),
    ),
    Migration(
        13,
        "the last second-factor step each person logged in with, so no code counts twice",
        ("ALTER TABLE users ADD COLUMN totp_last_step INTEGER",),
    ),
)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """Take the write lock up front, so a transaction never fails half-way for a lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def latest_version() -> int:
    """The number of the last migration, after checking the steps are numbered 1, 2, ..."""
    for expected, migration in enumerate(MIGRATIONS, start=1):
        if migration.version != expected:
            raise CatalogError(
                f"migration {migration.version} is out of order (expected {expected})"
            )
    return len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    """How far this database's schema has come (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(version: int, latest: int) -> None:
    """Refuse a database whose schema is newer than this code knows."""
    if version > latest:
        raise CatalogError(
            f"catalog schema version {version} is newer than this osint-capture"
            f" understands ({latest}); upgrade osint-capture"
        )


def refuse_older(version: int, latest: int, path: object) -> None:
    """Refuse to read a database the writer has not brought up to date (a reader never
    migrates: only the one writer changes the file)."""
    if version < latest:
        raise CatalogError(
            f"catalog {path} has schema version {version}, not {latest}: open it for"
            " writing first (the writer applies the migrations)"
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, one transaction each.

    The version is read again under the write lock, so two processes opening an old
    catalog at once apply each step exactly once.
    """
    latest = latest_version()
    while True:
        with immediate(conn):
            version = user_version(conn)
            refuse_newer(version, latest)
            if version == latest:
                return
            migration = MIGRATIONS[version]
            try:
                for statement in migration.statements:
                    conn.execute(statement)
            except sqlite3.Error as exc:
                raise CatalogError(
                    f"catalog migration {migration.version} ({migration.description}) failed: {exc}"
                ) from exc
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
