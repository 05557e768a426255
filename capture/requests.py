"""A capture request: one typed shape from the API to the pipeline.

:class:`CaptureRequest` is what is asked and what the pipeline runs. The server's
handler builds it from the checked JSON body (the as-seen uploads beside it, as an
:class:`AsSeenUpload`), the scheduler builds it for a watched target's run, the CLI
builds it for one capture. Its fields come in two parts:

asked       url, case, note, operator, collector and device, timeout, analysis,
            as-seen references, target: what the asker decides (the collector is the
            account asking, the device what they asked through); the queue keeps them
            (the row's columns, and :meth:`CaptureRequest.to_json` in its ``request``
            column)
run time    notes, history, media limits, time-stamp authorities, the lent cookies:
            what the server adds when a worker claims it (:func:`claimed`); never stored

Its path through the service:

    submitted  the handler's request and upload; the URL not yet checked
    queued     ``to_queue``: the upload staged (hashed as written), the cookies lent
               in memory only (team mode: sealed beside the row), one catalog row
    claimed    ``claimed``: the row read back (``from_row`` -> ``from_json``), with
               what the server adds at run time
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from archive.catalog import CaptureRow, QueuedRequest
from archive.datadir import Archive
from archive.errors import Failed
from archive.evidence.trustedtime import TimestampConfig
from archive.sealed_store import SealedStore
from archive.timeutil import now_rfc3339
from capture import asseen
from capture.analysis.options import AnalysisOptions
from capture.asseen import AsSeen
from capture.media import MediaLimits

DEFAULT_TIMEOUT = 90.0

#: The keys of the queue row's ``request`` column, as :meth:`CaptureRequest.to_json`
#: writes them (and as the scheduler and the service wrote them before it).
REQUEST_KEYS = ("timeout", "analysis", "as_seen", "target")

LOST_COOKIES = (
    "the cookies lent for this capture were lost when the server restarted "
    "(they are never stored); captured without them"
)


class UnreadableRequest(Failed):
    """A queued capture's ``request`` column is not one this version can read: says what."""


@dataclass(frozen=True)
class TargetRun:
    """The watched target a scheduled run belongs to, as the scheduler queued it."""

    id: int
    url: str
    #: The target's interval when the run was queued, named in the manifest.
    interval_seconds: int | None


