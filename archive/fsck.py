"""``osint-capture fsck``: the catalog's files held against what the store holds.

Evidence can go missing without anyone deleting it through this tool: a disk that
loses a file, an operator who "cleans up" a folder, a crash between an upload and its
catalog row. This check lists every sealed file the catalog knows and compares it with
the store: present, the recorded size, and (``deep``) the recorded SHA-256 read back
byte for byte; and what the store holds that the catalog does not know. It reports,
never repairs and never deletes: an object without its row may be the only copy of
something, and what to do with it is a person's decision.

On an S3 store the bucket's own check does the comparing
(:meth:`archive.objectstore.ObjectStore.fsck`: every version against the version book
and the catalog), and every object of a case the catalog says is on legal hold is asked
whether the bucket's legal hold is on it (one not held could be deleted by whoever has
the keys once its retention ends: :mod:`archive.holds`); on a file store, the capture
folders are compared here. Each run is a ``verified`` custody event with its result.

A deleted capture (:mod:`archive.deletion`) keeps its row and its artifacts' rows as a
tombstone: its files are meant to be gone, so none is reported missing; any that are
still there (a deletion that stopped before the end) are reported as left after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.evidence.custody import SYSTEM_ACTOR
from archive.hashing import sha256_file
from archive.store import PARTIAL_SUFFIX, FileStore

if TYPE_CHECKING:
    from archive.objectstore.store import ObjectStore

#: The kind of problem an object of a held case without the bucket's legal hold is.
UNHELD = "object of a held case not on legal hold"


@dataclass(frozen=True)
class Problem:
    """One difference between the catalog and the store."""

    kind: str
    where: str
    detail: str


@dataclass
class StoreCheck:
    """What an fsck compared and what differed; ``ok`` only when something was compared."""

    store: str
    deep: bool
    files_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: Objects kept aside from an interrupted attempt, explained (object stores).
    set_aside: int = 0
    #: Objects staged for captures not yet sealed (object stores): not evidence.
    staged: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and self.files_checked > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "store": self.store,
            "deep": self.deep,
            "files_checked": self.files_checked,
            "set_aside": self.set_aside,
            "staged": self.staged,
            "problems": [vars(problem) for problem in self.problems],
        }


def fsck_archive(archive: Archive, *, deep: bool = False, actor: str = SYSTEM_ACTOR) -> StoreCheck:
    """Compare the catalog's sealed files with the store; record the run in custody."""
    if isinstance(archive.store, FileStore):
        result = _check_files(archive, archive.store, deep)
    else:
        result = _check_objects(archive, deep)
    archive.custody.append(
        "verified",
        actor=actor,
        details={
            "check": "fsck",
            "deep": deep,
            "ok": result.ok,
            "files_checked": result.files_checked,
            "problems": len(result.problems),
        },
    )
    return result


def catalog_files(archive: Archive) -> Iterator[tuple[str, str, str, int]]:
    """``(capture_id, name, sha256, size)`` of every file of every sealed capture that
    was not deleted (a tombstone's files are meant to be gone)."""
    for row in archive.catalog.list_captures():
        if row.manifest_sha256 is None or row.deleted_at is not None:
            continue
        for artifact in archive.catalog.artifacts(row.id):
            yield row.id, artifact.path, artifact.sha256, artifact.size


def _check_objects(archive: Archive, deep: bool) -> StoreCheck:
    from archive.objectstore.store import ObjectStore  # aiobotocore only for an S3 store

    if not isinstance(archive.store, ObjectStore):
        raise TypeError(f"no fsck for a store of type {type(archive.store).__name__}")
    known = [(capture, name, sha256) for capture, name, sha256, _ in catalog_files(archive)]
    report = archive.store.fsck(known, deep=deep)
    result = StoreCheck(f"s3://{report.bucket}/{report.prefix}", deep)
    result.files_checked = report.objects_checked
    result.set_aside = len(report.set_aside)
    result.staged = report.staged
    result.problems = [
        Problem(str(finding.problem), finding.key, finding.detail) for finding in report.findings
    ]
    result.problems += unheld_objects(archive, archive.store)
    for row in archive.catalog.deleted_captures():
        prefix = archive.store.location.capture_prefix(row.id)
        result.problems += [
            _left_over(row.id, row.deleted_at, version.key)
            for version in archive.store.versions.recorded_versions(prefix)
        ]
    return result


def unheld_objects(archive: Archive, store: ObjectStore) -> list[Problem]:
    """Every object version of a held case's captures that the bucket does not hold."""
    problems = []
    for hold in archive.catalog.case_holds():
        for row in archive.catalog.list_captures(case=hold.case):
            for state in store.legal_holds(row.id, empty_ok=True):
                if not state.on:
                    problems.append(
                        Problem(
                            UNHELD,
                            state.key,
                            f"version {state.version_id} of capture {row.id}: its case"
                            f" {hold.case!r} is on hold since {hold.held_at}, the bucket's"
                            " legal hold is not on it; run `osint-capture case hold"
                            f" {hold.case!r} --reason ...` again to set it (nothing was changed)",
                        )
                    )
    return problems


def _left_over(capture_id: str, deleted_at: str | None, where: str) -> Problem:
    """A file of a deleted capture still there: its deletion stopped before the end."""
    return Problem(
        "left after deletion",
        where,
        f"capture {capture_id} was deleted at {deleted_at}, but this is still here: run"
        f" `osint-capture delete {capture_id} --reason ...` again to remove it",
    )


def _check_files(archive: Archive, store: FileStore, deep: bool) -> StoreCheck:
    result = StoreCheck(str(store.captures_root), deep)
    known: dict[str, set[str]] = {}
    for capture_id, name, sha256, size in catalog_files(archive):
        known.setdefault(capture_id, set()).add(name)
        result.files_checked += 1
        problem = _check_file(store.capture_dir(capture_id) / name, sha256, size, deep)
        if problem is not None:
            result.problems.append(Problem(problem[0], f"{capture_id}/{name}", problem[1]))
    result.problems += _unknown_files(archive, store, known)
    return result


def _check_file(path: Path, sha256: str, size: int, deep: bool) -> tuple[str, str] | None:
    try:
        found = path.stat().st_size
    except FileNotFoundError:
        return "missing file", f"the catalog lists {path.name}; it is not in {path.parent}"
    if found != size:
        return "size mismatch", f"the catalog says {size} bytes, the file has {found}"
    if deep:
        digest, _ = sha256_file(path)
        if digest != sha256:
            return "checksum mismatch", f"SHA-256 {digest}, the catalog recorded {sha256}"
    return None


def _unknown_files(archive: Archive, store: FileStore, known: dict[str, set[str]]) -> list[Problem]:
    """Files in capture folders that no sealed capture lists (interrupted captures'
    folders are quarantined at start-up, so a running capture's is left alone)."""
    running = {row.id for row in archive.catalog.list_captures(status="running")}
    deleted = {row.id: row.deleted_at for row in archive.catalog.deleted_captures()}
    problems = []
    root = store.captures_root
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name in running:
            continue
        listed = known.get(folder.name, set())
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if folder.name in deleted:
                problems.append(
                    _left_over(folder.name, deleted[folder.name], f"{folder.name}/{name}")
                )
            elif name not in listed and not name.endswith(PARTIAL_SUFFIX):
                problems.append(
                    Problem(
                        "file without a row",
                        f"{folder.name}/{name}",
                        "in the store but in no sealed capture of the catalog; kept",
                    )
                )
    return problems
