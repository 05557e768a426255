"""Deleted captures: the row that stays (a tombstone), and the version rows that go with
their objects.

Deleting a capture (:mod:`archive.deletion`) removes its files, never its row: the row
keeps its id, URL, status, manifest hash and artifacts (what was sealed, with hashes),
and gains when it was deleted, by whom and why. Its visible text leaves the search index
in the same transaction, since search would otherwise still show what was removed.

On an object store each removed object version's row leaves the version book right
after the bucket deletes that version, so the book stays what the bucket holds.
"""

from __future__ import annotations

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import FINISHED_STATUSES, CaptureRow, capture_row
from archive.catalog.shared import CAPTURE_SELECT, StateConflict, require_capture
from archive.timeutil import now_rfc3339


class TombstoneTables(CatalogConnection):
    """Deleted captures' tombstones. Part of :class:`archive.catalog.Catalog`."""

    def tombstone_capture(self, capture_id: str, *, by: str, reason: str) -> CaptureRow:
        """Mark a finished capture deleted (now, by ``by``, for ``reason``) and take its
        text out of the search index; the row and its artifacts stay.

        Refused (:class:`StateConflict`) for a queued or running capture and for one
        already deleted; :class:`~archive.catalog.NotInCatalog` for an unknown id.
        """
        if not by.strip() or not reason.strip():
            raise ValueError("a deletion names who asked for it and why")
        with self._write() as conn:
            current = require_capture(conn, capture_id, lock=True)
            if current.deleted_at is not None:
                raise StateConflict(
                    f"capture {capture_id} was already deleted at {current.deleted_at}"
                    f" by {current.deleted_by}"
                )
            if current.status not in FINISHED_STATUSES:
                raise StateConflict(
                    f"cannot delete capture {capture_id}: it is {current.status}; wait until"
                    " it has finished"
                )
            conn.execute(
                "UPDATE captures SET deleted_at = ?, deleted_by = ?, deletion_reason = ?"
                " WHERE id = ?",
                (now_rfc3339(), by, reason, capture_id),
            )
            conn.execute("DELETE FROM capture_text WHERE capture_id = ?", (capture_id,))
            conn.execute("DELETE FROM analysis_text WHERE capture_id = ?", (capture_id,))
            return require_capture(conn, capture_id)

    def forget_version(self, key: str, version_id: str) -> bool:
        """Remove ``key``'s row once the bucket has deleted that version (a deleted
        capture's object); whether there was one. Only the recorded version's row goes."""
        with self._write() as conn:
            gone = conn.execute(
                "DELETE FROM object_versions WHERE key = ? AND version_id = ?", (key, version_id)
            ).rowcount
        return gone == 1

    def deleted_captures(self) -> list[CaptureRow]:
        """Every tombstone, oldest deletion first (fsck explains what such a capture left)."""
        with self._read() as conn:
            rows = conn.execute(
                CAPTURE_SELECT + " WHERE captures.deleted_at IS NOT NULL"
                " ORDER BY captures.deleted_at, captures.id"
            ).fetchall()
        return [capture_row(row) for row in rows]
