"""Analysis runs: their queue, their sealed addenda, and their timestamp state.

An analysis run of a sealed capture is queued, claimed by an analysis worker, and
ends ``done`` (an addendum was sealed, even if some readings failed: the addendum
says which) or ``failed`` (nothing was sealed). Each run is numbered per capture; a
re-run is the next number, never an overwrite. The text each run read is indexed
line by line in :mod:`archive.catalog.search`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import AnalysisRow, analysis_row
from archive.catalog.session import Session
from archive.catalog.shared import (
    NotSealed,
    StateConflict,
    find_analysis,
    require_analysis,
    require_capture,
)
from archive.store import Artifact
from archive.timeutil import now_rfc3339


class AnalysisTables(CatalogConnection):
    """Analysis runs in the catalog. Part of :class:`archive.catalog.Catalog`."""

    def queue_analysis(
        self,
        capture_id: str,
        *,
        request: dict[str, Any],
        operator: str | None,
        requested_by: str | None = None,
        device: str | None = None,
    ) -> tuple[AnalysisRow, bool]:
        """Queue a run of a sealed capture, asked for by the account ``requested_by``
        through ``device``; a run already queued for it is returned instead."""
        with self._write() as conn:
            # The capture's row held: two requests at once make one queued run, numbered once.
            capture = require_capture(conn, capture_id, lock=True)
            if capture.status not in ("complete", "partial"):
                raise NotSealed(
                    f"capture {capture_id} is {capture.status}: only sealed captures are analysed"
                )
            queued = conn.execute(
                "SELECT * FROM analyses WHERE capture_id = ? AND status = 'queued'", (capture_id,)
            ).fetchone()
            if queued is not None:
                return analysis_row(queued), False
            number = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM analyses WHERE capture_id = ?",
                (capture_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO analyses (capture_id, number, status, request, operator,"
                " created_at, requested_by, device) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (
                    capture_id,
                    number,
                    json.dumps(request),
                    operator,
                    now_rfc3339(),
                    requested_by,
                    device,
                ),
            )
            return require_analysis(conn, capture_id, number), True

    def claim_next_analysis(self, *, started_at: str) -> AnalysisRow | None:
        """The oldest queued run, now ``running`` (one attempt more); ``None`` if none."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT capture_id, number FROM analyses WHERE status = 'queued'"
                " ORDER BY created_at, capture_id, number LIMIT 1" + conn.skip_locked("analyses")
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE analyses SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE capture_id = ? AND number = ?",
                (started_at, row["capture_id"], row["number"]),
            )
            return require_analysis(conn, row["capture_id"], row["number"])

    def claim_analysis(self, capture_id: str, number: int, *, started_at: str) -> AnalysisRow:
        """This queued run, now ``running`` (the CLI runs the run it queued, no other)."""
        with self._write() as conn:
            status = require_analysis(conn, capture_id, number, lock=True).status
            if status != "queued":
                raise StateConflict(f"analysis {number} of capture {capture_id} is {status}")
            conn.execute(
                "UPDATE analyses SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE capture_id = ? AND number = ?",
                (started_at, capture_id, number),
            )
            return require_analysis(conn, capture_id, number)

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
            return require_analysis(conn, capture_id, number)

    def fail_analysis(
        self, capture_id: str, number: int, *, reasons: list[str], finished_at: str
    ) -> AnalysisRow:
        """A run that sealed nothing: the row says why."""
        with self._write() as conn:
            require_analysis(conn, capture_id, number, lock=True)
            conn.execute(
                "UPDATE analyses SET status = 'failed', finished_at = ?, reasons = ?"
                " WHERE capture_id = ? AND number = ?",
                (finished_at, json.dumps(reasons, ensure_ascii=False), capture_id, number),
            )
            return require_analysis(conn, capture_id, number)

    def interrupted_analyses(self) -> list[AnalysisRow]:
        """Runs left ``running`` by a crash (start-up decides: queue again, or fail)."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM analyses WHERE status = 'running'").fetchall()
        return [analysis_row(row) for row in rows]

    def requeue_analysis(self, capture_id: str, number: int) -> AnalysisRow:
        """Put a run a crash left ``running`` back in the queue (the same number)."""
        with self._write() as conn:
            _require_running(conn, capture_id, number)
            conn.execute(
                "UPDATE analyses SET status = 'queued' WHERE capture_id = ? AND number = ?",
                (capture_id, number),
            )
            return require_analysis(conn, capture_id, number)

    def get_analysis(self, capture_id: str, number: int) -> AnalysisRow | None:
        """The run, or ``None`` when the capture has no run of that number."""
        with self._read() as conn:
            row = find_analysis(conn, capture_id, number)
        return analysis_row(row) if row is not None else None

    def analyses(self, capture_id: str) -> list[AnalysisRow]:
        """Every run of a capture, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM analyses WHERE capture_id = ? ORDER BY number", (capture_id,)
            ).fetchall()
        return [analysis_row(row) for row in rows]

    def set_analysis_timestamp(
        self, capture_id: str, number: int, state: str, *, next_at: str | None = None
    ) -> None:
        """Record where a run's addendum time-stamp stands (one attempt more), so a
        restart retries only what is due."""
        if state not in ("none", "pending", "stamped"):
            raise ValueError(f"timestamp state must be none, pending or stamped, not {state!r}")
        with self._write() as conn:
            require_analysis(conn, capture_id, number)
            conn.execute(
                "UPDATE analyses SET timestamp = ?, timestamp_next_at = ?,"
                " timestamp_attempts = timestamp_attempts + 1 WHERE capture_id = ? AND number = ?",
                (state, next_at, capture_id, number),
            )

    def pending_analysis_timestamps(self, *, due_by: str | None = None) -> list[AnalysisRow]:
        """Sealed runs still waiting for a token (only those due, given ``due_by``)."""
        sql = "SELECT * FROM analyses WHERE status = 'done' AND timestamp = 'pending'"
        # Nothing is left of a deleted capture's runs to stamp.
        sql += " AND capture_id NOT IN (SELECT id FROM captures WHERE deleted_at IS NOT NULL)"
        params: list[object] = []
        if due_by is not None:
            sql += " AND (timestamp_next_at IS NULL OR timestamp_next_at <= ?)"
            params.append(due_by)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY finished_at", params).fetchall()
        return [analysis_row(row) for row in rows]


def _require_running(conn: Session, capture_id: str, number: int) -> None:
    """Lock the run's row; refuse to finish or requeue a run that is not ``running``."""
    status = require_analysis(conn, capture_id, number, lock=True).status
    if status != "running":
        raise StateConflict(f"analysis {number} of capture {capture_id} is {status}, not running")
