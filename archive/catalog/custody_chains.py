"""Custody chains in the catalog (team mode): each chain's head row, its events as bytes,
and the anchors' token files.

Many writers on many machines append to one chain; what keeps the chain a line, never a
fork, is the head row: an append locks it (``SELECT ... FOR NO KEY UPDATE`` on
PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` transaction is the lock), reads the last
event, inserts the next one and moves the head, all in the caller's
:meth:`~archive.catalog.connection.CatalogConnection.transaction`, which also holds the
catalog change the event records. The second writer waits on the lock and then builds on
the first one's event. What the events say and how they are hashed is
:mod:`archive.evidence.custody_db`'s; this module only stores bytes and moves heads.

Each event is kept as its exact canonical bytes (``BLOB``/``BYTEA``): JSON columns
re-encode (``jsonb`` reorders keys), and the hash is over these bytes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from archive.catalog.connection import CatalogConnection
from archive.catalog.shared import CatalogError, StateConflict
from archive.timeutil import now_rfc3339


@dataclass(frozen=True)
class StoredEvent:
    """One row of ``custody_events``: the columns, and the bytes as stored."""

    chain: str
    seq: int
    hash: str
    line: bytes


@dataclass(frozen=True)
class ChainHead:
    """A chain's head row (``seq`` 0 before its first event) and its last stored event."""

    chain: str
    seq: int
    hash: str
    last: StoredEvent | None


@dataclass(frozen=True)
class AnchorFile:
    """An anchor's token file, sealed in the store and listed here."""

    name: str
    chain: str
    seq: int
    token_sha256: str


