"""The chain of custody in the catalog's database (team mode): many writers, many machines.

The same events as ``DATA/custody.jsonl`` (:mod:`archive.evidence.custody_events`: same
fields, same canonical bytes, same hashes), kept as rows of the catalog, one hash chain
per case (:mod:`archive.evidence.chain_names`). An append runs in one
:meth:`~archive.catalog.Catalog.transaction`: the catalog change the event records
(``together_with``: a capture sealed, a token kept), then for each chain the event
concerns, its head row locked, its last event read and checked, the new event inserted
and the head moved. Committed together, or not at all: there is no crash between a
capture's row and its event, and no head one event behind to reconcile or torn line to
repair. Two writers of one chain queue on its head row; writers of different cases never
wait for each other.

Checking a chain is :mod:`archive.evidence.chain_check`; an export carries its case's
chain from seq 1 (the ``chain-opened`` event that names it), which
:func:`~archive.evidence.custody_lines.verify_slice` checks offline exactly as a slice of
the file log. Anchors are sealed through the archive's store and listed in the catalog
(:mod:`archive.evidence.chain_anchors`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from archive.catalog import Catalog, CatalogError
from archive.catalog.custody_chains import ChainHead, StoredEvent
from archive.evidence.anchors import ANCHORS_DIR
from archive.evidence.chain_check import ChainsReport
from archive.evidence.chain_log import ChainLog
from archive.evidence.chain_names import (
    ACCESS_CHAIN,
    INSTALLATION_CHAIN,
    OPENING_ACTION,
    case_chain,
    opening_details,
)
from archive.evidence.custody_events import (
    ACTIONS,
    GENESIS,
    SYSTEM_ACTOR,
    CustodyError,
    CustodyTampered,
    Event,
    build_event,
    canonical_json,
    check_content,
    event_hash,
)
from archive.evidence.tsa_roots import TrustStore
from archive.sealed_store import SealedStore


class DbCustodyLog:
    """Every custody chain of a catalog; :meth:`chain` is one of them on its own."""

    def __init__(self, catalog: Catalog, store: SealedStore) -> None:
        self.catalog = catalog
        #: Where the anchors' tokens are sealed (folder ``anchors``), as every sealed file is.
        self.store = store

    @property
    def where(self) -> str:
        return f"the catalog {self.catalog.path}"

    def chain(self, name: str, *, anchors_folder: str = ANCHORS_DIR) -> ChainLog:
        """One chain, with the calls anchoring needs (appends go to it)."""
        return ChainLog(self, name, anchors_folder=anchors_folder)

    def chains(self) -> list[str]:
        """Every custody chain that holds events (or a head row), by name; the access
        log's chain, kept in the same tables, is not one (it has its own verify)."""
        return [name for name in self.catalog.custody_event_chains() if name != ACCESS_CHAIN]

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        action: str,
        *,
        actor: str,
        captures: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
        together_with: Callable[[], object] | None = None,
    ) -> Event:
        """Record one event, with ``together_with``'s catalog change, in one transaction.

        The event goes to the chain of its captures' case (the installation chain for
        none); captures of several cases put it on each of their chains, and the first
        chain's event (by name) is returned. Refuses (:class:`CustodyTampered`) a chain
        whose last event does not match its head or its own hash.
        """
        captures, details = _checked(action, actor, captures, details)
        with self._transaction():
            if together_with is not None:
                together_with()
            chains = self._chains_of(captures)
            events = [self._append_to(c, action, actor, captures, details) for c in chains]
        return events[0]

    def append_to(
        self,
        chain: str,
        action: str,
        *,
        actor: str,
        details: Mapping[str, Any] | None = None,
        together_with: Callable[[], object] | None = None,
    ) -> Event:
        """Record an event about no capture on ``chain`` (an anchor of that chain, a change
        of who belongs to that case), with ``together_with``'s catalog change."""
        _captures, details = _checked(action, actor, (), details)
        with self._transaction():
            if together_with is not None:
                together_with()
            return self._append_to(chain, action, actor, (), details)

    def append_checked(
        self,
        chain: str,
        action: str,
        *,
        actor: str,
        captures: tuple[str, ...],
        details: dict[str, Any],
    ) -> Event:
        """Record on ``chain`` an event its own log has checked by its own rules (the
        access log, whose actions are not custody's): one transaction, the head locked,
        the chain opened first if new, as every append here."""
        with self._transaction():
            return self._append_to(chain, action, actor, captures, details)

    def reconcile_head(self) -> tuple[int, str] | None:
        """Nothing to reconcile (an event and its head commit together); the
        installation chain's head, for the caller's log line."""
        head = self.catalog.custody_chain_heads().get(INSTALLATION_CHAIN)
        return head if head is not None and head[0] > 0 else None

    def repair(self, *, actor: str = SYSTEM_ACTOR) -> Event | None:
        """Nothing to repair: a transaction is never torn. Always ``None``."""
        check_content(actor, (), None)
        return None

    def _transaction(self) -> Any:
        try:
            return self.catalog.transaction()
        except CatalogError as exc:  # pragma: no cover - raised on entering, below
            raise CustodyError(f"custody: {exc}") from exc

    def _chains_of(self, captures: Sequence[str]) -> list[str]:
        if not captures:
            return [INSTALLATION_CHAIN]
        cases = self.catalog.capture_cases(list(captures))
        return sorted({case_chain(cases.get(capture)) for capture in captures})

    def _append_to(
        self,
        chain: str,
        action: str,
        actor: str,
        captures: Sequence[str],
        details: dict[str, Any],
    ) -> Event:
        """Inside the transaction: lock the head, check the last event, add the next."""
        last = _settled(self.catalog.lock_custody_chain(chain, GENESIS))
        if last is None:
            last = self._insert(
                chain, build_event(None, OPENING_ACTION, SYSTEM_ACTOR, (), opening_details(chain))
            )
        return self._insert(chain, build_event(last, action, actor, captures, details))

    def _insert(self, chain: str, event: Event) -> Event:
        stored = StoredEvent(chain, event.seq, event.hash, event.line())
        self.catalog.add_custody_event(stored, after_seq=event.seq - 1)
        return event

    # -- reading ----------------------------------------------------------------------------

    def verify(self, trust: TrustStore | None = None, *, case: str | None = None) -> Any:
        """Check one case's chain (a :class:`CustodyReport`), or every chain (a
        :class:`ChainsReport`)."""
        trust = trust or TrustStore.load()
        if case is not None:
            return self.chain(case_chain(case)).verify(trust)
        reports = tuple((name, self.chain(name).verify(trust)) for name in self.chains())
        return ChainsReport(self.where, reports)

    def events(self, capture_id: str | None = None) -> Iterator[Event]:
        """Every chain's events (chain by chain, each in seq order), or ``capture_id``'s
        (from its case's chain); as stored, not verified."""
        names = self.chains() if capture_id is None else self._chains_of([capture_id])
        for name in names:
            for event in self.chain(name).events():
                if capture_id is None or capture_id in event.captures:
                    yield event

    def slice_for(self, capture_ids: Iterable[str]) -> list[dict[str, Any]]:
        """An export's custody: the captures' case chain from its seq 1 (which names it)
        to its head, once it verifies; ``[]`` when no event concerns the captures.

        Refuses captures of several cases: an export carries one chain.
        """
        wanted = list(dict.fromkeys(capture_ids))
        chains = self._chains_of(wanted) if wanted else []
        if len(chains) > 1:
            raise CustodyError(
                f"refusing to export captures of {len(chains)} custody chains"
                f" ({', '.join(chains)}) in one package: team mode keeps one chain per case;"
                " export each case's captures on their own"
            )
        if not chains:
            return []
        events = self.chain(chains[0]).intact_events("to export")
        if not any(set(wanted).intersection(event["captures"]) for event in events):
            return []
        return events

    def intact_events(self, purpose: str) -> list[dict[str, Any]]:
        """Every chain's events (chain by chain), once every chain verifies (anchors aside)."""
        return [e for name in self.chains() for e in self.chain(name).intact_events(purpose)]

    # -- an embedded log carried over (``migrate``) -------------------------------------------

    def import_log(self, chain: str, lines: Iterable[bytes]) -> tuple[int, str]:
        """An embedded ``custody.jsonl``'s lines stored as ``chain``, byte for byte (their
        seq, prev and hash unchanged), inside the caller's transaction; its head.

        Refuses a chain that holds events already, and any line that is not its event's
        canonical bytes or does not follow the one before (the log was verified first;
        this is the copy's own check).
        """
        if not self.catalog.in_transaction():
            raise CustodyError("import_log runs inside catalog.transaction(): it commits whole")
        head = self.catalog.lock_custody_chain(chain, GENESIS)
        if head.seq != 0 or head.last is not None:
            raise CustodyError(f"chain {chain!r} holds events already: nothing is imported")
        last: tuple[int, str] = (0, GENESIS)
        for line in lines:
            obj = json.loads(line)
            event = Event.from_dict(obj)
            if line != canonical_json(obj) + b"\n" or event_hash(obj) != event.hash:
                raise CustodyTampered(f"{chain}: seq {event.seq} is not its canonical bytes")
            if (event.seq, event.prev) != (last[0] + 1, last[1]):
                raise CustodyTampered(f"{chain}: seq {event.seq} does not follow seq {last[0]}")
            self.catalog.add_custody_event(
                StoredEvent(chain, event.seq, event.hash, line), after_seq=last[0]
            )
            last = (event.seq, event.hash)
        return last

    def imported_slice_for(self, capture_ids: Iterable[str]) -> tuple[str, list[dict[str, Any]]]:
        """For an export of captures made before ``migrate``: the imported chain their
        case chain's ``migrated`` event names, from the first event about them to its head
        (the file log's own slice), once it verifies; ``("", [])`` when there is none."""
        wanted = set(capture_ids)
        chains = self._chains_of(sorted(wanted)) if wanted else []
        if len(chains) != 1:
            return "", []
        named = [
            e.details.get("imported_chain")
            for e in self.chain(chains[0]).events()
            if e.action == "migrated"
        ]
        if not named or not isinstance(named[0], str):
            return "", []
        events = self.chain(named[0]).intact_events("to export")
        first = next((i for i, e in enumerate(events) if wanted & set(e["captures"])), None)
        return (named[0], []) if first is None else (named[0], events[first:])


