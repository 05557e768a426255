"""Asking for readings of a sealed capture: by a person (the API, the dashboard's form),
or by the capture's own request once it is sealed. Part of :class:`capture.service.
CaptureService`.

A person asks with ``capture`` in the capture's case (docs/access.md: a reading is
evidence work, as a capture is), and the run records them and their device, so its
custody events name them. A run a capture asked for names whoever asked for the capture.
"""

from __future__ import annotations

import logging

from archive.catalog import AnalysisRow, CaptureRow
from archive.people import Permission, Principal
from capture.analysis.options import AnalysisOptions
from capture.analysis.worker import AnalysisWorkers
from capture.analysis.worker import stream_id as analysis_stream
from capture.events import CaptureEvents
from capture.progress_events import AnalysisLink, Queued
from capture.requests import CaptureRequest

log = logging.getLogger(__name__)


class AnalysisRequests:
    """Queueing analysis runs; the service holds the workers and the event streams."""

    _analysis: AnalysisWorkers | None
    events: CaptureEvents
    analysis_defaults: AnalysisOptions

    async def queue_analysis(
        self,
        who: Principal,
        capture: CaptureRow,
        options: AnalysisOptions,
        *,
        operator: str | None,
    ) -> tuple[AnalysisRow, bool]:
        """Queue an analysis run of a sealed capture, asked for by ``who``, who must be
        allowed to capture in its case (a run already queued is returned)."""
        who.require_case(Permission.CAPTURE, capture.case, collector=capture.collector)
        return await self._queue_analysis(capture.id, options, operator, who.user, who.device)

    async def _queue_analysis(
        self,
        capture_id: str,
        options: AnalysisOptions,
        operator: str | None,
        requested_by: str | None,
        device: str | None,
    ) -> tuple[AnalysisRow, bool]:
        queue = self._analysis.queue if self._analysis is not None else None
        if queue is None:
            raise RuntimeError("the capture service is not started")
        row, created = await queue.put(
            capture_id,
            options.to_request(),
            operator=operator,
            requested_by=requested_by,
            device=device,
        )
        if created:
            self.events.publish(analysis_stream(row.capture_id, row.number), Queued())
        queue.wake()
        return row, created

    async def _queue_requested_analysis(
        self, row: CaptureRow, request: CaptureRequest
    ) -> AnalysisLink | None:
        """The analysis the capture's request asked for, queued now that it is sealed.

        A watched target's scheduled run (queued by the scheduler, not through
        :meth:`submit`) is read as the server's defaults say.
        """
        wanted = request.analysis
        if wanted is None and request.target is not None and self.analysis_defaults.wanted:
            wanted = self.analysis_defaults
        if wanted is None or not wanted.wanted:
            return None
        try:
            queued, _ = await self._queue_analysis(
                row.id, wanted, row.operator, row.collector, row.device
            )
        except Exception:
            log.exception("capture %s: its analysis could not be queued", row.id)
            return None
        return AnalysisLink(queued.number, f"/api/v1/captures/{row.id}/analyses/{queued.number}")
