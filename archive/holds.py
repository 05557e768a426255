"""Legal hold on a case: nothing of it may be deleted while it lasts, whatever its retention.

A hold is the catalog's (``case_holds``, which deletion consults) and, on an object
store, the bucket's too: every version of every sealed capture of the case gets S3's
legal hold, so not even someone with the bucket's keys can delete it. Each hold and
release is a custody event (``held`` / ``released``) naming the captures it covered
and how many stored objects it reached, written in one step with the catalog's change.
The case's name and the reason are in the catalog's hold and only their SHA-256 in the
event: an export carries other cases' events, and those say no case names
(docs/evidence.md).

Order: the bucket first, then the catalog and custody. A failure at the bucket leaves
no record of a hold that is not there; a failure after it leaves objects held that the
catalog does not yet call held (the safe side), and running the command again
finishes it, since setting a hold the bucket already has changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from archive.catalog import CaseHold, NotInCatalog, validate_case_name
from archive.datadir import Archive
from archive.errors import BadInput
from archive.evidence.custody_events import Event
from archive.hashing import sha256_bytes


@runtime_checkable
class HoldingStore(Protocol):
    """A store that can itself refuse deletes of a capture's files (S3 legal hold)."""

    def set_legal_hold(self, capture_ids: list[str], on: bool) -> list[object]: ...


@dataclass(frozen=True)
class HoldChange:
    """What a hold or a release did: the case, its sealed captures, the objects reached."""

    case: str
    held: bool
    captures: tuple[str, ...]
    #: Object versions whose S3 legal hold was set or lifted (``None``: a file store).
    objects: int | None
    event: Event
    hold: CaseHold | None


def hold_case(archive: Archive, name: str, *, operator: str, reason: str) -> HoldChange:
    """Put case ``name`` on legal hold; refused when it already is (StateConflict)."""
    return _change(archive, name, True, operator=operator, reason=reason)


def release_case(archive: Archive, name: str, *, operator: str, reason: str) -> HoldChange:
    """Release case ``name``'s legal hold; refused when it is not held (StateConflict)."""
    return _change(archive, name, False, operator=operator, reason=reason)


def _change(archive: Archive, name: str, held: bool, *, operator: str, reason: str) -> HoldChange:
    if not reason.strip():
        raise BadInput(f"holding or releasing case {name!r} needs a reason (--reason TEXT)")
    name = validate_case_name(name)
    if name not in {case.name for case in archive.catalog.list_cases()}:
        raise NotInCatalog(f"no case {name!r} in the catalog: check the name (osint-capture list)")
    sealed = tuple(
        row.id
        for row in archive.catalog.list_captures(case=name)
        if row.manifest_sha256 and row.deleted_at is None  # nothing of a deleted one is left
    )
    objects = None
    if isinstance(archive.store, HoldingStore):
        objects = len(archive.store.set_legal_hold(list(sealed), held))
    outcome: list[CaseHold | None] = []
    event = archive.custody.append(
        "held" if held else "released",
        actor=operator,
        captures=sealed,
        details={
            "case_sha256": sha256_bytes(name.encode()),
            "reason_sha256": sha256_bytes(reason.encode()),
            "stored_objects": objects,
        },
        together_with=lambda: outcome.append(
            archive.catalog.set_case_hold(name, held, operator=operator, reason=reason)
        ),
    )
    return HoldChange(name, held, sealed, objects, event, outcome[0])
