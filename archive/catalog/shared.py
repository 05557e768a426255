"""What more than one of the catalog's concerns needs: its error, the write transaction,
and the lookups made inside a transaction that is already open.

Kept in one module that every concern imports (and that imports none of them), so
the concerns never import each other's internals and no import has to be made late
to dodge a cycle. Internal to :mod:`archive.catalog`: callers use the package.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from archive.catalog.rows import AnalysisRow, CaptureRow, CaseRow, analysis_row, capture_row
from archive.timeutil import now_rfc3339


class CatalogError(Exception):
    """The catalog cannot be opened, or a write broke one of its rules."""


#: Every capture query starts here, so each row carries its case's name.
CAPTURE_SELECT = (
    "SELECT captures.*, cases.name AS case_name"
    " FROM captures LEFT JOIN cases ON cases.id = captures.case_id"
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


def ensure_case_row(conn: sqlite3.Connection, name: str) -> CaseRow:
    """The case called ``name`` (already validated), inserted if it is new."""
    conn.execute(
        "INSERT INTO cases (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, now_rfc3339()),
    )
    row = conn.execute("SELECT id, name, created_at FROM cases WHERE name = ?", (name,)).fetchone()
    return CaseRow(row["id"], row["name"], row["created_at"])


def find_capture(conn: sqlite3.Connection, capture_id: str) -> CaptureRow | None:
    row = conn.execute(CAPTURE_SELECT + " WHERE captures.id = ?", (capture_id,)).fetchone()
    return capture_row(row) if row is not None else None


def require_capture(conn: sqlite3.Connection, capture_id: str) -> CaptureRow:
    """The capture, or :class:`CatalogError`: a write about an unknown capture is refused."""
    row = find_capture(conn, capture_id)
    if row is None:
        raise CatalogError(f"no capture {capture_id} in the catalog")
    return row


def require_status(
    conn: sqlite3.Connection, capture_id: str, allowed: tuple[str, ...], action: str
) -> None:
    """Refuse ``action`` unless the capture is in one of the ``allowed`` statuses."""
    status = require_capture(conn, capture_id).status
    if status not in allowed:
        raise CatalogError(f"cannot {action} capture {capture_id}: it is {status}")


def reasons_json(reasons: list[str]) -> str:
    """Reasons as stored: checked to be a list of strings before anything is written."""
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError("reasons must be a list of strings")
    return json.dumps(reasons, ensure_ascii=False)


def find_analysis(conn: sqlite3.Connection, capture_id: str, number: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM analyses WHERE capture_id = ? AND number = ?", (capture_id, number)
    ).fetchone()


def require_analysis(conn: sqlite3.Connection, capture_id: str, number: int) -> AnalysisRow:
    """The analysis run, or :class:`CatalogError` (its runs and its text index both ask)."""
    row = find_analysis(conn, capture_id, number)
    if row is None:
        raise CatalogError(f"no analysis {number} of capture {capture_id} in the catalog")
    return analysis_row(row)
