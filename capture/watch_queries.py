"""What the server asks of the archive about watched targets and their alerts.

Part of :class:`capture.queries.ArchiveQueries`, under the same rules: reads through
the reader, writes in a worker thread, and a target handed out only to someone its
case lets see it (a target of no case is its collector's, as its runs are). Watching
a URL under a new case makes its asker the case's first member
(:func:`archive.people.admit`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from archive.catalog import CaptureRow, TargetRow, TimelineEvent, validate_case_name
from archive.datadir import Archive
from archive.errors import NotFound
from archive.people import Permission, Principal, admit
from archive.timeutil import now_rfc3339

#: A watched target and its timeline, oldest event first.
Watched = tuple[TargetRow, list[TimelineEvent]]


class WatchQueries:
    """Targets, timelines and alerts, as one person may see and change them."""

    archive: Archive

    async def target(
        self, who: Principal, target_id: int, permission: Permission = Permission.READ_EVIDENCE
    ) -> TargetRow:
        """The target, once ``who`` may ``permission`` it (``NotFound``, ``Denied``)."""
        target = self.archive.reader.get_target(target_id)
        if target is None:
            raise NotFound(f"no target {target_id}")
        who.require_case(permission, target.case, collector=target.collector)
        return target

    async def target_timelines(
        self, who: Principal, *, include_removed: bool = False
    ) -> list[Watched]:
        """Every target ``who`` may see, with its timeline."""
        who.require(Permission.READ_EVIDENCE)
        return await asyncio.to_thread(self._target_timelines, who, include_removed)

    def _target_timelines(self, who: Principal, include_removed: bool) -> list[Watched]:
        reader = self.archive.reader
        targets = reader.list_targets(include_removed=include_removed, visible_to=who.visibility())
        return [(target, reader.timeline(target.id)) for target in targets]

    async def timeline(self, target: TargetRow) -> list[TimelineEvent]:
        return await asyncio.to_thread(self.archive.reader.timeline, target.id)

    async def target_of(self, row: CaptureRow) -> TargetRow | None:
        """The target a capture (one its person may open) was a run of: of its case, or
        of no case and theirs too, since a run has its target's case and collector."""
        return self.archive.reader.get_target(row.target_id) if row.target_id else None

    async def capture_timeline_event(self, row: CaptureRow) -> TimelineEvent | None:
        """The timeline event a target's run left (``None`` for a capture of no target)."""
        return self.archive.reader.timeline_for_capture(row.id)

    async def add_target(
        self,
        who: Principal,
        url: str,
        *,
        interval_seconds: int,
        case: str | None,
        operator: str | None,
        note: str | None,
        request: dict[str, Any],
    ) -> TargetRow:
        """Watch ``url`` for ``who``, in a case they belong to (a new one is made theirs);
        its first run is due at once (``BadCaseName`` for a bad case, ``Denied`` for one
        of others)."""
        who.require(Permission.WATCH)
        if case is not None and validate_case_name(case) not in who.cases:
            await asyncio.to_thread(admit, self.archive, who, Permission.WATCH, case)
        elif case is not None:
            who.require_case(Permission.WATCH, case)  # a sensitive one: second factor
        return await asyncio.to_thread(
            lambda: self.archive.catalog.add_target(
                url,
                interval_seconds=interval_seconds,
                case=case,
                operator=operator,
                note=note,
                next_run_at=now_rfc3339(),
                request=request,
                collector=who.user,
                device=who.device,
            )
        )

    async def set_target_state(self, target: TargetRow, state: str) -> TargetRow:
        """Pause, resume or remove a target found by :meth:`target` with ``watch``
        (``CatalogError`` when the change is not allowed)."""
        return await asyncio.to_thread(self.archive.catalog.set_target_state, target.id, state)

    async def alerts(self, who: Principal, after: int) -> list[tuple[TimelineEvent, str | None]]:
        """Alerts of the targets ``who`` may see after event ``after``, oldest first, each
        with its target's URL: the extension's badge counts only these."""
        who.require(Permission.READ_EVIDENCE)
        return await asyncio.to_thread(self._alerts, who, after)

    def _alerts(self, who: Principal, after: int) -> list[tuple[TimelineEvent, str | None]]:
        reader = self.archive.reader
        events = reader.alerts(after=after, visible_to=who.visibility())
        urls: dict[int, str | None] = {}
        for event in events:
            if event.target_id not in urls:
                target = reader.get_target(event.target_id)
                urls[event.target_id] = target.url if target is not None else None
        return [(event, urls[event.target_id]) for event in events]
