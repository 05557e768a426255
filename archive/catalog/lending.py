"""Cookies lent for a queued capture, kept sealed in a shared catalog until a worker takes them.

An investigator may lend the site's cookies for one capture. An embedded server holds
them in memory only; in team mode the capture runs on another machine, so the server
seals them (encrypts them under the team's lending key, bound to the capture's id:
``capture.lending``) and the catalog keeps the ciphertext beside the queued row, written
in the row's own transaction (:meth:`QueueTables.enqueue_captures`). The catalog never
sees them in the clear and never opens them: here they are bytes.

They are handed over once: the worker that claims the capture takes them in the
claim's transaction (``DELETE ... RETURNING``), so from the moment a capture runs its
cookies are no longer in the catalog. A row whose capture is no longer queued (ended
by another path) is dropped by :meth:`LendingTables.drop_unclaimed_cookies`.

Only a shared catalog (PostgreSQL, ``Catalog.shared``) has the table; SQLite's has none.
"""

from __future__ import annotations

from archive.catalog.connection import CatalogConnection
from archive.catalog.session import Session
from archive.catalog.shared import CatalogError
from archive.timeutil import now_rfc3339


class LendingNotShared(CatalogError):
    """Cookies were to be kept in a catalog that keeps none (SQLite): a caller's mistake."""


class LendingTables(CatalogConnection):
    """Sealed lent cookies of queued captures. Part of :class:`archive.catalog.Catalog`."""

    def take_lent_cookies(self, capture_id: str) -> bytes | None:
        """The sealed cookies lent for ``capture_id``, deleted as they are read (once);
        ``None`` when none are kept. Call it in the claim's transaction
        (:meth:`CatalogConnection.transaction`)."""
        self._require_shared("take lent cookies")
        with self._write() as conn:
            row = conn.execute(
                "DELETE FROM lent_cookies WHERE capture_id = ? RETURNING sealed", (capture_id,)
            ).fetchone()
        return bytes(row["sealed"]) if row is not None else None

    def drop_lent_cookies(self, capture_id: str) -> bool:
        """Any cookies still kept for ``capture_id`` deleted; whether there were any."""
        if not self.shared:
            return False
        with self._write() as conn:
            gone = conn.execute("DELETE FROM lent_cookies WHERE capture_id = ?", (capture_id,))
            return gone.rowcount > 0

    def drop_unclaimed_cookies(self) -> int:
        """Cookies of captures no longer queued (ended without a claim) deleted; how many."""
        if not self.shared:
            return 0
        with self._write() as conn:
            gone = conn.execute(
                "DELETE FROM lent_cookies WHERE capture_id NOT IN"
                " (SELECT id FROM captures WHERE status = 'queued')"
            )
            return gone.rowcount

    def _require_shared(self, what: str) -> None:
        if not self.shared:
            raise LendingNotShared(
                f"cannot {what}: catalog {self.path} is SQLite, which keeps no lent cookies"
                " (an embedded server holds them in memory); this is a bug in the caller"
            )


def keep_lent_cookies(conn: Session, capture_id: str, sealed: bytes) -> None:
    """The sealed cookies of a capture just queued, inside the queueing transaction."""
    conn.execute(
        "INSERT INTO lent_cookies (capture_id, sealed, lent_at) VALUES (?, ?, ?)",
        (capture_id, sealed, now_rfc3339()),
    )
