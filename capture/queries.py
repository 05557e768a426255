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

Every method is ``async``, even those that answer at once, so callers do not
depend on which is which, and a catalog behind a network can await.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from archive.catalog import (
    AnalysisRow,
    CaptureRow,
    CaseRow,
    CatalogError,
    SearchHit,
    TargetRow,
    TimelineEvent,
)
from archive.datadir import Archive
from archive.evidence.custody_events import Event
from archive.evidence.trustedtime import TimestampConfig
from archive.manifest import MANIFEST_NAME
from archive.store import Artifact
from archive.timeutil import now_rfc3339
from archive.wacz.export_types import ExportResult
from archive.wacz.replay import ensure_replay_wacz
from archive.watch.snapshot import Snapshot, SnapshotError
from capture import exporting

#: A sealed file as read back: its bytes, or why it could not be read.
SealedRead = bytes | OSError
#: A watched target and its timeline, oldest event first.
Watched = tuple[TargetRow, list[TimelineEvent]]


class ArchiveQueries:
    """The archive as the server sees it; mixed into :class:`~capture.service.CaptureService`,
    which opens :attr:`archive` on start and holds the time-stamp settings."""

    archive: Archive
    data_dir: Path
    tsa: TimestampConfig | None

    # -- captures ---------------------------------------------------------------------

    async def capture(self, capture_id: str) -> CaptureRow | None:
        return self.archive.reader.get_capture(capture_id)

    async def captures(
        self,
        *,
        case: str | None = None,
        status: str | None = None,
        url: str | None = None,
        target_id: int | None = None,
    ) -> list[CaptureRow]:
        """Captures, newest first; an unknown ``status`` raises :class:`BadFilter`."""
        return await asyncio.to_thread(
            self.archive.reader.list_captures,
            case=case,
            status=status,
            url=url,
            target_id=target_id,
        )

    async def artifacts(self, capture_id: str) -> list[Artifact]:
        """A capture's sealed files, with the SHA-256 each was sealed with."""
        return self.archive.reader.artifacts(capture_id)

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

    def sealed_path(self, capture_id: str, name: str) -> Path:
        """Where a sealed file lies, for a response that streams it (no I/O here)."""
        return self.archive.store.local_path(capture_id, name)

    async def sealed_bytes(self, capture_id: str, name: str) -> bytes:
        """A sealed file's bytes, unchecked (the caller holds the hash to check them by)."""
        return await asyncio.to_thread(self.sealed_path(capture_id, name).read_bytes)

    async def sealed_files(self, capture_id: str, names: list[str]) -> dict[str, SealedRead]:
        """Several sealed files read in one go; one that cannot be read is its error."""
        return await asyncio.to_thread(self._read_files, capture_id, names)

    def _read_files(self, capture_id: str, names: list[str]) -> dict[str, SealedRead]:
        files: dict[str, SealedRead] = {}
        for name in names:
            try:
                files[name] = self.sealed_path(capture_id, name).read_bytes()
            except OSError as exc:
                files[name] = exc
        return files

    async def custody_events(self, capture_id: str) -> list[Event]:
        """The custody log's events about a capture, as read (``CustodyError`` if unreadable)."""
        return await asyncio.to_thread(lambda: list(self.archive.custody.events(capture_id)))

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

    async def replay_wacz(self, capture_id: str) -> Path:
        """The capture as a plain WACZ for replay, built on first use (``ReplayError``)."""
        return await asyncio.to_thread(ensure_replay_wacz, self.archive, capture_id)

    async def export(self, capture_ids: list[str], *, actor: str, stem: str) -> ExportResult:
        """A signed package of the captures in ``DATA/exports/``, named ``stem`` (or
        ``stem-2`` … when that name is taken); its making is a custody event."""
        folder = self.archive.exports_dir
        folder.mkdir(parents=True, exist_ok=True)
        out = _free_name(folder, stem)
        return await exporting.export(self.archive, capture_ids, out, actor=actor, tsa=self.tsa)

    # -- cases ------------------------------------------------------------------------

    async def cases(self) -> list[CaseRow]:
        return await asyncio.to_thread(self.archive.reader.list_cases)

    async def ensure_case(self, name: str) -> CaseRow:
        """The case named ``name``, made if new (``BadCaseName`` for a name that cannot be one)."""
        return await asyncio.to_thread(self.archive.catalog.ensure_case, name)

    # -- targets ----------------------------------------------------------------------

    async def target(self, target_id: int) -> TargetRow | None:
        return self.archive.reader.get_target(target_id)

    async def target_timelines(self, *, include_removed: bool = False) -> list[Watched]:
        """Every target with its timeline."""
        return await asyncio.to_thread(self._target_timelines, include_removed)

    def _target_timelines(self, include_removed: bool) -> list[Watched]:
        reader = self.archive.reader
        return [
            (target, reader.timeline(target.id))
            for target in reader.list_targets(include_removed=include_removed)
        ]

    async def timeline(self, target_id: int) -> list[TimelineEvent]:
        return await asyncio.to_thread(self.archive.reader.timeline, target_id)

    async def capture_timeline_event(self, capture_id: str) -> TimelineEvent | None:
        """The timeline event a target's run left (``None`` for a capture of no target)."""
        return self.archive.reader.timeline_for_capture(capture_id)

    async def add_target(
        self,
        url: str,
        *,
        interval_seconds: int,
        case: str | None,
        operator: str | None,
        note: str | None,
        request: dict[str, Any],
    ) -> TargetRow:
        """Watch ``url``; its first run is due at once (``BadCaseName`` for a bad case)."""
        return await asyncio.to_thread(
            lambda: self.archive.catalog.add_target(
                url,
                interval_seconds=interval_seconds,
                case=case,
                operator=operator,
                note=note,
                next_run_at=now_rfc3339(),
                request=request,
            )
        )

    async def set_target_state(self, target_id: int, state: str) -> TargetRow:
        """Pause, resume or remove (``CatalogError`` when the change is not allowed)."""
        return await asyncio.to_thread(self.archive.catalog.set_target_state, target_id, state)

    async def alerts(self, after: int) -> list[tuple[TimelineEvent, str | None]]:
        """Alerts after event ``after``, oldest first, each with its target's URL."""
        return await asyncio.to_thread(self._alerts, after)

    def _alerts(self, after: int) -> list[tuple[TimelineEvent, str | None]]:
        reader = self.archive.reader
        events = reader.alerts(after=after)
        urls: dict[int, str | None] = {}
        for event in events:
            if event.target_id not in urls:
                target = reader.get_target(event.target_id)
                urls[event.target_id] = target.url if target is not None else None
        return [(event, urls[event.target_id]) for event in events]

    # -- analyses ---------------------------------------------------------------------

    async def analyses(self, capture_id: str) -> list[AnalysisRow]:
        return self.archive.reader.analyses(capture_id)

    async def analysis(self, capture_id: str, number: int) -> AnalysisRow | None:
        return self.archive.reader.get_analysis(capture_id, number)

    # -- search -----------------------------------------------------------------------

    async def search(self, query: str) -> list[tuple[SearchHit, CaptureRow | None]]:
        """Hits for ``query``, best first, each with its capture's row."""
        return await asyncio.to_thread(self._search, query)

    def _search(self, query: str) -> list[tuple[SearchHit, CaptureRow | None]]:
        reader = self.archive.reader
        return [(hit, reader.get_capture(hit.capture_id)) for hit in reader.search_text(query)]

    async def index_unindexed(self) -> list[str]:
        """Index sealed captures the search index lacks; what could not be, named."""
        return await asyncio.to_thread(self._index_unindexed)

    def _index_unindexed(self) -> list[str]:
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
                problems.append(f"capture {row.id} is not searchable: {exc}")
        return problems


def _free_name(folder: Path, stem: str) -> Path:
    """A file name in ``folder`` nothing has yet (two exports in one second differ)."""
    candidate = folder / f"{stem}.wacz"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.wacz"
        number += 1
    return candidate
