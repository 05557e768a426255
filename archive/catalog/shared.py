"""What more than one of the catalog's concerns needs: its errors and the lookups made
inside a transaction that is already open.

Kept in one module that every concern imports (and that imports none of them), so
the concerns never import each other's internals and no import has to be made late
to dodge a cycle. Internal to :mod:`archive.catalog`: callers use the package.
Nothing here names a database: the lookups run on a :class:`Session` of either one.
"""

from __future__ import annotations

import json
from pathlib import Path

from archive.catalog.rows import AnalysisRow, CaptureRow, CaseRow, analysis_row, capture_row
from archive.catalog.session import Row, Session
from archive.errors import BadInput, Busy, Conflict, Failed, NotFound, StorageFull, Unavailable
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
    """Another process held what a write needs (SQLite's write lock, a PostgreSQL row
    lock) for longer than we wait.

    ``detail`` is PostgreSQL's word for it; without it the message is SQLite's.
    """

    def __init__(self, path: Path | str, waited: float, *, detail: str | None = None) -> None:
        if detail is None:
            message = (
                f"the catalog {path} is locked by another process (SQLite: database is"
                f" locked), which held its write lock for more than {waited:g} s: wait until"
                " that process's work is done (another osint-capture command, or"
                " `osint-capture serve`, on the same data directory), then try again"
            )
        else:
            message = (
                f"the catalog {path} is locked by another transaction (PostgreSQL: {detail}),"
                f" which held what this one needs for more than {waited:g} s: wait until"
                " that work is done (a server, worker or command on the same catalog),"
                " then try again"
            )
        super().__init__(message)
        self.path = path


class BadCatalogURL(BadInput):
    """A catalog URL that names no catalog this code can open; the message says what a
    good one looks like (never with its password)."""


class CatalogFull(CatalogError, StorageFull):
    """The database could not write: the disk holding the catalog is full (SQLite's
    SQLITE_FULL, PostgreSQL's disk_full)."""


class CatalogUnavailable(CatalogError, Unavailable):
    """The catalog's database server cannot be reached (exit 1, 503): PostgreSQL is
    down, refuses the connection, or has no connection free in time. Try again later."""


#: Every capture query starts here, so each row carries its case's name.
CAPTURE_SELECT = (
    "SELECT captures.*, cases.name AS case_name"
    " FROM captures LEFT JOIN cases ON cases.id = captures.case_id"
)


def ensure_case_row(conn: Session, name: str) -> CaseRow:
    """The case called ``name`` (already validated), inserted if it is new."""
    conn.execute(
        "INSERT INTO cases (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, now_rfc3339()),
    )
    row = conn.execute("SELECT id, name, created_at FROM cases WHERE name = ?", (name,)).fetchone()
    return CaseRow(row["id"], row["name"], row["created_at"])


def find_capture(conn: Session, capture_id: str, *, lock: bool = False) -> CaptureRow | None:
    """The capture, or ``None``; ``lock``: its row is held until the transaction ends."""
    sql = CAPTURE_SELECT + " WHERE captures.id = ?"
    if lock:
        sql += conn.lock_rows("captures")
    row = conn.execute(sql, (capture_id,)).fetchone()
    return capture_row(row) if row is not None else None


def require_capture(conn: Session, capture_id: str, *, lock: bool = False) -> CaptureRow:
    """The capture, or :class:`NotInCatalog`: a write about an unknown capture is refused."""
    row = find_capture(conn, capture_id, lock=lock)
    if row is None:
        raise NotInCatalog(f"no capture {capture_id} in the catalog")
    return row


def require_status(
    conn: Session, capture_id: str, allowed: tuple[str, ...], action: str
) -> CaptureRow:
    """Lock the capture's row and refuse ``action`` unless it is in an ``allowed`` status."""
    current = require_capture(conn, capture_id, lock=True)
    if current.status not in allowed:
        raise StateConflict(f"cannot {action} capture {capture_id}: it is {current.status}")
    return current


def reasons_json(reasons: list[str]) -> str:
    """Reasons as stored: checked to be a list of strings before anything is written."""
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError("reasons must be a list of strings")
    return json.dumps(reasons, ensure_ascii=False)


def find_analysis(conn: Session, capture_id: str, number: int, *, lock: bool = False) -> Row | None:
    sql = "SELECT * FROM analyses WHERE capture_id = ? AND number = ?"
    if lock:
        sql += conn.lock_rows("analyses")
    return conn.execute(sql, (capture_id, number)).fetchone()


def require_analysis(
    conn: Session, capture_id: str, number: int, *, lock: bool = False
) -> AnalysisRow:
    """The analysis run, or :class:`NotInCatalog` (its runs and its text index both ask)."""
    row = find_analysis(conn, capture_id, number, lock=lock)
    if row is None:
        raise NotInCatalog(f"no analysis {number} of capture {capture_id} in the catalog")
    return analysis_row(row)
