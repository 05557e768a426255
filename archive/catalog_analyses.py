"""The catalog's analysis runs: their queue, their sealed addenda and their searchable text.

Part of :class:`archive.catalog.Catalog` (a mixin, so the catalog stays one interface
with one connection): an analysis run of a sealed capture is queued, claimed by an
analysis worker, and ends ``done`` (an addendum was sealed, even if some readings
failed: the addendum says which) or ``failed`` (nothing was sealed). Each run is
numbered per capture; a re-run is the next number, never an overwrite.

The text of every reading is indexed line by line (an OCR line, a transcript
segment), each with where it was found, so a search hit can say "the screenshot at
this box" or "the video at 01:23".

``archive.catalog`` imports this module (its migration and the mixin), so the few
helpers shared with it (``CatalogError``, ``_require_capture``, the search folding)
are imported inside the methods that use them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archive.store import Artifact
from archive.timeutil import now_rfc3339

ANALYSIS_STATUSES = ("queued", "running", "done", "failed")

MIGRATION_STATEMENTS = (
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


@dataclass(frozen=True)
class AnalysisRow:
    capture_id: str
    number: int
    status: str
    request: dict[str, Any]
    operator: str | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    addendum_sha256: str | None
    summary: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    timestamp: str = "none"
    timestamp_attempts: int = 0


@dataclass(frozen=True)
class TextLine:
    """One line or segment of a reading, as indexed: its text and where it was found."""

    kind: str  # ocr | transcript | translation
    place: dict[str, Any]
    text: str


@dataclass(frozen=True)
class AnalysisHit:
    """A line of machine-read text that matched a search, and where it was read."""

    capture_id: str
    number: int
    kind: str
    place: dict[str, Any]
    snippet: str


class AnalysisTables:
    """Analysis runs in the catalog. Mixed into :class:`archive.catalog.Catalog`."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def queue_analysis(
        self, capture_id: str, *, request: dict[str, Any], operator: str | None
    ) -> tuple[AnalysisRow, bool]:
        """Queue a run of a sealed capture; a run already queued for it is returned instead."""
        from archive.catalog import CatalogError, _require_capture

        with self._write() as conn:
            capture = _require_capture(conn, capture_id)
            if capture.status not in ("complete", "partial"):
                raise CatalogError(
                    f"capture {capture_id} is {capture.status}: only sealed captures are analysed"
                )
            queued = conn.execute(
                "SELECT * FROM analyses WHERE capture_id = ? AND status = 'queued'", (capture_id,)
            ).fetchone()
            if queued is not None:
                return _analysis_row(queued), False
            number = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM analyses WHERE capture_id = ?",
                (capture_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO analyses (capture_id, number, status, request, operator, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                (capture_id, number, json.dumps(request), operator, now_rfc3339()),
            )
            return _require_analysis(conn, capture_id, number), True

    def claim_next_analysis(self, *, started_at: str) -> AnalysisRow | None:
        """The oldest queued run, now ``running`` (one attempt more); ``None`` if none."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT capture_id, number FROM analyses WHERE status = 'queued'"
                " ORDER BY created_at, capture_id, number LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE analyses SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE capture_id = ? AND number = ?",
                (started_at, row["capture_id"], row["number"]),
            )
            return _require_analysis(conn, row["capture_id"], row["number"])

    def claim_analysis(self, capture_id: str, number: int, *, started_at: str) -> AnalysisRow:
        """This queued run, now ``running`` (the CLI runs the run it queued, no other)."""
        from archive.catalog import CatalogError

        with self._write() as conn:
            status = _require_analysis(conn, capture_id, number).status
            if status != "queued":
                raise CatalogError(f"analysis {number} of capture {capture_id} is {status}")
            conn.execute(
                "UPDATE analyses SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE capture_id = ? AND number = ?",
                (started_at, capture_id, number),
            )
            return _require_analysis(conn, capture_id, number)

    def finish_analysis(
        self,
        capture_id: str,
        number: int,
        *,
        addendum_sha256: str,
        finished_at: str,
        summary: dict[str, Any],
        reasons: list[str],
        artifacts: Sequence[Artifact],
    ) -> AnalysisRow:
        """A run sealed its addendum: the row and every file it sealed, in one transaction."""
        recorded_at = now_rfc3339()
        with self._write() as conn:
            _require_running(conn, capture_id, number)
            conn.executemany(
                "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(capture_id, a.path, a.kind, a.sha256, a.size, recorded_at) for a in artifacts],
            )
            conn.execute(
                "UPDATE analyses SET status = 'done', addendum_sha256 = ?, finished_at = ?,"
                " summary = ?, reasons = ? WHERE capture_id = ? AND number = ?",
                (
                    addendum_sha256,
                    finished_at,
                    json.dumps(summary, ensure_ascii=False),
                    json.dumps(reasons, ensure_ascii=False),
                    capture_id,
                    number,
                ),
            )
            return _require_analysis(conn, capture_id, number)

    def fail_analysis(
        self, capture_id: str, number: int, *, reasons: list[str], finished_at: str
    ) -> AnalysisRow:
        """A run that sealed nothing: the row says why."""
        with self._write() as conn:
            _require_analysis(conn, capture_id, number)
            conn.execute(
                "UPDATE analyses SET status = 'failed', finished_at = ?, reasons = ?"
                " WHERE capture_id = ? AND number = ?",
                (finished_at, json.dumps(reasons, ensure_ascii=False), capture_id, number),
            )
            return _require_analysis(conn, capture_id, number)

    def interrupted_analyses(self) -> list[AnalysisRow]:
        """Runs left ``running`` by a crash (start-up decides: queue again, or fail)."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM analyses WHERE status = 'running'").fetchall()
        return [_analysis_row(row) for row in rows]

    def requeue_analysis(self, capture_id: str, number: int) -> AnalysisRow:
        with self._write() as conn:
            _require_running(conn, capture_id, number)
            conn.execute(
                "UPDATE analyses SET status = 'queued' WHERE capture_id = ? AND number = ?",
                (capture_id, number),
            )
            return _require_analysis(conn, capture_id, number)

    def get_analysis(self, capture_id: str, number: int) -> AnalysisRow | None:
        with self._read() as conn:
            row = _get_analysis(conn, capture_id, number)
        return _analysis_row(row) if row is not None else None

    def analyses(self, capture_id: str) -> list[AnalysisRow]:
        """Every run of a capture, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM analyses WHERE capture_id = ? ORDER BY number", (capture_id,)
            ).fetchall()
        return [_analysis_row(row) for row in rows]

    def set_analysis_timestamp(
        self, capture_id: str, number: int, state: str, *, next_at: str | None = None
    ) -> None:
        if state not in ("none", "pending", "stamped"):
            raise ValueError(f"timestamp state must be none, pending or stamped, not {state!r}")
        with self._write() as conn:
            _require_analysis(conn, capture_id, number)
            conn.execute(
                "UPDATE analyses SET timestamp = ?, timestamp_next_at = ?,"
                " timestamp_attempts = timestamp_attempts + 1 WHERE capture_id = ? AND number = ?",
                (state, next_at, capture_id, number),
            )

    def pending_analysis_timestamps(self, *, due_by: str | None = None) -> list[AnalysisRow]:
        sql = "SELECT * FROM analyses WHERE status = 'done' AND timestamp = 'pending'"
        params: list[object] = []
        if due_by is not None:
            sql += " AND (timestamp_next_at IS NULL OR timestamp_next_at <= ?)"
            params.append(due_by)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY finished_at", params).fetchall()
        return [_analysis_row(row) for row in rows]

    def index_analysis_text(self, capture_id: str, number: int, lines: Sequence[TextLine]) -> None:
        """Make a sealed run's readings searchable, line by line (replacing its earlier rows)."""
        from archive.catalog import _search_text

        with self._write() as conn:
            _require_analysis(conn, capture_id, number)
            conn.execute(
                "DELETE FROM analysis_text WHERE capture_id = ? AND number = ?",
                (capture_id, number),
            )
            conn.executemany(
                "INSERT INTO analysis_text (capture_id, number, kind, place, body)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        capture_id,
                        number,
                        line.kind,
                        json.dumps(line.place, ensure_ascii=False),
                        _search_text(line.text),
                    )
                    for line in lines
                    if line.text.strip()
                ],
            )

    def search_analysis_text(self, expression: str, *, limit: int) -> list[AnalysisHit]:
        """Lines of machine-read text matching an FTS5 ``expression`` (see catalog), best first."""
        from archive.catalog import SNIPPET_END, SNIPPET_START

        with self._read() as conn:
            rows = conn.execute(
                "SELECT capture_id, number, kind, place,"
                " snippet(analysis_text, 4, ?, ?, ' … ', 24) AS snippet"
                " FROM analysis_text WHERE analysis_text MATCH ? ORDER BY rank LIMIT ?",
                (SNIPPET_START, SNIPPET_END, expression, limit),
            ).fetchall()
        return [
            AnalysisHit(
                row["capture_id"],
                int(row["number"]),
                row["kind"],
                dict(json.loads(row["place"])),
                row["snippet"],
            )
            for row in rows
        ]


