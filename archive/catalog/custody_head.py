"""The custody log's head: the ``(seq, hash)`` of the last custody event written.

Kept in the catalog as well as at the end of ``DATA/custody.jsonl``, so a log that
was truncated or rewritten no longer ends where the catalog says it does. The head
only moves forward.
"""

from __future__ import annotations

from archive.catalog.connection import CatalogConnection
from archive.catalog.shared import StateConflict
from archive.timeutil import now_rfc3339


class CustodyHeadTables(CatalogConnection):
    """The custody log's head in the catalog. Part of :class:`archive.catalog.Catalog`."""

    def custody_head(self) -> tuple[int, str] | None:
        """The ``(seq, hash)`` of the last custody event recorded, or ``None`` before any."""
        with self._read() as conn:
            row = conn.execute("SELECT seq, hash FROM custody_head WHERE id = 1").fetchone()
        return (int(row["seq"]), str(row["hash"])) if row is not None else None

    def set_custody_head(self, seq: int, hash: str) -> None:
        """Move the custody head forward to ``(seq, hash)``; never back or sideways.

        The head only grows: a lower or equal ``seq`` means two writers disagree about
        the log, which must be looked at, not overwritten.
        """
        with self._write() as conn:
            row = conn.execute(
                "SELECT seq, hash FROM custody_head WHERE id = 1" + conn.lock_rows("custody_head")
            ).fetchone()
            if row is not None and seq <= row["seq"]:
                raise _backwards(row["seq"], seq)
            # The WHERE holds the rule even for two first heads written at once (no row
            # to lock yet): the second one's update is refused, not applied.
            moved = conn.execute(
                "INSERT INTO custody_head (id, seq, hash, updated_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " updated_at = excluded.updated_at WHERE custody_head.seq < excluded.seq",
                (seq, hash, now_rfc3339()),
            ).rowcount
            if moved != 1:
                current = conn.execute("SELECT seq FROM custody_head WHERE id = 1").fetchone()
                raise _backwards(current["seq"], seq)


def _backwards(current: int, seq: int) -> StateConflict:
    return StateConflict(
        f"refusing to move the custody head from seq {current} to seq {seq}:"
        " the head only moves forward"
    )