def _checked(
    action: str, actor: str, captures: Sequence[str], details: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], dict[str, Any]]:
    if action not in ACTIONS:
        raise ValueError(f"custody action must be one of {ACTIONS}, not {action!r}")
    if action in ("log-repaired", OPENING_ACTION):
        raise ValueError(f"{action} events are written by the custody log itself only")
    return check_content(actor, captures, details)


def _settled(head: ChainHead) -> Event | None:
    """The event to append after, once the chain's last stored event and its head agree."""
    last = head.last
    if last is None and head.seq == 0:
        return None
    damage = None
    event = None
    if last is None:
        damage = f"its head row says seq {head.seq} but it holds no event: deleted"
    else:
        try:
            obj = json.loads(last.line)
            event = Event.from_dict(obj)
        except ValueError as exc:
            damage = f"its last stored event is not an event ({exc})"
        else:
            if event_hash(obj) != event.hash or last.line != canonical_json(obj) + b"\n":
                damage = f"seq {event.seq} does not match its hash or its canonical bytes"
            elif (event.seq, event.hash) != (head.seq, head.hash):
                damage = (
                    f"it ends at seq {event.seq} but its head row says seq {head.seq}"
                    " (moved back, or events removed from the end)"
                )
    if damage is not None or event is None:
        raise CustodyTampered(
            f"custody chain {head.chain!r} is damaged: {damage}. Nothing is appended to it;"
            " `osint-capture custody verify` names every problem"
        )
    return event
