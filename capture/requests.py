"""A capture request's path from the API to the pipeline, every conversion in one place.

Submission      what the API (or the extension) sent, uploads still in memory
    -> queued   ``queued_request``: the catalog's queue row; uploads staged on disk
                (hashed as written), cookies kept in memory only
    -> claimed  ``request_for``: the pipeline's :class:`CaptureRequest`, rebuilt from
                the claimed row, with the cookies lent for it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.catalog import CaptureRow, QueuedRequest
from archive.datadir import Archive
from archive.evidence.trustedtime import TimestampConfig
from archive.timeutil import now_rfc3339
from capture import asseen
from capture.analysis.options import AnalysisOptions
from capture.asseen import AsSeen
from capture.pipeline import DEFAULT_TIMEOUT, CaptureRequest


@dataclass(frozen=True)
class Submission:
    """A capture request as the API received it (URL not yet checked)."""

    url: str
    case: str | None = None
    note: str | None = None
    operator: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    screenshot_png: bytes | None = None
    dom_html: str | None = None
    as_seen_info: dict[str, Any] | None = None
    cookies: list[dict[str, Any]] | None = None
    #: What to read once the capture is sealed; ``None``: the server's defaults.
    analysis: AnalysisOptions | None = None

    @property
    def sends_as_seen(self) -> bool:
        """Whether the request carries anything of the investigator's own view."""
        return not (
            self.screenshot_png is None
            and self.dom_html is None
            and not self.cookies
            and not self.as_seen_info
        )


class LentCookies:
    """The investigator's cookies, lent for one capture each: held in memory from the
    request until a worker takes them, never written anywhere (a restart loses them,
    and the capture then says it ran without them)."""

    def __init__(self) -> None:
        self._lent: dict[str, list[dict[str, Any]]] = {}

    def lend(self, capture_id: str, cookies: list[dict[str, Any]] | None) -> None:
        if cookies:
            self._lent[capture_id] = cookies

    def take(self, capture_id: str) -> list[dict[str, Any]] | None:
        """The cookies lent for ``capture_id``, handed over once."""
        return self._lent.pop(capture_id, None)


def stage_as_seen(archive: Archive, capture_id: str, submission: Submission) -> AsSeen:
    """Write what the investigator's browser sent, hashed as written (blocking)."""
    info = dict(submission.as_seen_info or {})
    info["received_at"] = now_rfc3339()
    as_seen = AsSeen(info=info)
    if submission.screenshot_png is not None:
        as_seen.screenshot = asseen.stage_file(
            archive, capture_id, "as-seen-view.png", submission.screenshot_png, "image/png"
        )
    if submission.dom_html is not None:
        as_seen.dom = asseen.stage_file(
            archive,
            capture_id,
            "as-seen-dom.html",
            submission.dom_html.encode("utf-8"),
            "text/html; charset=utf-8",
        )
    as_seen.cookies = submission.cookies  # so the catalog row says they were sent
    return as_seen


def queued_request(
    capture_id: str,
    url: str,
    submission: Submission,
    as_seen: AsSeen | None,
    analysis: AnalysisOptions,
) -> QueuedRequest:
    """The queue's row for a checked submission (``url`` checked, as-seen staged)."""
    request: dict[str, Any] = {"timeout": submission.timeout}
    if analysis.wanted:
        request["analysis"] = analysis.to_request()
    if as_seen is not None:
        request["as_seen"] = as_seen.to_request()
    return QueuedRequest(
        capture_id, url, submission.case, submission.note, submission.operator, request
    )


def request_for(
    row: CaptureRow, cookies: list[dict[str, Any]] | None, tsa: TimestampConfig | None
) -> CaptureRequest:
    """The pipeline's request for a claimed capture row, with the cookies lent for it
    (kept in memory only: after a restart they are gone, and the capture says so)."""
    as_seen_request = row.request.get("as_seen")
    as_seen = AsSeen.from_request(as_seen_request) if as_seen_request else None
    notes: list[str] = []
    if as_seen is not None:
        as_seen.cookies = cookies
        if as_seen_request.get("cookies_sent") and not cookies:
            notes.append(
                "the cookies lent for this capture were lost when the server restarted "
                "(they are never stored); captured without them"
            )
    return CaptureRequest(
        url=row.url,
        case=row.case,
        note=row.note,
        operator=row.operator,
        timeout=float(row.request.get("timeout", DEFAULT_TIMEOUT)),
        as_seen=as_seen,
        tsa=tsa,
        notes=tuple(notes),
        history=tuple(row.reasons) if row.attempts > 1 else (),
        target_id=row.target_id,
        target_interval=_target_interval(row),
    )


def _target_interval(row: CaptureRow) -> int | None:
    """The interval a target's run was scheduled with, as the scheduler queued it."""
    target = row.request.get("target")
    if isinstance(target, dict) and isinstance(target.get("interval_seconds"), int):
        return target["interval_seconds"]
    return None
