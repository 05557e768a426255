"""One chain of the custody log in the catalog's database (team mode): what anchoring,
``verify --case`` and an export of a case read.

A chain is read so that appends committing meanwhile are left out rather than seen as
events past its head (:meth:`ChainLog._read`), and verified a page at a time: an
imported embedded log may hold millions of events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archive.evidence.anchors import ANCHORS_DIR
from archive.evidence.chain_check import check_chain, parsed
from archive.evidence.custody_events import CustodyError, CustodyTampered, Event
from archive.evidence.custody_report import CustodyReport
from archive.evidence.custody_scan import ChainSource, verify_chain
from archive.evidence.tsa_roots import TrustStore

if TYPE_CHECKING:
    from archive.evidence.custody_db import DbCustodyLog


class ChainLog:
    """One chain of a :class:`DbCustodyLog`: what anchoring and ``verify --case`` use."""

    def __init__(self, log: DbCustodyLog, name: str, *, anchors_folder: str = ANCHORS_DIR) -> None:
        self.log = log
        self.name = name
        self.store = log.store
        #: The store folder its anchors are sealed in (the access log's are apart, so
        #: an embedded ``DATA/anchors/`` holds the file log's alone).
        self.anchors_folder = anchors_folder

    @property
    def where(self) -> str:
        return f"chain {self.name} in {self.log.where}"

    def append(
        self,
        action: str,
        *,
        actor: str,
        captures: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """An event about no capture, on this chain (its anchors)."""
        if captures:
            raise ValueError("a chain's own events are about no capture; use DbCustodyLog.append")
        return self.log.append_to(self.name, action, actor=actor, details=details)

    def _read(self) -> tuple[list[bytes], tuple[int, str] | None]:
        """The stored lines and the head, read so that appends committing meanwhile
        are left out rather than seen as events past the head."""
        catalog = self.log.catalog
        head = _head(catalog.custody_chain_heads().get(self.name))
        rows = catalog.custody_chain_events(self.name)
        if rows and rows[-1].seq > (head[0] if head else 0):
            later = _head(catalog.custody_chain_heads().get(self.name))
            if head is not None and later is not None and later[0] >= rows[-1].seq:
                rows = [row for row in rows if row.seq <= head[0]]
        return [row.line for row in rows], head

    def verify(self, trust: TrustStore | None = None) -> CustodyReport:
        """Every line, link and the head of this chain, its opening, and its anchors;
        read a page at a time (an imported embedded log may hold millions of events)."""
        from archive.evidence.chain_anchors import StoreTokens

        catalog = self.log.catalog
        head = _head(catalog.custody_chain_heads().get(self.name))
        source = ChainSource(
            self.name,
            self.where,
            head,
            lambda: self._stream(head),
            lambda seqs: catalog.custody_chain_lines_at(self.name, seqs),
            StoreTokens(self.store, self.anchors_folder),
            [a.name for a in catalog.custody_anchor_files(self.name)],
        )
        return verify_chain(source, trust or TrustStore.load())

    def _stream(self, head: tuple[int, str] | None) -> Iterator[bytes]:
        """The stored lines up to ``head``, then any past it that appends committed since
        the head was read do not explain (those are a problem :meth:`verify` names)."""
        catalog = self.log.catalog
        upto = head[0] if head is not None else 0
        for row in catalog.custody_chain_pages(self.name, upto=upto):
            yield row.line
        end = catalog.custody_chain_end(self.name)
        if end > upto:
            later = _head(catalog.custody_chain_heads().get(self.name))
            if head is not None and later is not None and later[0] >= end:
                return
            for row in catalog.custody_chain_pages(self.name, after_seq=upto):
                yield row.line

    def events(self) -> Iterator[Event]:
        lines, _head_row = self._read()
        for number, line in enumerate(lines, start=1):
            try:
                yield Event.from_dict(json.loads(line))
            except ValueError as exc:
                raise CustodyError(f"{self.where}: line {number} is not an event: {exc}") from exc

    def intact_events(self, purpose: str) -> list[dict[str, Any]]:
        """This chain's events as stored, once every line, link and its head verify."""
        lines, head = self._read()
        log = check_chain(self.name, lines, head)
        if log.problems:
            report = CustodyReport.of(self.where, log, head)
            raise CustodyTampered(
                f"refusing {purpose} a custody chain that does not verify:\n" + report.summary()
            )
        return parsed(lines)


def _head(row: tuple[int, str] | None) -> tuple[int, str] | None:
    """A head row as the checks take it: ``None`` for a chain with no event yet."""
    return row if row is not None and row[0] > 0 else None
