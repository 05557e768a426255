"""What every custody log offers, whichever keeps it: the one interface callers hold.

Two logs stand behind it: :class:`archive.evidence.custody.CustodyLog`
(``DATA/custody.jsonl``, one chain, flock: the embedded default) and
:class:`archive.evidence.custody_db.DbCustodyLog` (the catalog's database, one chain per
case, row locks: team mode). :class:`archive.datadir.Archive` picks the database log for
a PostgreSQL catalog and the file log for SQLite. Their events are the same bytes, so an
export's slice verifies the same way from either (:func:`archive.evidence.custody_lines.
verify_slice`). tests/test_custody_contract.py runs the same tests over both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from archive.evidence.checks import Check, Outcome
from archive.evidence.custody_events import Event
from archive.evidence.tsa_roots import TrustStore
from archive.sealed_store import SealedStore


class CustodyVerdict(Protocol):
    """What ``verify`` found: a :class:`~archive.evidence.custody_report.CustodyReport` for
    one chain, a :class:`~archive.evidence.chain_check.ChainsReport` for all of them."""

    @property
    def ok(self) -> bool:
        """Intact: no problem in any line, link, head or anchor."""
        ...

    @property
    def outcome(self) -> Outcome: ...

    def checks(self) -> list[Check]: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class Custody(Protocol):
    """The chain of custody of one archive (see the module docstring)."""

    store: SealedStore

    def append(
        self,
        action: str,
        *,
        actor: str,
        captures: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
        together_with: Callable[[], object] | None = None,
    ) -> Event:
        """Record one event durably, with ``together_with``'s catalog change: both, or
        (as far as the log can promise) neither."""
        ...

    def reconcile_head(self) -> tuple[int, str] | None:
        """Settle a head left behind by a crash (file log); nothing to do in a database."""
        ...

    def repair(self, *, actor: str = ...) -> Event | None:
        """Move a torn last line aside (file log); ``None`` when nothing is torn."""
        ...

    def verify(self, trust: TrustStore | None = None, *, case: str | None = None) -> CustodyVerdict:
        """Every event, link, head and anchor; ``case`` narrows it to that case's chain
        where cases have chains of their own."""
        ...

    def events(self, capture_id: str | None = None) -> Iterator[Event]:
        """The events as stored (only ``capture_id``'s if given); not verified."""
        ...

    def slice_for(self, capture_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The contiguous events an export of ``capture_ids`` carries, verified first."""
        ...

    def intact_events(self, purpose: str) -> list[dict[str, Any]]:
        """Every event as logged, once the log verifies (else refused, naming ``purpose``)."""
        ...
