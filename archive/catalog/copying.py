"""Copying one catalog's rows into another, table by table, ids kept: ``migrate``'s rows.

An embedded archive moves to team storage (:mod:`archive.migration`) with every row it
holds: cases, watched targets, captures and their artifacts (queue state included),
each target's timeline, analysis runs, both text indexes (so search finds what it found
before), and case holds. The rows go in the order their references need (a case before
its captures, a capture before its timeline), each with the id it had, read a batch at a
time (keyset order, never ``OFFSET``), so memory stays flat whatever the archive's size.

Everything is written inside the caller's :meth:`~archive.catalog.Catalog.transaction`
on the target: the copy commits whole or not at all, so an interrupted migration never
leaves a catalog that looks complete. The text indexes are not copied as columns (FTS5
and ``tsvector`` store different things): each page and each line, already folded, is
handed to the target engine's own text index, which makes its words.

On PostgreSQL the identity sequences are then set past the largest id copied, so the
next case, target or timeline row gets a new id. :func:`compare_catalogs` reads both
catalogs again, table by table, and reports the first difference in each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.catalog.database import Catalog
from archive.catalog.shared import CatalogError

#: Rows read from the source per statement.
BATCH = 500


@dataclass(frozen=True)
class Table:
    """A table copied column for column; ``key`` orders it (its primary key)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    #: Its ``id`` is an identity column on PostgreSQL: the sequence is moved past the copy.
    identity: bool = False


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: In the order references need. Text indexes and custody are copied by their owners;
#: sessions are not copied (people log in again on the new catalog).
TABLES: tuple[Table, ...] = (
    Table("cases", ("id",), _names("id name created_at second_factor"), identity=True),
    Table(
        "users",
        ("name",),
        _names(
            "name role password_hash totp_secret totp_last_step oidc_subject disabled_at"
            " failed_logins locked_until created_at created_by"
        ),
    ),
    Table(
        "targets",
        ("id",),
        _names(
            "id url case_id interval_seconds state next_run_at last_run_at operator note"
            " request created_at collector device"
        ),
        identity=True,
    ),
    Table(
        "captures",
        ("id",),
        _names(
            "id url final_url case_id note operator status reasons started_at finished_at"
            " warc manifest_sha256 created_at attempts request timestamp timestamp_attempts"
            " timestamp_next_at target_id collector device deleted_at deleted_by"
            " deletion_reason"
        ),
    ),
    Table(
        "artifacts",
        ("capture_id", "path"),
        _names("capture_id path kind sha256 size recorded_at"),
    ),
    Table(
        "timeline",
        ("id",),
        _names("id target_id capture_id previous_capture_id kind summary details created_at"),
        identity=True,
    ),
    Table(
        "analyses",
        ("capture_id", "number"),
        _names(
            "capture_id number status request operator attempts created_at started_at"
            " finished_at addendum_sha256 summary reasons timestamp timestamp_attempts"
            " timestamp_next_at requested_by device"
        ),
    ),
    Table("case_holds", ("case_id",), _names("case_id held_by reason held_at")),
    Table(
        "api_tokens",
        ("id",),
        _names("id user_name name token_sha256 origin created_at last_used_at revoked_at"),
        identity=True,
    ),
    Table("case_members", ("case_id", "user_name"), _names("case_id user_name added_by added_at")),
)

#: What a team catalog must not hold yet for a copy to begin (object versions may: the
#: files are uploaded, and their versions recorded, before the rows are copied).
MUST_BE_EMPTY = (*(t.name for t in TABLES), "capture_text", "analysis_text", "custody_events")


@dataclass
class CopyCount:
    """How many rows of each table were copied (the text indexes by page and line)."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count


def table_counts(catalog: Catalog, tables: Sequence[str] = MUST_BE_EMPTY) -> dict[str, int]:
    """How many rows each of ``tables`` holds."""
    counts = {}
    with catalog._read() as conn:
        for name in tables:
            counts[name] = int(conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
    return counts


def copy_catalog(
    source: Catalog, target: Catalog, *, progress: Callable[[str, int], None] | None = None
) -> CopyCount:
    """Every row of ``source`` (a SQLite catalog) into ``target``, ids kept, inside the
    caller's ``target.transaction()``; the text indexes through ``target``'s own."""
    if not target.in_transaction():
        raise CatalogError("copy_catalog runs inside target.transaction(): it commits whole")
    count = CopyCount()
    for table in TABLES:
        for batch in _batches(source, table):
            with target._write() as conn:
                conn.executemany(_insert(table), batch)
            count.add(table.name, len(batch))
            if progress is not None:
                progress(table.name, count.rows[table.name])
    _copy_pages(source, target, count)
    _copy_lines(source, target, count)
    _move_sequences(target)
    return count


def _insert(table: Table) -> str:
    marks = ", ".join("?" for _ in table.columns)
    return f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})"


def _batches(catalog: Catalog, table: Table) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in key order, ``BATCH`` at a time (keyset: each batch starts
    after the last key read, so no batch costs more than the first)."""
    columns = ", ".join(table.columns)
    order = ", ".join(table.key)
    after: tuple[Any, ...] | None = None
    while True:
        where, params = "", []
        if after is not None:
            where = f" WHERE ({order}) > ({', '.join('?' for _ in table.key)})"
            params = list(after)
        with catalog._read() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM {table.name}{where} ORDER BY {order} LIMIT ?",
                [*params, BATCH],
            ).fetchall()
        if not rows:
            return
        batch = [tuple(row[c] for c in table.columns) for row in rows]
        yield batch
        last = rows[-1]
        after = tuple(last[k] for k in table.key)


