"""What the server asks of the archive, answered by the capture service.

The HTTP handlers (:mod:`capture.server`) call these methods and nothing below
them: they never hold the catalog, the file store or the custody log. That keeps
two rules in one place:

- **Reads go through the archive's reader** (``archive.reader``, a read-only
  connection), never the writer: under WAL it reads on while a commit is written,
  so a request does not wait out the group commits and the captures' sealing.
  A lookup by key (one capture, one target, a capture's files or runs) runs on
  the event loop, as ``GET /captures/{id}`` always has (docs/performance.md,
  "Profile and fix 4": p99 892 ms when it shared the writer, 51 ms apart). Anything
  that lists many rows or reads files runs in a worker thread.
- **Writes go through the archive's one writer** (``archive.catalog``), always in
  a worker thread, so a commit's fsync never stalls the loop.

- **Evidence is asked for by someone** (:class:`archive.people.Principal`), and this
  is where their cases decide (docs/access.md): a capture (or a target) is handed out
  only once its person may open it (:meth:`ArchiveQueries.capture`): ``NotFound``
  when there is no such capture, ``Denied`` (403, naming the permission) when it is
  another case's. What needs the capture takes the row so found, never an id, so
  nothing reaches a capture's files around that check. Listings and searches are
  filtered in the catalog's query (:meth:`archive.people.Principal.visibility`).

Every method is ``async``, even those that answer at once, so callers do not
depend on which is which, and a catalog behind a network can await.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path
from typing import Any

from archive.catalog import (
    AnalysisRow,
    CaptureRow,
    CaseRow,
    CatalogError,
    SearchHit,
    validate_case_name,
)
from archive.datadir import Archive
from archive.errors import NotFound
from archive.evidence.custody_events import Event, device_details
from archive.evidence.trustedtime import TimestampConfig
from archive.manifest import MANIFEST_NAME
from archive.people import Directory, Permission, Principal, changes
from archive.store import Artifact
from archive.wacz.export_types import ExportResult
from archive.wacz.replay import ensure_replay_wacz
from archive.watch.snapshot import Snapshot, SnapshotError
from capture import exporting
from capture.watch_queries import Watched, WatchQueries

#: A sealed file as read back: its bytes, or why it could not be read.
SealedRead = bytes | OSError
READ = Permission.READ_EVIDENCE

__all__ = ["READ", "ArchiveQueries", "SealedRead", "Watched"]


class ArchiveQueries(WatchQueries):
    """The archive as the server sees it; mixed into :class:`~capture.service.CaptureService`,
    which opens :attr:`archive` on start and holds the time-stamp settings. Targets and
    alerts are :class:`~capture.watch_queries.WatchQueries`'."""

    archive: Archive
    data_dir: Path
    tsa: TimestampConfig | None

    # -- captures ---------------------------------------------------------------------

    async def capture(
        self, who: Principal, capture_id: str, permission: Permission = READ
    ) -> CaptureRow:
        """The capture, once ``who`` may ``permission`` it: :class:`NotFound` when there is
        none, :class:`archive.errors.Denied` (naming ``permission``) when it is of a case
        they do not belong to, or of no case and collected by someone else."""
        row = self.archive.reader.get_capture(capture_id)
        if row is None:
            raise NotFound(f"no capture {capture_id}")
        who.require_case(permission, row.case, collector=row.collector)
        return row

    async def captures(
        self,
        who: Principal,
        *,
        case: str | None = None,
        status: str | None = None,
        url: str | None = None,
        target_id: int | None = None,
    ) -> list[CaptureRow]:
        """The captures ``who`` may see, newest first; an unknown ``status`` raises
        :class:`BadFilter`, a ``case`` they do not belong to :class:`Denied`."""
        who.require(READ)
        if case is not None:
            who.require_case(READ, unicodedata.normalize("NFC", case))
        return await asyncio.to_thread(
            self.archive.reader.list_captures,
            case=case,
            status=status,
            url=url,
            target_id=target_id,
            visible_to=who.visibility(),
        )

    async def artifacts(self, row: CaptureRow) -> list[Artifact]:
        """A capture's sealed files, with the SHA-256 each was sealed with."""
        return self.archive.reader.artifacts(row.id)

    async def manifest(self, row: CaptureRow) -> dict[str, Any] | None:
        """A sealed capture's manifest as JSON, or ``None`` when it has none to read
        (unsealed, or the file is gone or unreadable: the pages then say so)."""
        if row.manifest_sha256 is None:
            return None  # no file to read, so no hop to a thread either
        return await asyncio.to_thread(self._read_manifest, row.id)

    def _read_manifest(self, capture_id: str) -> dict[str, Any] | None:
        try:
            with self.archive.store.open_sealed(capture_id, MANIFEST_NAME) as fh:
                return dict(json.loads(fh.read()))
        except (OSError, ValueError):
            return None

    def sealed_path(self, row: CaptureRow, name: str) -> Path:
        """Where a sealed file lies, for a response that streams it (no I/O here)."""
        return self.archive.store.local_path(row.id, name)

    async def sealed_bytes(self, row: CaptureRow, name: str) -> bytes:
        """A sealed file's bytes, unchecked (the caller holds the hash to check them by)."""
        return await asyncio.to_thread(self.sealed_path(row, name).read_bytes)

    async def sealed_files(self, row: CaptureRow, names: list[str]) -> dict[str, SealedRead]:
        """Several sealed files read in one go; one that cannot be read is its error."""
        return await asyncio.to_thread(self._read_files, row, names)

    def _read_files(self, row: CaptureRow, names: list[str]) -> dict[str, SealedRead]:
        files: dict[str, SealedRead] = {}
        for name in names:
            try:
                files[name] = self.sealed_path(row, name).read_bytes()
            except OSError as exc:
                files[name] = exc
        return files

    async def custody_events(self, row: CaptureRow) -> list[Event]:
        """The custody log's events about a capture, as read (``CustodyError`` if unreadable)."""
        return await asyncio.to_thread(lambda: list(self.archive.custody.events(row.id)))

    async def record_access(
        self, action: str, *, actor: str, device: str, captures: list[str], details: dict[str, Any]
    ) -> None:
        """One view, download, replay or export in the access log, through the writer in
        a thread (capture/server/auditing.py is its one caller)."""
        await asyncio.to_thread(
            self.archive.access.record,
            action,
            actor=actor,
            device=device,
            captures=captures,
            details=details,
        )

    async def replay_wacz(self, row: CaptureRow) -> Path:
        """The capture as a plain WACZ for replay, built on first use (``ReplayError``)."""
        return await asyncio.to_thread(ensure_replay_wacz, self.archive, row.id)

    async def person(self, user: str, device: str) -> Principal:
        """``user`` as they are now (their cases read again), acting through ``device``:
        for a request that carries a person's name rather than their session (a replay's
        package, fetched from the replay origin). ``Unauthenticated`` when disabled."""
        return await asyncio.to_thread(Directory(self.archive.reader).principal, user, device)

    async def export(
        self, who: Principal, capture_ids: list[str], *, stem: str, operator: str | None = None
    ) -> ExportResult:
        """A signed package of the captures in ``DATA/exports/``, named ``stem`` (or
        ``stem-2`` … when that name is taken); each capture must be one ``who`` may
        export. Its making is a custody event naming them, their device and the
        ``operator`` label if given."""
        for capture_id in capture_ids:
            await self.capture(who, capture_id, Permission.EXPORT)
        folder = self.archive.exports_dir
        folder.mkdir(parents=True, exist_ok=True)
        out = _free_name(folder, stem)
        details = {**device_details(who.device), **({"operator": operator} if operator else {})}
        return await exporting.export(
            self.archive, capture_ids, out, actor=who.actor, tsa=self.tsa, event_details=details
        )

    # -- cases ------------------------------------------------------------------------

    async def cases(self, who: Principal) -> list[CaseRow]:
        """Every case's name (what ``list-cases`` shows; membership is ``who.cases``)."""
        who.require(Permission.LIST_CASES)
        return await asyncio.to_thread(self.archive.reader.list_cases)

    async def ensure_case(self, who: Principal, name: str) -> tuple[CaseRow, bool]:
        """The case named ``name``, and whether it was made now, by ``who`` (who may manage
        cases), with them as its first member. A case that exists is handed back as it is:
        naming it makes nobody a member (``BadCaseName`` for a name that cannot be one)."""
        who.require(Permission.MANAGE_CASES)
        name = validate_case_name(name)
        existing = {case.name: case for case in await self.cases(who)}
        if name in existing:
            return existing[name], False
        await asyncio.to_thread(changes.create_case, self.archive, who, name)
        case = await asyncio.to_thread(self.archive.catalog.ensure_case, name)
        return case, True

    # -- analyses ---------------------------------------------------------------------

    async def analyses(self, row: CaptureRow) -> list[AnalysisRow]:
        return self.archive.reader.analyses(row.id)

    async def analysis(self, row: CaptureRow, number: int) -> AnalysisRow | None:
        return self.archive.reader.get_analysis(row.id, number)

    # -- search -----------------------------------------------------------------------

    async def search(self, who: Principal, query: str) -> list[tuple[SearchHit, CaptureRow]]:
        """Hits for ``query`` in what ``who`` may see, best first, each with its capture."""
        who.require(READ)
        return await asyncio.to_thread(self._search, who, query)

    def _search(self, who: Principal, query: str) -> list[tuple[SearchHit, CaptureRow]]:
        reader = self.archive.reader
        found = []
        for hit in reader.search_text(query, visible_to=who.visibility()):
            row = reader.get_capture(hit.capture_id)
            if row is not None:
                found.append((hit, row))
        return found

    async def index_unindexed(self, who: Principal) -> list[str]:
        """Index sealed captures the search index lacks; what could not be, named (only
        the captures ``who`` may see: the others are indexed all the same)."""
        problems = await asyncio.to_thread(self._index_unindexed)
        return [text for row, text in problems if who.sees(row.case, row.collector)]

    def _index_unindexed(self) -> list[tuple[CaptureRow, str]]:
        """Read back from their sealed files, through the writer (``index_text``).

        Captures sealed before search existed, or whose indexing failed when they were
        sealed, are searchable from the next search on. A capture that cannot be read
        back is named (and tried again next time), so a search never silently skips it.
        """
        archive = self.archive
        problems = []
        for row in archive.reader.unindexed_captures():
            try:
                snapshot = Snapshot.load(
                    archive.root, row.id, catalog=archive.reader, store=archive.store
                )
                archive.catalog.index_text(
                    row.id,
                    url=snapshot.final_url or snapshot.url,
                    title=snapshot.title or "",
                    text=snapshot.text,
                )
            except (SnapshotError, CatalogError) as exc:
                problems.append((row, f"capture {row.id} is not searchable: {exc}"))
        return problems


def _free_name(folder: Path, stem: str) -> Path:
    """A file name in ``folder`` nothing has yet (two exports in one second differ)."""
    candidate = folder / f"{stem}.wacz"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.wacz"
        number += 1
    return candidate
