"""Captures: their lifecycle (running, then complete, partial or failed), the sealed
files recorded for each, and each capture's trusted-time state.

A capture's row and its artifacts are written in one transaction, so the catalog never
lists a finished capture without the hashes of what it sealed.
"""

from __future__ import annotations

import unicodedata

from archive.catalog.cases import validate_case_name
from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import FINISHED_STATUSES, STATUSES, CaptureRow, capture_row
from archive.catalog.shared import (
    CAPTURE_SELECT,
    BadFilter,
    NotSealed,
    StateConflict,
    ensure_case_row,
    find_capture,
    reasons_json,
    require_capture,
    require_status,
)
from archive.catalog.visibility import Visibility
from archive.store import Artifact
from archive.timeutil import now_rfc3339


class CaptureTables(CatalogConnection):
    """Captures and their artifacts in the catalog. Part of :class:`archive.catalog.Catalog`."""

    def start_capture(
        self,
        capture_id: str,
        url: str,
        *,
        case: str | None,
        note: str | None,
        operator: str | None,
        started_at: str,
        collector: str | None = None,
        device: str | None = None,
    ) -> CaptureRow:
        """Record a capture as ``running`` (creating its case if needed), asked for by the
        account ``collector`` through ``device``."""
        case_name = validate_case_name(case) if case is not None else None
        with self._write() as conn:
            case_id = ensure_case_row(conn, case_name).id if case_name is not None else None
            # ON CONFLICT rather than a look first: two writers racing for one id on
            # PostgreSQL both get here, and the second must still be told, not crash.
            inserted = conn.execute(
                "INSERT INTO captures (id, url, case_id, note, operator, status, started_at,"
                " created_at, collector, device)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    capture_id,
                    url,
                    case_id,
                    note,
                    operator,
                    started_at,
                    now_rfc3339(),
                    collector,
                    device,
                ),
            ).rowcount
            if inserted != 1:
                raise StateConflict(f"capture {capture_id} already exists")
            return require_capture(conn, capture_id)

    def finish_capture(
        self,
        capture_id: str,
        *,
        status: str,
        reasons: list[str],
        final_url: str | None,
        finished_at: str,
        warc: str | None,
        manifest_sha256: str | None,
        artifacts: list[Artifact],
    ) -> CaptureRow:
        """End a ``running`` capture and record its artifacts, all or nothing."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"a capture finishes as one of {FINISHED_STATUSES}, not {status!r}")
        reasons_text = reasons_json(reasons)
        with self._write() as conn:
            require_status(conn, capture_id, ("running",), "finish")
            conn.execute(
                "UPDATE captures SET status = ?, reasons = ?, final_url = ?, finished_at = ?,"
                " warc = ?, manifest_sha256 = ? WHERE id = ?",
                (status, reasons_text, final_url, finished_at, warc, manifest_sha256, capture_id),
            )
            recorded_at = now_rfc3339()
            conn.executemany(
                "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(capture_id, a.path, a.kind, a.sha256, a.size, recorded_at) for a in artifacts],
            )
            return require_capture(conn, capture_id)

    def fail_capture(self, capture_id: str, *, reasons: list[str], finished_at: str) -> CaptureRow:
        """End a ``queued`` or ``running`` capture as ``failed``, saying why."""
        reasons_text = reasons_json(reasons)
        with self._write() as conn:
            require_status(conn, capture_id, ("queued", "running"), "fail")
            conn.execute(
                "UPDATE captures SET status = 'failed', reasons = ?, finished_at = ? WHERE id = ?",
                (reasons_text, finished_at, capture_id),
            )
            return require_capture(conn, capture_id)

    def get_capture(self, capture_id: str) -> CaptureRow | None:
        """The capture, or ``None`` when the catalog has no such id."""
        with self._read() as conn:
            return find_capture(conn, capture_id)

    def list_captures(
        self,
        *,
        case: str | None = None,
        status: str | None = None,
        url: str | None = None,
        target_id: int | None = None,
        visible_to: Visibility | None = None,
    ) -> list[CaptureRow]:
        """Captures, newest first; optionally only one case's, status's, URL's or target's,
        and only those ``visible_to`` one person (filtered in the query)."""
        if status is not None and status not in STATUSES:
            raise BadFilter(f"status must be one of {STATUSES}, not {status!r}")
        where: list[str] = []
        params: list[object] = []
        if case is not None:
            where.append("cases.name = ?")
            params.append(unicodedata.normalize("NFC", case))
        if status is not None:
            where.append("captures.status = ?")
            params.append(status)
        if url is not None:
            where.append("captures.url = ?")
            params.append(url)
        if target_id is not None:
            where.append("captures.target_id = ?")
            params.append(target_id)
        if visible_to is not None:
            condition, more = visible_to.captures_where()
            where.append(condition)
            params.extend(more)
        sql = CAPTURE_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY captures.created_at DESC, captures.id"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [capture_row(row) for row in rows]

    def count_captures(self) -> dict[str, int]:
        """How many captures are in each status (every status present, zero or not)."""
        with self._read() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM captures GROUP BY status").fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({row[0]: row[1] for row in rows})
        return counts

    def artifacts(self, capture_id: str) -> list[Artifact]:
        """The sealed files recorded for a capture, by path."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT path, sha256, size, kind FROM artifacts WHERE capture_id = ? ORDER BY path",
                (capture_id,),
            ).fetchall()
        return [Artifact(row["path"], row["sha256"], row["size"], row["kind"]) for row in rows]

    # -- trusted time -------------------------------------------------------------------

    def add_artifacts(self, capture_id: str, artifacts: list[Artifact]) -> None:
        """Files sealed after the capture (time-stamp tokens): listed with their hashes."""
        recorded_at = now_rfc3339()
        with self._write() as conn:
            if require_capture(conn, capture_id).status not in ("complete", "partial"):
                raise NotSealed(f"capture {capture_id} is not sealed")
            conn.executemany(
                "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(capture_id, a.path, a.kind, a.sha256, a.size, recorded_at) for a in artifacts],
            )

    def set_timestamp_state(
        self, capture_id: str, state: str, *, next_at: str | None = None, attempted: bool = False
    ) -> None:
        """Record where a capture's time-stamp stands, so a restart retries only what is due."""
        if state not in ("none", "pending", "stamped"):
            raise ValueError(f"timestamp state must be none, pending or stamped, not {state!r}")
        with self._write() as conn:
            require_capture(conn, capture_id)
            conn.execute(
                "UPDATE captures SET timestamp = ?, timestamp_next_at = ?,"
                " timestamp_attempts = timestamp_attempts + ? WHERE id = ?",
                (state, next_at, 1 if attempted else 0, capture_id),
            )

    def pending_timestamps(self, *, due_by: str | None = None) -> list[CaptureRow]:
        """Sealed captures still waiting for a token (only those due, given ``due_by``)."""
        sql = CAPTURE_SELECT + " WHERE captures.timestamp = 'pending'"
        sql += " AND captures.deleted_at IS NULL"  # nothing of it is left to stamp
        params: list[object] = []
        if due_by is not None:
            sql += " AND (captures.timestamp_next_at IS NULL OR captures.timestamp_next_at <= ?)"
            params.append(due_by)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY captures.finished_at", params).fetchall()
        return [capture_row(row) for row in rows]
