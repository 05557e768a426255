"""The access log: who viewed, downloaded, replayed or exported which capture, and when.

Custody says what was done *to* the evidence; this says who *looked* at it, so that an
auditor can answer "who opened this video" (docs/access.md). Each access is one event
of exactly custody's form (:mod:`archive.evidence.custody_events`: same fields,
canonical bytes and hashes), kept as the one chain ``access``
(:data:`archive.evidence.chain_names.ACCESS_CHAIN`) in the catalog's chain tables, and
written, checked and anchored by the very code that keeps team mode's custody chains
(:mod:`archive.evidence.custody_db`, :mod:`archive.evidence.chain_check`,
:mod:`archive.evidence.chain_anchors`). Seq 1 is the ``chain-opened`` event naming it.

One implementation on both engines: an embedded SQLite catalog has those tables too
(migration 9), so a laptop's access log is a chain in its catalog, not a second file
with a head of its own beside ``custody.jsonl``. An append is one transaction (the event
and its head commit together), so there is no torn line to repair nor head to reconcile,
and ``verify`` is as strict as for a team chain: an edited, removed, inserted or
reordered event, or a head moved back, is named. Anchors are sealed through the
archive's store in their own folder, ``access-anchors`` (so an embedded
``DATA/anchors/`` stays the file log's alone), and listed in the catalog; the server's
anchoring duty anchors this chain as it anchors custody.

An event: ``action`` one of :data:`ACCESS_ACTIONS`, ``actor`` the person's account,
``captures`` what was opened, ``details`` the device they came through (``device``)
and what was served where known (``file``, ``sha256``, ``size``). It holds no page
content, no URL and no case name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from archive.catalog import Catalog
from archive.evidence.chain_names import ACCESS_CHAIN, OPENING_ACTION
from archive.evidence.custody_db import ChainLog, DbCustodyLog
from archive.evidence.custody_events import Event, check_content
from archive.evidence.custody_report import CustodyReport
from archive.evidence.tsa_roots import TrustStore
from archive.sealed_store import SealedStore

#: What the access log records (its chain also holds ``chain-opened`` and ``anchored``).
ACCESS_ACTIONS = ("viewed", "downloaded", "replayed", "exported")
#: The store folder of the access log's anchors (``DATA/access-anchors/`` in embedded mode).
ACCESS_ANCHORS_DIR = "access-anchors"
#: How a verdict names the log, and what anchors it now.
TITLE = "access log"
ANCHOR_HINT = "osint-capture access-log anchor --tsa URL"


@dataclass(frozen=True)
class Access:
    """One access as the ``access-log`` command shows it: who, how, what, when."""

    seq: int
    time: str
    action: str
    user: str
    device: str | None
    captures: tuple[str, ...]
    details: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> Access:
        device = event.details.get("device")
        return cls(
            seq=event.seq,
            time=event.time,
            action=event.action,
            user=event.actor,
            device=device if isinstance(device, str) else None,
            captures=event.captures,
            details={k: v for k, v in event.details.items() if k != "device"},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "action": self.action,
            "user": self.user,
            "device": self.device,
            "captures": list(self.captures),
            "details": self.details,
        }


class AccessLog:
    """The access log of one archive, over its catalog (SQLite or PostgreSQL)."""

    def __init__(self, catalog: Catalog, store: SealedStore) -> None:
        self._chains = DbCustodyLog(catalog, store)
        #: The chain itself: what anchoring (:mod:`archive.evidence.anchoring`) takes.
        self.chain: ChainLog = self._chains.chain(ACCESS_CHAIN, anchors_folder=ACCESS_ANCHORS_DIR)

    def record(
        self,
        action: str,
        *,
        actor: str,
        device: str,
        captures: Sequence[str],
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Record that ``actor`` (through ``device``) did ``action`` to ``captures``.

        Blocking (one catalog transaction): call it from a thread in async code. Refuses
        (:class:`ValueError`) an unknown action, no capture, and details that name a
        device of their own.
        """
        if action not in ACCESS_ACTIONS:
            raise ValueError(f"an access is one of {ACCESS_ACTIONS}, not {action!r}")
        if isinstance(captures, str) or not captures:
            raise ValueError(f"an access is of one or more captures, not {captures!r}")
        given = dict(details or {})
        if "device" in given:
            raise ValueError("the device is given as device=, not in details")
        if not isinstance(device, str) or not device.strip():
            raise ValueError(f"device must name how the person came in, not {device!r}")
        checked, content = check_content(actor, captures, {**given, "device": device})
        return self._chains.append_checked(
            ACCESS_CHAIN, action, actor=actor, captures=checked, details=content
        )

    def entries(self, *, capture: str | None = None, user: str | None = None) -> list[Access]:
        """Every access in order (only of ``capture``, only by ``user``, when given), as
        stored; not verified (:meth:`verify` says whether the log can be trusted)."""
        found = []
        for event in self.chain.events():
            if event.action in (OPENING_ACTION, "anchored"):
                continue
            if capture is not None and capture not in event.captures:
                continue
            if user is not None and event.actor != user:
                continue
            found.append(Access.of(event))
        return found

    def verify(self, trust: TrustStore | None = None) -> CustodyReport:
        """Every event, link, the head and every anchor of the log, as custody's verdict
        (:class:`~archive.evidence.custody_report.CustodyReport`), named the access log."""
        report = self.chain.verify(trust or TrustStore.load())
        return replace(report, title=TITLE, anchor_hint=ANCHOR_HINT)
