"""What more than one of the catalog's concerns needs: its errors, the write transaction,
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
from pathlib import Path

from archive.catalog.rows import AnalysisRow, CaptureRow, CaseRow, analysis_row, capture_row
from archive.errors import BadInput, Busy, Conflict, Failed, NotFound, StorageFull
from archive.timeutil import now_rfc3339


class CatalogError(Failed):
    """The catalog cannot be opened or read, or refused a write (exit 1, 500).

    Refusals of a known kind are the subclasses below, raised where the kind is known.
    """


class NotInCatalog(CatalogError, NotFound):
    """No such capture, analysis run or target in the catalog (exit 2, 404)."""


class NotSealed(CatalogError, BadInput):
    """The capture (or run) is queued, running or failed: only sealed ones are read,
    analysed or time-stamped (exit 2, 400: what was asked names the wrong capture)."""


class StateConflict(CatalogError, Conflict):
    """The row's state does not allow the change (exit 1, 409): finishing a finished
    capture, requeueing one that is not running, moving the custody head back."""


class TargetRemoved(StateConflict):
    """A removed target cannot be paused or resumed: 409 on the API; on the CLI, exit 2,
    as ``watch`` documents for every request it refuses (add the URL again instead)."""

    exit_code = 2


class BadFilter(CatalogError, BadInput):
    """A listing was asked for with a value the catalog does not know (a status)."""


class CatalogBusy(CatalogError, Busy):
    """Another process held the catalog's write lock for longer than we wait."""

    def __init__(self, path: Path, waited: float) -> None:
        super().__init__(
            f"the catalog {path} is locked by another process (SQLite: database is locked),"
            f" which held its write lock for more than {waited:g} s: wait until that"
            " process's work is done (another osint-capture command, or `osint-capture"
            " serve`, on the same data directory), then try again"
        )
        self.path = path


class CatalogFull(CatalogError, StorageFull):
    """SQLite could not write: the disk holding the catalog is full (SQLITE_FULL)."""


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
    """The capture, or :class:`NotInCatalog`: a write about an unknown capture is refused."""
    row = find_capture(conn, capture_id)
    if row is None:
        raise NotInCatalog(f"no capture {capture_id} in the catalog")
    return row


def require_status(
    conn: sqlite3.Connection, capture_id: str, allowed: tuple[str, ...], action: str
) -> None:
    """Refuse ``action`` unless the capture is in one of the ``allowed`` statuses."""
    status = require_capture(conn, capture_id).status
    if status not in allowed:
        raise StateConflict(f"cannot {action} capture {capture_id}: it is {status}")


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
    """The analysis run, or :class:`NotInCatalog` (its runs and its text index both ask)."""
    row = find_analysis(conn, capture_id, number)
    if row is None:
        raise NotInCatalog(f"no analysis {number} of capture {capture_id} in the catalog")
    return analysis_row(row)