def _get_analysis(conn: sqlite3.Connection, capture_id: str, number: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM analyses WHERE capture_id = ? AND number = ?", (capture_id, number)
    ).fetchone()


def _require_analysis(conn: sqlite3.Connection, capture_id: str, number: int) -> AnalysisRow:
    from archive.catalog import CatalogError

    row = _get_analysis(conn, capture_id, number)
    if row is None:
        raise CatalogError(f"no analysis {number} of capture {capture_id} in the catalog")
    return _analysis_row(row)


def _require_running(conn: sqlite3.Connection, capture_id: str, number: int) -> None:
    from archive.catalog import CatalogError

    status = _require_analysis(conn, capture_id, number).status
    if status != "running":
        raise CatalogError(f"analysis {number} of capture {capture_id} is {status}, not running")


def _analysis_row(row: sqlite3.Row) -> AnalysisRow:
    return AnalysisRow(
        capture_id=row["capture_id"],
        number=int(row["number"]),
        status=row["status"],
        request=dict(json.loads(row["request"])),
        operator=row["operator"],
        attempts=int(row["attempts"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        addendum_sha256=row["addendum_sha256"],
        summary=dict(json.loads(row["summary"])),
        reasons=list(json.loads(row["reasons"])),
        timestamp=row["timestamp"],
        timestamp_attempts=int(row["timestamp_attempts"]),
    )
