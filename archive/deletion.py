"""Deleting a capture the evidence way: refused while anything keeps it, else every byte
of it gone, a custody event naming what went, and its row left as a tombstone.

Only an admin deletes (the ``delete`` permission, docs/access.md), and always with a
reason. A deletion is refused (:class:`DeletionRefused`) while:

- the capture is queued or running, or one of its analysis runs is: new files would
  appear while the old ones went;
- its case is on legal hold (:mod:`archive.holds`), whatever the store;
- on an object store, any version of any of its objects is still under the bucket's
  Object Lock retention or legal hold (the bucket is asked, version by version). An
  embedded archive (a file store) has no retention period: nothing but a legal hold
  keeps its files, so the owner of a laptop can delete what they captured.

Otherwise, in this order:

1. every file is found and its SHA-256 and size noted (:mod:`archive.deletion_files`:
   the sealed files, or on an object store every version under the capture's prefix
   with the SHA-256 its row recorded at upload, and every local copy made from them);
2. the ``deleted`` custody event is written, naming the person (``actor``), their
   device, each file removed with its hash and size, and the SHA-256 of the reason,
   together with the tombstone (:meth:`archive.catalog.Catalog.tombstone_capture`: when,
   by whom, the reason itself; the capture's text leaves the search index);
3. the files go: unlinked, or each object version deleted by its id and its row then
   dropped from the version book.

Record first, remove second: a crash or a refusal in step 3 leaves a capture recorded as
deleted with some of its bytes still there (the safe side: nothing went unrecorded), and
``delete`` again finishes it with a second ``deleted`` event (``resumed``) naming what it
removed then. The reason's text is in the catalog's tombstone and only its SHA-256 in the
event: an export carries other captures' events, which say nothing of a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from archive.catalog import FINISHED_STATUSES, CaptureRow, NotInCatalog
from archive.datadir import Archive
from archive.deletion_files import LocalFile, Removed, local_files, remove_local
from archive.errors import BadInput, Conflict, Failed
from archive.evidence.custody_events import Event
from archive.hashing import sha256_bytes
from archive.people import Permission, Principal
from archive.store import FileStore
from archive.timeutil import utc_now

if TYPE_CHECKING:
    from archive.catalog import ObjectVersion
    from archive.objectstore.removal import StoredVersion


class DeletionRefused(Conflict):
    """The capture may not be deleted now: it is still running, its case is on legal
    hold, its objects are under retention, or nothing of it is left (exit 1, 409)."""


class DeletionIncomplete(Failed):
    """The deletion is recorded (custody event, tombstone) but some files or objects could
    not be removed; running ``delete`` again removes what is left."""


@dataclass
class Plan:
    """Everything of one capture that a deletion removes."""

    #: ``file`` (sealed files in the data directory) or ``s3`` (objects in a bucket).
    store: str
    local: list[LocalFile] = field(default_factory=list)
    #: Object versions in the bucket, each with its row in the version book (if any).
    objects: list[tuple[StoredVersion, ObjectVersion | None]] = field(default_factory=list)
    #: Rows whose version the bucket no longer holds (a deletion stopped between the two).
    stale_rows: list[ObjectVersion] = field(default_factory=list)

    def removed(self) -> list[Removed]:
        """What the custody event names: the objects, then the local files."""
        objects = [
            Removed(
                version.key,
                row.sha256 if row is not None else None,
                version.size,
                version_id=version.version_id,
            )
            for version, row in self.objects
        ]
        return [*objects, *(file.removed for file in self.local)]


@dataclass(frozen=True)
class Deletion:
    """What one deletion did: its custody event, what it removed, the tombstone."""

    capture_id: str
    event: Event
    removed: tuple[Removed, ...]
    resumed: bool
    tombstone: CaptureRow


def delete_capture(
    archive: Archive,
    capture_id: str,
    *,
    who: Principal,
    reason: str,
    now: datetime | None = None,
) -> Deletion:
    """Delete the capture's files for good, as the module doc says; what was done.

    Raises :class:`~archive.errors.Denied` without the ``delete`` permission,
    :class:`BadInput` without a reason, :class:`NotInCatalog` for an unknown id,
    :class:`DeletionRefused` (nothing done) and :class:`DeletionIncomplete` (recorded,
    but something is left: run again). Blocking: call it from a thread in async code.
    """
    who.require(Permission.DELETE)
    reason = reason.strip()
    if not reason:
        raise BadInput(f"deleting capture {capture_id} needs a reason (--reason TEXT)")
    row = archive.catalog.get_capture(capture_id)
    if row is None:
        raise NotInCatalog(f"no capture {capture_id} in the catalog: check the id (list)")
    _refuse_unfinished(archive, row)
    _refuse_held(archive, row)
    plan = _plan(archive, row, now or utc_now())
    resumed = row.deleted_at is not None
    if resumed and not plan.removed() and not plan.stale_rows:
        raise DeletionRefused(
            f"capture {capture_id} was deleted at {row.deleted_at} by {row.deleted_by};"
            " nothing of it is left to remove"
        )
    kept: list[CaptureRow] = []
    tombstone: Callable[[], object] | None = None
    if not resumed:

        def tombstone() -> object:
            kept.append(archive.catalog.tombstone_capture(capture_id, by=who.user, reason=reason))
            return kept[-1]

    event = archive.custody.append(
        "deleted",
        actor=who.actor,
        captures=[capture_id],
        details=_details(row, plan, who, reason, resumed=resumed),
        together_with=tombstone,
    )
    errors = _remove(archive, capture_id, plan)
    if errors:
        raise DeletionIncomplete(
            f"capture {capture_id} is recorded as deleted (custody event {event.seq}), but"
            f" {len(errors)} file(s) could not be removed: {'; '.join(errors)}. Run"
            f" `osint-capture delete {capture_id} --reason ...` again to remove them"
        )
    final = kept[-1] if kept else archive.catalog.get_capture(capture_id)
    assert final is not None
    return Deletion(capture_id, event, tuple(plan.removed()), resumed, final)


def _refuse_unfinished(archive: Archive, row: CaptureRow) -> None:
    if row.status not in FINISHED_STATUSES:
        raise DeletionRefused(
            f"capture {row.id} is {row.status}: wait until it has finished, then delete it"
        )
    busy = [r.number for r in archive.catalog.analyses(row.id) if r.status in ("queued", "running")]
    if busy:
        raise DeletionRefused(
            f"capture {row.id} has analysis run(s) {', '.join(map(str, busy))} queued or"
            " running: wait until they have finished, then delete it"
        )


def _refuse_held(archive: Archive, row: CaptureRow) -> None:
    if row.case is None:
        return
    hold = archive.catalog.case_hold(row.case)
    if hold is not None:
        raise DeletionRefused(
            f"capture {row.id} belongs to case {row.case!r}, on legal hold since"
            f" {hold.held_at} (by {hold.held_by or 'unknown'}): nothing of it may be deleted"
            f" until the hold is released (`osint-capture case release {row.case!r}"
            " --reason ...`)"
        )


def _plan(archive: Archive, row: CaptureRow, now: datetime) -> Plan:
    """Every file of the capture, found and hashed; refused while the bucket keeps any."""
    store = archive.store
    if isinstance(store, FileStore):
        return Plan("file", local=local_files(archive.root, row.id, sealed_here=True))
    from archive.objectstore.store import ObjectStore

    if not isinstance(store, ObjectStore):
        raise TypeError(f"no deletion for a store of type {type(store).__name__}")
    versions = store.capture_versions(row.id)
    kept = [why for version in versions if (why := version.kept(now)) is not None]
    if kept:
        raise DeletionRefused(
            f"capture {row.id} cannot be deleted yet: {len(kept)} of its {len(versions)}"
            f" stored object version(s) are kept by the bucket, e.g. {kept[0]}. Its"
            " retention was set when each file was sealed (the store's days=); nothing was"
            " deleted or recorded"
        )
    prefix = store.location.capture_prefix(row.id)
    rows = {r.key: r for r in store.versions.recorded_versions(prefix)}
    held = {(v.key, v.version_id) for v in versions}
    objects = [(v, _row_of(rows, v.key, v.version_id)) for v in versions]
    stale = [r for r in rows.values() if (r.key, r.version_id) not in held]
    local = local_files(archive.root, row.id, sealed_here=False)
    return Plan("s3", local=local, objects=objects, stale_rows=stale)


def _row_of(rows: dict[str, ObjectVersion], key: str, version_id: str) -> ObjectVersion | None:
    row = rows.get(key)
    return row if row is not None and row.version_id == version_id else None


def _details(
    row: CaptureRow, plan: Plan, who: Principal, reason: str, *, resumed: bool
) -> dict[str, Any]:
    """The ``deleted`` event's details: hashes, sizes and counts, never the reason's text."""
    removed = plan.removed()
    sealed = [r for r in removed if r.sealed]
    return {
        "device": who.device,
        "reason_sha256": sha256_bytes(reason.encode("utf-8")),
        "manifest_sha256": row.manifest_sha256,
        "store": plan.store,
        "files": [r.details() for r in sealed],
        "copies": [r.details() for r in removed if not r.sealed],
        "bytes": sum(r.size for r in sealed),
        "resumed": resumed,
    }


def _remove(archive: Archive, capture_id: str, plan: Plan) -> list[str]:
    """Remove everything planned; the errors of what could not go."""
    errors: list[str] = []
    if plan.store == "s3":
        from archive.objectstore.store import ObjectStore

        assert isinstance(archive.store, ObjectStore)
        deleted, errors = archive.store.delete_versions([v for v, _row in plan.objects])
        for version in deleted:
            archive.catalog.forget_version(version.key, version.version_id)
        for stale in plan.stale_rows:
            archive.catalog.forget_version(stale.key, stale.version_id)
    return errors + remove_local(archive.root, capture_id, plan.local)
