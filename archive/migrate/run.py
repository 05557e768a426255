"""``migrate``: an embedded archive (SQLite catalog, files in DATA) copied into team storage
(a PostgreSQL catalog, an S3 bucket with Object Lock), then verified.

The order, and why:

1. **Check** the source: its custody log and access log verify (the custody log line by
   line, never held whole: a log of millions of events takes the memory of one), no
   capture or analysis is running (their files are not sealed yet). Check the target:
   its catalog holds no rows (object
   versions aside: a resumed run's), and its store is a bucket (a ``file://`` store is
   the data directory itself: there is nothing to copy it to). A target that already
   holds this very log, imported whole, was migrated before: the run verifies it again
   and changes nothing. A target with anything else is refused.
2. **Files**, re-hashed on the way (:mod:`archive.migrate.files`); resumable.
3. A ``migrated`` event in the **source** log (where to, how many files and bytes).
4. **One transaction** on the target: every catalog row (:mod:`archive.catalog.copying`),
   the log imported byte for byte with its anchors, the access log's chain carried over
   as it is, and each case's chain opened with a ``migrated`` event naming the imported
   head (:mod:`archive.migrate.custody_copy`).
   Interrupted, nothing of it is left: a run again starts over at step 1.
5. The bucket's **legal hold** on every object of each case the catalog holds (their
   files were sealed before the rows said so; :func:`archive.holds.hold_held_cases`).
6. **Verify** (:mod:`archive.migrate.verifying`), and record the result as a
   ``verified`` event in the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.catalog.copying import copy_catalog, table_counts
from archive.datadir import Archive
from archive.errors import BadInput, Conflict
from archive.evidence.access_log import ACCESS_ANCHORS_DIR
from archive.evidence.chain_names import ACCESS_CHAIN, imported_chain
from archive.evidence.custody import CustodyLog
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_events import Event
from archive.evidence.custody_scan import Scan
from archive.holds import hold_held_cases
from archive.migrate.custody_copy import import_access, import_custody, link_chains, scan_source
from archive.migrate.files import FilesCopied, anchor_files, capture_files, copy_files
from archive.migrate.verifying import Verification, verify_migration
from archive.settings import Settings
from archive.store import FileStore


class NotMigratable(BadInput):
    """The source or the target cannot take part in a migration as they are."""


class TargetNotEmpty(Conflict):
    """The team catalog holds rows of another archive (or of this one, changed since)."""


@dataclass
class MigrationReport:
    """What one run did and found."""

    source: str
    target: str
    already_migrated: bool = False
    files: FilesCopied = field(default_factory=FilesCopied)
    rows: dict[str, int] = field(default_factory=dict)
    imported_chain: str = ""
    imported_head: tuple[int, str] | None = None
    chains_opened: int = 0
    #: Object versions of held cases given the bucket's legal hold (set again on a re-run).
    held_objects: int = 0
    verification: Verification | None = None

    @property
    def ok(self) -> bool:
        return self.verification is not None and self.verification.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "already_migrated": self.already_migrated,
            "files": vars(self.files),
            "rows": self.rows,
            "imported_chain": self.imported_chain,
            "imported_head": list(self.imported_head) if self.imported_head else None,
            "chains_opened": self.chains_opened,
            "held_objects": self.held_objects,
            "verification": self.verification.to_dict() if self.verification else None,
        }


def migrate(source: Archive, target: Archive, *, actor: str) -> MigrationReport:
    """Copy ``source`` (embedded) into ``target`` (team) and verify it (module docstring)."""
    log = _source_log(source)
    scan = scan_source(log)
    if scan.first is None or scan.last is None:
        raise NotMigratable(
            f"the archive at {source.root} has no custody event: nothing to migrate"
        )
    custody = _target_custody(target)
    chain = imported_chain(scan.first.hash)
    report = MigrationReport(str(source.root), f"{target.catalog.path} + {target.settings.store}")
    report.imported_chain = chain
    if _already_migrated(target, chain, scan.last):
        report.already_migrated = True
    else:
        _refuse_unless_empty(target.catalog)
        _refuse_running(source.catalog)
        source.access.chain.intact_events("to migrate")  # the access log must verify too
        _copy(source, target, log, scan, custody, chain, report, actor)
    report.imported_head = _head_of(target.catalog, chain)
    # The files went up before the rows said which cases are held: hold them now.
    report.held_objects = hold_held_cases(target)
    report.verification = verify_migration(source, target, chain)
    target.custody.append(
        "verified", actor=actor, details={"check": "migrate", **report.verification.counts()}
    )
    return report


def _copy(
    source: Archive,
    target: Archive,
    log: CustodyLog,
    scan: Scan,
    custody: DbCustodyLog,
    chain: str,
    report: MigrationReport,
    actor: str,
) -> None:
    assert isinstance(source.store, FileStore)
    tokens = {str(e.details["token"]): str(e.details["token_sha256"]) for e in scan.anchored}
    copy_files(capture_files(source.catalog), source.store, target.store, report.files)
    copy_files(anchor_files(source.root, tokens), source.store, target.store, report.files)
    access = {a.name: a.token_sha256 for a in source.catalog.custody_anchor_files(ACCESS_CHAIN)}
    access_files = anchor_files(source.root, access, ACCESS_ANCHORS_DIR)
    copy_files(access_files, source.store, target.store, report.files)
    facts = {"files": report.files.uploaded + report.files.already, "bytes": report.files.bytes}
    log.append("migrated", actor=actor, details={"to": _shown(target), **facts})
    with target.catalog.transaction():
        report.rows = copy_catalog(source.catalog, target.catalog).rows
        head, anchors = import_custody(custody, chain, log.path)
        report.rows["custody_events"] = head[0]
        report.rows["custody_anchors"] = anchors
        report.rows["access_events"] = import_access(source.catalog, custody)
        report.chains_opened = link_chains(custody, target.catalog, chain, head, actor, facts)


def _shown(target: Archive) -> dict[str, str]:
    """Where the archive went, as custody may say it: no user, no password."""
    catalog = str(target.catalog.path)
    host = catalog.split("@", 1)[1] if "@" in catalog else catalog
    return {"catalog": host, "store": str(target.settings.store).split("?", 1)[0]}


def _source_log(source: Archive) -> CustodyLog:
    if not isinstance(source.custody, CustodyLog) or not isinstance(source.store, FileStore):
        raise NotMigratable(
            f"{source.root} is not an embedded archive (a SQLite catalog and its files in the"
            " data directory): only those are migrated"
        )
    return source.custody


def _target_custody(target: Archive) -> DbCustodyLog:
    if not isinstance(target.custody, DbCustodyLog):
        raise NotMigratable(
            f"the target's catalog {target.catalog.path} is not PostgreSQL: migrate to a team"
            ' catalog (catalog = "postgresql://..." in the settings file)'
        )
    if isinstance(target.store, FileStore):
        raise NotMigratable(
            f"the target's store {target.settings.store} is the data directory's own files:"
            " the embedded files are already there, and other machines cannot reach them."
            ' Name a bucket with Object Lock (store = "s3://...") in the settings file'
        )
    return target.custody


def _already_migrated(target: Archive, chain: str, last: Event) -> bool:
    """Whether ``target`` holds the log imported whole; refused if it holds an older
    copy of it (events were added to the embedded archive after it was migrated)."""
    head = _head_of(target.catalog, chain)
    if head is None:
        return False
    if head != (last.seq, last.hash):
        raise TargetNotEmpty(
            f"the team catalog {target.catalog.path} holds this archive's custody log up to"
            f" seq {head[0]}, but the embedded log now ends at seq {last.seq}: the embedded"
            " archive was used after it was migrated, and those events are not in team"
            " storage. Nothing was changed; migrate into an empty catalog and bucket"
        )
    return True


def _head_of(catalog: Catalog, chain: str) -> tuple[int, str] | None:
    head = catalog.custody_chain_heads().get(chain)
    return head if head is not None and head[0] > 0 else None


def _refuse_unless_empty(catalog: Catalog) -> None:
    held = {name: n for name, n in table_counts(catalog).items() if n}
    chains = catalog.custody_event_chains()
    if held or chains:
        what = ", ".join(f"{n} {name}" for name, n in held.items()) or f"chains {chains}"
        raise TargetNotEmpty(
            f"the team catalog {catalog.path} is not empty ({what}): migrate copies an"
            " embedded archive into a new team catalog only. Nothing was changed"
        )


def _refuse_running(catalog: Catalog) -> None:
    running = catalog.list_captures(status="running")
    if running:
        raise NotMigratable(
            f"{len(running)} capture(s) are running (first: {running[0].id}): stop the server"
            " and let them finish or be recovered (start it once and stop it), then migrate"
        )


def open_pair(data_dir: Path, settings: Settings) -> tuple[Archive, Archive]:
    """The embedded archive in ``data_dir`` and the team archive ``settings`` name."""
    from archive.settings import embedded_defaults

    embedded = embedded_defaults(data_dir)
    source_settings = Settings(embedded["catalog"], embedded["store"], "embedded", {})
    source = Archive.open(data_dir, create=False, settings=source_settings)
    try:
        target = Archive.open(data_dir, settings=settings)
    except BaseException:
        source.close()
        raise
    return source, target
