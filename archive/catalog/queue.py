"""The capture queue, kept in the catalog: enqueue, claim the oldest, put back after a crash.

The queue is the ``captures`` table itself (status ``queued``), so a queued request
survives a restart and is listed like any capture; a URL already queued or running
for a case (or, under no case, for one collector) is never queued twice for it; cookies
lent for it (sealed) are kept in the same transaction (:mod:`archive.catalog.lending`, a
shared catalog only). On PostgreSQL, where writers run side by side, a batch first locks
the URLs it queues, and a claim passes over a capture another worker is taking (``FOR
UPDATE SKIP LOCKED``), so no two workers ever take the same one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from archive.catalog.cases import validate_case_name
from archive.catalog.connection import CatalogConnection
from archive.catalog.lending import LendingNotShared, keep_lent_cookies
from archive.catalog.rows import CaptureRow, QueuedRequest, capture_row
from archive.catalog.session import Session
from archive.catalog.shared import (
    CAPTURE_SELECT,
    StateConflict,
    ensure_case_row,
    find_capture,
    reasons_json,
    require_capture,
)
from archive.timeutil import now_rfc3339


class QueueTables(CatalogConnection):
    """The capture queue in the catalog. Part of :class:`archive.catalog.Catalog`."""

    def enqueue_capture(
        self,
        capture_id: str,
        url: str,
        *,
        case: str | None,
        note: str | None,
        operator: str | None,
        request: dict[str, object],
        collector: str | None = None,
        device: str | None = None,
    ) -> tuple[CaptureRow, bool]:
        """Queue a capture, unless one of the same URL is queued or running.

        Returns the capture and whether it is new. Checking and inserting happen in
        one transaction, so two requests racing for one URL still make one capture.
        """
        item = QueuedRequest(
            capture_id, url, case, note, operator, request, collector=collector, device=device
        )
        return self.enqueue_captures([item])[0]

    def enqueue_captures(self, items: Sequence[QueuedRequest]) -> list[tuple[CaptureRow, bool]]:
        """:meth:`enqueue_capture` for several captures in one transaction, in order.

        One commit (one fsync of the journal) for all of them: with many requests at
        once, an fsync per capture in a row was what made enqueueing slow. A URL
        queued earlier in the same batch counts as queued. Every case name is
        checked before anything is written, so a bad one writes nothing.
        """
        cases = [validate_case_name(i.case) if i.case is not None else None for i in items]
        if not self.shared and any(item.lent_cookies for item in items):
            raise LendingNotShared(
                f"catalog {self.path} is SQLite, which keeps no lent cookies (an embedded"
                " server holds them in memory); this is a bug in the caller"
            )
        with self._write() as conn:
            conn.lock_key(*(f"queued url {item.url}" for item in items))
            return [_enqueue(conn, i, c) for i, c in zip(items, cases, strict=True)]

    def claim_next_queued(self, *, started_at: str) -> CaptureRow | None:
        """Take the oldest queued capture and mark it ``running`` (one attempt more)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM captures WHERE status = 'queued' ORDER BY created_at, id LIMIT 1"
                + conn.skip_locked("captures")
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE captures SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (started_at, row["id"]),
            )
            return require_capture(conn, row["id"])

    def claim_queued(self, capture_id: str, *, started_at: str) -> CaptureRow | None:
        """Mark ``capture_id`` ``running`` (one attempt more) if it is ``queued``; the row
        as it is otherwise, ``None`` when there is no such capture.

        For a job queue whose jobs name their capture (team mode): the worker claims
        *that* row, under its row lock, rather than the oldest queued one.
        """
        with self._write() as conn:
            row = find_capture(conn, capture_id, lock=True)
            if row is None or row.status != "queued":
                return row
            conn.execute(
                "UPDATE captures SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (started_at, capture_id),
            )
            return require_capture(conn, capture_id)

    def requeue_capture(self, capture_id: str, *, reason: str) -> CaptureRow:
        """Put a ``running`` capture back in the queue (after a crash), saying why."""
        with self._write() as conn:
            current = require_capture(conn, capture_id, lock=True)
            if current.status != "running":
                raise StateConflict(f"cannot requeue capture {capture_id}: it is {current.status}")
            conn.execute(
                "UPDATE captures SET status = 'queued', reasons = ? WHERE id = ?",
                (reasons_json([*current.reasons, reason]), capture_id),
            )
            return require_capture(conn, capture_id)


def _enqueue(conn: Session, item: QueuedRequest, case_name: str | None) -> tuple[CaptureRow, bool]:
    """Queue one item inside the caller's transaction, or return the capture already active
    for the same URL in the same case (under no case: of the same collector).

    Never another case's: the capture handed back is one its asker may see, and a URL
    being captured for one case is still captured for another.
    """
    case_id = ensure_case_row(conn, case_name).id if case_name is not None else None
    active = conn.execute(
        CAPTURE_SELECT + " WHERE captures.url = ? AND captures.status IN ('queued', 'running')"
        " AND captures.case_id IS NOT DISTINCT FROM ?"
        " AND (captures.case_id IS NOT NULL OR captures.collector IS NOT DISTINCT FROM ?)"
        " ORDER BY captures.created_at LIMIT 1",
        (item.url, case_id, item.collector),
    ).fetchone()
    if active is not None:
        return capture_row(active), False
    conn.execute(
        "INSERT INTO captures (id, url, case_id, note, operator, status, request,"
        " created_at, collector, device) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
        (
            item.capture_id,
            item.url,
            case_id,
            item.note,
            item.operator,
            json.dumps(item.request, ensure_ascii=False),
            now_rfc3339(),
            item.collector,
            item.device,
        ),
    )
    if item.lent_cookies:
        keep_lent_cookies(conn, item.capture_id, item.lent_cookies)
    return require_capture(conn, item.capture_id), True