class CustodyChainTables(CatalogConnection):
    """Custody chains, their events and anchors. Part of :class:`archive.catalog.Catalog`."""

    # -- writing (inside CatalogConnection.transaction) ---------------------------------------

    def lock_custody_chain(self, chain: str, genesis: str) -> ChainHead:
        """Lock ``chain``'s head row until the transaction ends (made at seq 0 with hash
        ``genesis`` if new) and return it with the chain's last stored event.

        Only inside :meth:`transaction`: a lock that ended with its own statement would
        let two writers build on the same head.
        """
        self._require_transaction("lock a custody chain")
        with self._write() as conn:
            # A new chain's row: a second writer's insert waits for the first to commit,
            # then does nothing, and both lock the one row below.
            conn.execute(
                "INSERT INTO custody_chains (chain, seq, hash, updated_at) VALUES (?, 0, ?, ?)"
                " ON CONFLICT (chain) DO NOTHING",
                (chain, genesis, now_rfc3339()),
            )
            head = conn.execute(
                "SELECT seq, hash FROM custody_chains WHERE chain = ?"
                + conn.lock_rows("custody_chains"),
                (chain,),
            ).fetchone()
            last = conn.execute(
                "SELECT chain, seq, hash, line FROM custody_events WHERE chain = ?"
                " ORDER BY seq DESC LIMIT 1",
                (chain,),
            ).fetchone()
        return ChainHead(chain, int(head["seq"]), str(head["hash"]), _stored(last))

    def add_custody_event(self, event: StoredEvent, *, after_seq: int) -> None:
        """Insert ``event`` and move its chain's head to it from ``after_seq``; inside the
        :meth:`transaction` that locked the chain. The head only moves forward by one."""
        self._require_transaction("add a custody event")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO custody_events (chain, seq, hash, line) VALUES (?, ?, ?, ?)",
                (event.chain, event.seq, event.hash, event.line),
            )
            moved = conn.execute(
                "UPDATE custody_chains SET seq = ?, hash = ?, updated_at = ?"
                " WHERE chain = ? AND seq = ?",
                (event.seq, event.hash, now_rfc3339(), event.chain, after_seq),
            ).rowcount
        if moved != 1 or event.seq != after_seq + 1:
            raise StateConflict(
                f"refusing to move custody chain {event.chain!r} from seq {after_seq} to"
                f" seq {event.seq}: its head is not where the event was built on"
            )

    def lock_custody_anchoring(self, chain: str) -> None:
        """Hold the lock on anchoring ``chain`` until the transaction ends, so two machines
        never pick one anchor name (on SQLite the write transaction is that lock)."""
        self._require_transaction("lock a chain's anchoring")
        with self._write() as conn:
            conn.lock_key(f"custody anchors {chain}")

    def add_custody_anchor(self, anchor: AnchorFile) -> None:
        """List a sealed anchor token (in the transaction that appends its event)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO custody_anchors (name, chain, seq, token_sha256, recorded_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (anchor.name, anchor.chain, anchor.seq, anchor.token_sha256, now_rfc3339()),
            )

    def _require_transaction(self, what: str) -> None:
        if not self.in_transaction():
            raise CatalogError(f"cannot {what} outside Catalog.transaction(): nothing would hold")

    # -- reading ----------------------------------------------------------------------------

    def custody_chain_events(self, chain: str) -> list[StoredEvent]:
        """Every stored event of ``chain``, in the order of the ``seq`` column."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT chain, seq, hash, line FROM custody_events WHERE chain = ? ORDER BY seq",
                (chain,),
            ).fetchall()
        return [event for event in map(_stored, rows) if event is not None]

    def custody_chain_pages(
        self, chain: str, *, after_seq: int = 0, upto: int | None = None, page: int = 500
    ) -> Iterator[StoredEvent]:
        """``chain``'s stored events past ``after_seq`` (to ``upto`` when given), in seq
        order, read ``page`` rows at a time: a chain of millions of events is never held
        whole (``migrate``'s imported log, its verification)."""
        while True:
            sql = "SELECT chain, seq, hash, line FROM custody_events WHERE chain = ? AND seq > ?"
            params: list[object] = [chain, after_seq]
            if upto is not None:
                sql += " AND seq <= ?"
                params.append(upto)
            with self._read() as conn:
                rows = conn.execute(sql + " ORDER BY seq LIMIT ?", [*params, page]).fetchall()
            for row in rows:
                stored = _stored(row)
                if stored is not None:
                    yield stored
            if len(rows) < page:
                return
            after_seq = int(rows[-1]["seq"])

    def custody_chain_lines_at(self, chain: str, seqs: Collection[int]) -> dict[int, bytes]:
        """The stored lines of ``chain`` at ``seqs`` (those it holds), by seq."""
        found: dict[int, bytes] = {}
        wanted = sorted(set(seqs))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" for _ in part)
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT seq, line FROM custody_events WHERE chain = ? AND seq IN ({marks})",
                    [chain, *part],
                ).fetchall()
            found.update((int(row["seq"]), bytes(row["line"])) for row in rows)
        return found

    def custody_chain_end(self, chain: str) -> int:
        """The highest seq stored for ``chain`` (0 when it holds none)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT MAX(seq) AS seq FROM custody_events WHERE chain = ?", (chain,)
            ).fetchone()
        return int(row["seq"]) if row is not None and row["seq"] is not None else 0

    def custody_chain_heads(self) -> dict[str, tuple[int, str]]:
        """Every chain's head row, ``(seq, hash)`` by chain name."""
        with self._read() as conn:
            rows = conn.execute("SELECT chain, seq, hash FROM custody_chains").fetchall()
        return {str(row["chain"]): (int(row["seq"]), str(row["hash"])) for row in rows}

    def custody_event_chains(self) -> list[str]:
        """Every chain that holds events, head row or not (a deleted head still shows)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT chain FROM custody_chains UNION SELECT chain FROM custody_events"
            ).fetchall()
        return sorted(str(row["chain"]) for row in rows)

    def custody_anchor_files(self, chain: str) -> list[AnchorFile]:
        """The anchor tokens listed for ``chain``, by name."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, chain, seq, token_sha256 FROM custody_anchors WHERE chain = ?"
                " ORDER BY name",
                (chain,),
            ).fetchall()
        return [
            AnchorFile(str(r["name"]), str(r["chain"]), int(r["seq"]), str(r["token_sha256"]))
            for r in rows
        ]

    def capture_cases(self, capture_ids: list[str]) -> dict[str, str | None]:
        """Each known capture's case name (``None``: no case); unknown ids are left out."""
        if not capture_ids:
            return {}
        marks = ", ".join("?" for _ in capture_ids)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT captures.id AS id, cases.name AS case_name FROM captures"
                f" LEFT JOIN cases ON cases.id = captures.case_id WHERE captures.id IN ({marks})",
                list(capture_ids),
            ).fetchall()
        return {str(row["id"]): row["case_name"] for row in rows}


def _stored(row: object) -> StoredEvent | None:
    if row is None:
        return None
    line = row["line"]  # type: ignore[index]
    return StoredEvent(
        str(row["chain"]),  # type: ignore[index]
        int(row["seq"]),  # type: ignore[index]
        str(row["hash"]),  # type: ignore[index]
        bytes(line),
    )
