"""Claiming one named capture: the catalog's queue claims only the oldest.

A procrastinate job names its capture, so the worker must claim *that* row, not the
oldest queued one (:meth:`archive.catalog.Catalog.claim_next_queued`). The catalog
has no call for it yet; until it does (``QueueTables.claim_queued``, for the lead to
add in ``archive/catalog/queue.py``), this is the one place outside the catalog package
that writes its SQL, through the catalog's own write transaction.
"""

from __future__ import annotations

from archive.catalog import CaptureRow, Catalog
from archive.catalog.shared import find_capture, require_capture


def claim_queued(catalog: Catalog, capture_id: str, *, started_at: str) -> CaptureRow | None:
    """Mark ``capture_id`` ``running`` (one attempt more) if it is ``queued``; the row
    as it is otherwise (``None`` when there is no such capture)."""
    with catalog._write() as conn:
        row = find_capture(conn, capture_id, lock=True)
        if row is None or row.status != "queued":
            return row
        conn.execute(
            "UPDATE captures SET status = 'running', started_at = ?, attempts = attempts + 1"
            " WHERE id = ?",
            (started_at, capture_id),
        )
        return require_capture(conn, capture_id)