@dataclass(frozen=True)
class CaptureRequest:
    """One capture, as asked and as the pipeline runs it."""

    # -- asked: kept by the queue --------------------------------------------------
    url: str
    case: str | None = None
    note: str | None = None
    #: A free-text label of who made it (``--operator``), kept as given.
    operator: str | None = None
    #: The account asking (the custody log's actor) and the device it asks through.
    collector: str | None = None
    device: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: What to read once the capture is sealed (``None``: nothing asked).
    analysis: AnalysisOptions | None = None
    #: What the investigator's browser sent, staged on disk; its ``cookies`` are lent
    #: at run time, never stored.
    as_seen: AsSeen | None = None
    #: The watched target this capture is a scheduled run of (``None``: a one-off).
    target: TargetRun | None = None
    # -- added at run time: never stored ---------------------------------------------
    #: Facts known before the capture starts that make it partial (e.g. lost cookies).
    notes: tuple[str, ...] = ()
    #: What happened to earlier attempts of this capture (a crash, a retry).
    history: tuple[str, ...] = ()
    #: Limits of the media stage; ``None`` skips it (no video downloads).
    media: MediaLimits | None = field(default_factory=MediaLimits)
    #: Time-stamp authorities to ask once sealed; ``None`` (or no TSAs) asks none.
    tsa: TimestampConfig | None = None

    def to_json(self) -> dict[str, Any]:
        """The queue row's ``request`` column: the asked part the row's columns do not
        hold (never the cookies, nor anything added at run time)."""
        data: dict[str, Any] = {"timeout": self.timeout}
        if self.analysis is not None:
            data["analysis"] = self.analysis.to_request()
        if self.as_seen is not None:
            data["as_seen"] = self.as_seen.to_request()
        if self.target is not None:
            data["target"] = {
                "id": self.target.id,
                "url": self.target.url,
                "interval_seconds": self.target.interval_seconds,
            }
        return data

    @classmethod
    def from_json(
        cls,
        data: object,
        *,
        url: str,
        case: str | None = None,
        note: str | None = None,
        operator: str | None = None,
        collector: str | None = None,
        device: str | None = None,
    ) -> CaptureRequest:
        """The request a queue row holds: its columns, and its ``request`` column ``data``.

        Reads what :meth:`to_json` writes, which is what the service and the scheduler
        wrote before it. Anything else raises :class:`UnreadableRequest`, naming it.
        """
        if not isinstance(data, dict):
            raise UnreadableRequest(f"the request is {type(data).__name__}, not an object")
        unknown = sorted(set(data) - set(REQUEST_KEYS))
        if unknown:
            raise UnreadableRequest(f"unknown request field(s): {', '.join(unknown)}")
        try:
            return cls(
                url=url,
                case=case,
                note=note,
                operator=operator,
                collector=collector,
                device=device,
                timeout=_timeout(data.get("timeout", DEFAULT_TIMEOUT)),
                analysis=_analysis(data.get("analysis")),
                as_seen=_as_seen(data.get("as_seen")),
                target=_target(data.get("target")),
            )
        except UnreadableRequest:
            raise
        except Exception as exc:  # a field of the right name and the wrong shape
            raise UnreadableRequest(f"{type(exc).__name__}: {exc}") from exc

    def to_queue(self, capture_id: str, *, lent_cookies: bytes | None = None) -> QueuedRequest:
        """The queue's row for this request (its URL checked, its as-seen staged), with
        the cookies lent for it if sealed for a team's catalog."""
        return QueuedRequest(
            capture_id,
            self.url,
            self.case,
            self.note,
            self.operator,
            self.to_json(),
            lent_cookies=lent_cookies,
            collector=self.collector,
            device=self.device,
        )

    @classmethod
    def from_row(cls, row: CaptureRow) -> CaptureRequest:
        """The request a queued (or claimed) capture row holds."""
        try:
            request = cls.from_json(
                row.request,
                url=row.url,
                case=row.case,
                note=row.note,
                operator=row.operator,
                collector=row.collector,
                device=row.device,
            )
        except UnreadableRequest as exc:
            raise UnreadableRequest(
                f"capture {row.id}: its queued request is unreadable: {exc}"
            ) from exc
        if request.target is None and row.target_id is not None:
            # The catalog links the run to its target even if the request does not say.
            request = replace(request, target=TargetRun(row.target_id, row.url, None))
        return request


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UnreadableRequest(f"timeout {value!r} is not a positive number of seconds")
    return float(value)


def _analysis(value: object) -> AnalysisOptions | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UnreadableRequest(f"analysis {value!r} is not an object")
    return AnalysisOptions.from_request(value)


def _as_seen(value: object) -> AsSeen | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UnreadableRequest(f"as_seen {value!r} is not an object")
    return AsSeen.from_request(value)


def _target(value: object) -> TargetRun | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UnreadableRequest(f"target {value!r} is not an object")
    target_id, url, interval = value.get("id"), value.get("url"), value.get("interval_seconds")
    if isinstance(target_id, bool) or not isinstance(target_id, int) or not isinstance(url, str):
        raise UnreadableRequest(f"target {value!r} has no id and url")
    return TargetRun(target_id, url, interval if isinstance(interval, int) else None)


@dataclass(frozen=True)
class AsSeenUpload:
    """What the investigator's browser sent with a request, still in memory: staged on
    disk before the request is queued (the cookies only lent, never written)."""

    screenshot_png: bytes | None = None
    dom_html: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    cookies: list[dict[str, Any]] | None = None

    @property
    def sends_anything(self) -> bool:
        """Whether the request carries anything of the investigator's own view."""
        return not (
            self.screenshot_png is None
            and self.dom_html is None
            and not self.cookies
            and not self.info
        )


