"""Legal hold on a case: nothing of it may be deleted while it lasts, whatever its retention.

A hold is the catalog's (``case_holds``, which deletion consults) and, on an object
store, the bucket's too: every version of every object of the case's captures gets S3's
legal hold, so not even someone with the bucket's keys can delete it. Each hold and
release is a custody event (``held`` / ``released``) naming the sealed captures it
covered and how many stored objects it reached, written in one step with the catalog's
change. The case's name and the reason are in the catalog's hold and only their SHA-256
in the event: an export carries other cases' events, and those say no case names
(docs/evidence.md).

Order: the bucket, then the catalog and custody, then the bucket again.

1. Every object the bucket holds for the case's captures (sealed, running or failed)
   is held. A failure here leaves no record of a hold that is not there.
2. The hold is committed in the catalog, with its custody event. Asked again for a
   case already held, the command is refused here, after step 1 has set the hold on
   every object once more: running it again repairs a hold that did not reach
   everything (a failure in step 3, or in a worker's own late hold).
3. After the commit, the case's captures are listed again and every object of them
   that step 1 did not reach is held too; what that reached is one more custody event
   (``after_commit: true``).

Why no object of a held case stays unheld, with a capture uploading while the hold is
set (:meth:`archive.objectstore.ObjectStore` ``_send``): the store reads the hold
from the catalog before each upload (at time *p*) and uploads held if it is on; else,
after the upload is verified and its version recorded (committed at *r*), it reads the
hold once more (at *c* > *r*) and holds that version if it is on now. Let *h* be the
commit of step 2 and *l* > *h* the listing of step 3. If *p* > *h*, or *c* > *h*, the
store saw the committed hold and the object is held. Otherwise *c* < *h*: the upload
had finished (the bucket answered) before *r* < *c* < *h* < *l*, and the capture's row
(with its case, which never changes) was written before its first upload, so step 3's
listings, made after *h*, name both the capture and the object (S3 lists what it has
answered for: AWS promises read-after-write for listings, SeaweedFS writes the filer
entry before it answers the PUT). Every case is covered by one of the two looks; each
is a plain read in its own transaction (READ COMMITTED sees every commit before it).

A release racing with an upload can leave an object held that its case no longer is:
the safe side (nothing is ever deleted by it), and the bucket's hold on it stays until
someone releases it; step 3 lifts every one it can list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from archive.catalog import CaptureRow, CaseHold, NotInCatalog, StateConflict, validate_case_name
from archive.datadir import Archive
from archive.errors import BadInput
from archive.evidence.custody_events import Event
from archive.hashing import sha256_bytes


class HeldVersion(Protocol):
    """One object version a store's hold reached."""

    @property
    def key(self) -> str: ...

    @property
    def version_id(self) -> str: ...


@runtime_checkable
class HoldingStore(Protocol):
    """A store that can itself refuse deletes of a capture's files (S3 legal hold)."""

    def set_legal_hold(
        self,
        capture_ids: list[str],
        on: bool,
        *,
        may_be_empty: Collection[str] = (),
        skip: Collection[tuple[str, str]] = (),
    ) -> Sequence[HeldVersion]: ...


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
    rows = _kept(archive, name)
    sealed = tuple(row.id for row in rows if row.manifest_sha256)
    first = _bucket(archive, rows, held, skip=set())
    details = {
        "case_sha256": sha256_bytes(name.encode()),
        "reason_sha256": sha256_bytes(reason.encode()),
    }
    outcome: list[CaseHold | None] = []
    try:
        event = archive.custody.append(
            "held" if held else "released",
            actor=operator,
            captures=sealed,
            details={**details, "stored_objects": None if first is None else len(first)},
            together_with=lambda: outcome.append(
                archive.catalog.set_case_hold(name, held, operator=operator, reason=reason)
            ),
        )
    except StateConflict as exc:
        if first is None:
            raise
        verb = "set" if held else "lifted"
        raise StateConflict(
            f"{exc}; the bucket's hold was {verb} again on its {len(first)} stored object(s)"
        ) from exc
    late = _after_commit(archive, name, held, operator, details, first)
    objects = None if first is None else len(first) + late
    return HoldChange(name, held, sealed, objects, event, outcome[0])


def _kept(archive: Archive, case: str) -> list[CaptureRow]:
    """The case's captures that were not deleted (nothing of a deleted one is left)."""
    return [row for row in archive.catalog.list_captures(case=case) if row.deleted_at is None]


def _bucket(
    archive: Archive, rows: list[CaptureRow], held: bool, *, skip: set[tuple[str, str]]
) -> set[tuple[str, str]] | None:
    """The bucket's hold set (or lifted) on every object of ``rows`` not in ``skip``; the
    ``(key, version)`` pairs reached, or ``None`` for a store without holds. A sealed
    capture with no object is refused (a hold that covers nothing is no hold)."""
    if not isinstance(archive.store, HoldingStore):
        return None
    unsealed = {row.id for row in rows if not row.manifest_sha256}
    reached = archive.store.set_legal_hold(
        [row.id for row in rows], held, may_be_empty=unsealed, skip=skip
    )
    return {(state.key, state.version_id) for state in reached}


def _after_commit(
    archive: Archive,
    name: str,
    held: bool,
    operator: str,
    details: dict[str, str],
    first: set[tuple[str, str]] | None,
) -> int:
    """Step 3: the case's captures listed again after the commit, and every object that
    step 1 did not reach held (or released); one custody event for what it reached."""
    if first is None:
        return 0
    late: dict[str, int] = {}
    for row in _kept(archive, name):
        reached = _bucket(archive, [row], held, skip=first)
        if reached:
            late[row.id] = len(reached)
    if late:
        archive.custody.append(
            "held" if held else "released",
            actor=operator,
            captures=tuple(late),
            details={**details, "stored_objects": sum(late.values()), "after_commit": True},
        )
    return sum(late.values())


def hold_held_cases(archive: Archive) -> int:
    """The bucket's legal hold set on every object of every case the catalog holds (for
    files uploaded before the catalog said so: ``migrate`` seals the files, then copies
    the rows); how many object versions it reached (0 for a store without holds)."""
    if not isinstance(archive.store, HoldingStore):
        return 0
    reached = 0
    for hold in archive.catalog.case_holds():
        rows = _kept(archive, hold.case)
        found = _bucket(archive, rows, True, skip=set())
        reached += len(found or ())
    return reached