def _sqlite_text_rows(catalog: Catalog, sql: str) -> Iterator[list[Any]]:
    """An FTS5 table's rows by ``rowid``, a batch at a time (the source is SQLite)."""
    after = 0
    while True:
        with catalog._read() as conn:
            rows = conn.execute(sql, (after, BATCH)).fetchall()
        if not rows:
            return
        yield rows
        after = int(rows[-1]["rowid"])


def _copy_pages(source: Catalog, target: Catalog, count: CopyCount) -> None:
    """Each capture's visible text, already folded, into the target's text index."""
    sql = (
        "SELECT rowid, capture_id, url, title, body FROM capture_text"
        " WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    for rows in _sqlite_text_rows(source, sql):
        with target._write() as conn:
            for row in rows:
                target._engine.text.insert_page(
                    conn, row["capture_id"], row["url"], row["title"], row["body"]
                )
        count.add("capture_text", len(rows))


def _copy_lines(source: Catalog, target: Catalog, count: CopyCount) -> None:
    """Each analysis run's lines, in the order they were read, run by run."""
    sql = (
        "SELECT rowid, capture_id, number, kind, place, body FROM analysis_text"
        " WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    runs: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for rows in _sqlite_text_rows(source, sql):
        for row in rows:
            run = (str(row["capture_id"]), int(row["number"]))
            runs.setdefault(run, []).append((row["kind"], row["place"], row["body"]))
        # A run's lines are written together, when the next run starts (they were
        # inserted together, so they are contiguous by rowid).
        for run in list(runs)[:-1]:
            _insert_run(target, run, runs.pop(run), count)
    for run, lines in runs.items():
        _insert_run(target, run, lines, count)


def _insert_run(
    target: Catalog, run: tuple[str, int], lines: list[tuple[str, str, str]], count: CopyCount
) -> None:
    with target._write() as conn:
        target._engine.text.insert_lines(conn, run[0], run[1], lines)
    count.add("analysis_text", len(lines))


def _move_sequences(target: Catalog) -> None:
    """On PostgreSQL, each identity sequence past the largest id copied."""
    if not _is_postgresql(target):
        return
    with target._write() as conn:
        for table in TABLES:
            if table.identity:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                    f" GREATEST((SELECT MAX(id) FROM {table.name}), 1),"
                    f" (SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
                )


def _is_postgresql(catalog: Catalog) -> bool:
    return catalog.describe().get("engine", "").startswith("PostgreSQL")


def compare_catalogs(source: Catalog, target: Catalog) -> list[str]:
    """Every table read again from both, row by row in key order; each table's first
    difference (or a count that differs), and the text indexes' rows by content."""
    differences = []
    for table in TABLES:
        found = _first_difference(_rows(source, table), _rows(target, table))
        if found is not None:
            differences.append(f"{table.name}: {found}")
    for name, columns in _TEXT_COLUMNS.items():
        found = _first_difference(
            _text_rows(source, name, columns), _text_rows(target, name, columns)
        )
        if found is not None:
            differences.append(f"{name}: {found}")
    return differences


def _rows(catalog: Catalog, table: Table) -> Iterator[tuple[Any, ...]]:
    for batch in _batches(catalog, table):
        yield from batch


_TEXT_COLUMNS = {
    "capture_text": ("capture_id", "url", "title", "body"),
    "analysis_text": ("capture_id", "number", "kind", "place", "body"),
}


def _text_rows(catalog: Catalog, name: str, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """A text index's rows in the same order on either engine: by capture (and run), then
    in the order the lines were read (SQLite's ``rowid``, PostgreSQL's ``line``); a
    batch at a time."""
    order = "line" if _is_postgresql(catalog) else "rowid"
    key = ("capture_id", "number", order) if name == "analysis_text" else ("capture_id",)
    table = Table(name, key, (*columns, *(k for k in key if k not in columns)))
    for batch in _batches(catalog, table):
        for row in batch:
            yield tuple(str(value) for value in row[: len(columns)])


def _first_difference(
    left: Iterator[tuple[Any, ...]], right: Iterator[tuple[Any, ...]]
) -> str | None:
    number = 0
    while True:
        number += 1
        a, b = next(left, None), next(right, None)
        if a is None and b is None:
            return None
        if a != b:
            return f"row {number} differs: source {a!r}, target {b!r}"