class LentCookies:
    """The investigator's cookies, lent for one capture each: held in memory from the
    request until a worker takes them, never written anywhere (a restart loses them,
    and the capture then says it ran without them).

    Embedded, the server's request and its worker share this memory. In team mode
    (:class:`capture.lending.SealedLending`) :meth:`lend` seals them for the queue's
    row instead, and the worker that claims the capture holds them here.
    """

    def __init__(self) -> None:
        self._lent: dict[str, list[dict[str, Any]]] = {}

    def refuse_unless_able(self, cookies: list[dict[str, Any]] | None) -> None:
        """Raise when ``cookies`` could not reach the capture (before anything is staged)."""

    def lend(self, capture_id: str, cookies: list[dict[str, Any]] | None) -> bytes | None:
        """Lent before the capture is queued; what the queue's row keeps of them (here
        nothing: they stay in this process's memory)."""
        self.hold(capture_id, cookies)
        return None

    def hold(self, capture_id: str, cookies: list[dict[str, Any]] | None) -> None:
        if cookies:
            self._lent[capture_id] = cookies

    def take(self, capture_id: str) -> list[dict[str, Any]] | None:
        """The cookies lent for ``capture_id``, handed over once."""
        return self._lent.pop(capture_id, None)

    def lost(self, capture_id: str) -> str:
        """Why cookies sent for ``capture_id`` are not here (for its manifest)."""
        return LOST_COOKIES


def stage_as_seen(archive: Archive, capture_id: str, upload: AsSeenUpload) -> AsSeen:
    """Stage what the investigator's browser sent, hashed as written (blocking); if any
    part fails, what was staged of it goes again."""
    try:
        return _staged(archive, capture_id, upload)
    except BaseException:
        asseen.discard_incoming(archive, capture_id)
        raise


def _staged(archive: Archive, capture_id: str, upload: AsSeenUpload) -> AsSeen:
    as_seen = AsSeen(info={**upload.info, "received_at": now_rfc3339()})
    if upload.screenshot_png is not None:
        as_seen.screenshot = asseen.stage_file(
            archive, capture_id, "as-seen-view.png", upload.screenshot_png, "image/png"
        )
    if upload.dom_html is not None:
        as_seen.dom = asseen.stage_file(
            archive,
            capture_id,
            "as-seen-dom.html",
            upload.dom_html.encode("utf-8"),
            "text/html; charset=utf-8",
        )
    as_seen.cookies_sent = bool(upload.cookies)  # so the catalog row says they were sent
    return as_seen


def claimed(
    row: CaptureRow,
    cookies: list[dict[str, Any]] | None,
    tsa: TimestampConfig | None,
    *,
    lost: str = LOST_COOKIES,
) -> CaptureRequest:
    """The request of a claimed capture row, with what the server adds at run time: the
    cookies lent for it (memory only: after a restart they are gone, and the capture
    says so, with ``lost``), the time-stamp authorities, and what befell its earlier
    attempts.

    Raises :class:`UnreadableRequest` when the row's request cannot be read.
    """
    request = CaptureRequest.from_row(row)
    as_seen, notes = request.as_seen, []
    if as_seen is not None:
        if as_seen.cookies_sent and not cookies:
            notes.append(lost)
        as_seen = replace(as_seen, cookies=cookies)
    return replace(
        request,
        as_seen=as_seen,
        tsa=tsa,
        notes=tuple(notes),
        history=tuple(row.reasons) if row.attempts > 1 else (),
    )


def fetched(store: SealedStore, capture_id: str, request: CaptureRequest) -> CaptureRequest:
    """The request with its as-seen files on this machine's disk (blocking: a team's
    store downloads them); any that could not be is a note that makes it partial."""
    if request.as_seen is None:
        return request
    as_seen, problems = asseen.fetch_staged(store, capture_id, request.as_seen)
    return replace(request, as_seen=as_seen, notes=(*request.notes, *problems))
