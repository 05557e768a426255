"""What a capture or an analysis run reports while it works: one frozen type per event.

Producers (the pipeline's stages, the recorder, the media downloads, the service, the
analysis runner and workers) construct these; consumers (the CLI's display, the event
streams of :mod:`capture.events`, the server's SSE handlers) read their fields. The
wire is each class's own: :attr:`Event.event_name` is the SSE ``event:`` line and
:meth:`Event.to_json` its ``data``, exactly as docs/api.md documents them (a test
walks this module and holds each event to its table row there).

The wire name is ``event_name``, not ``kind``: a timeline event has a field of
that name.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from archive.catalog import AnalysisRow


@dataclass(frozen=True)
class Event:
    """One thing that happened; subclasses name their wire event and hold its fields."""

    #: The SSE ``event:`` name. Several types may share one (``state``, ``media``).
    event_name: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The SSE ``data``: every field under its own name (tuples as lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The event :meth:`to_json` made (lists read back as tuples), for an event that
        crossed processes (:mod:`capture.event_relay`); ``TypeError`` when ``data``
        lacks a field, ``ValueError`` when it is not this type's."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: _tupled(value) for name, value in data.items() if name in names})

    def server_sent(self, seq: int) -> bytes:
        """The event as one server-sent event of a stream: ``id``, ``event``, ``data``."""
        text = json.dumps(self.to_json(), ensure_ascii=False, default=str)
        return f"id: {seq}\nevent: {self.event_name}\ndata: {text}\n\n".encode()


#: Where progress flows: a callable that hears each event as it happens.
Progress = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The progress of a caller that does not follow it."""


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(item) for item in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Event | AnalysisLink):
        return value.to_json()
    return value


# -- both: queued, and the stages ---------------------------------------------------------


@dataclass(frozen=True)
class Queued(Event):
    """Accepted and waiting for a worker: a capture, or an analysis run."""

    event_name = "state"
    stage: ClassVar[str] = "queued"

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Queued:
        if data != {"stage": cls.stage}:
            raise ValueError(f"not a queued event: {data!r}")
        return cls()


@dataclass(frozen=True)
class StageEntered(Event):
    """The capture (or analysis run) is in ``stage`` now.

    A capture's ``prepare`` names its ``id`` and ``url``, its ``done`` the ``status``
    and its ``failed`` the ``reasons``; the other stages carry the stage alone, so the
    fields a stage does not carry are left out of the JSON, not sent as ``null``.
    """

    event_name = "state"
    stage: str
    id: str | None = None
    url: str | None = None
    status: str | None = None
    reasons: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_json().items() if k == "stage" or v is not None}


# -- a capture ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRecorded(Event):
    """One exchange written to the WARC, with the running counts (coalesced on a stream)."""

    event_name = "resource"
    url: str
    status: int | None
    recorded: int
    bytes: int


@dataclass(frozen=True)
class BehaviourEnded(Event):
    """A behaviour (network idle, scroll, ...) ended: ``finished``, or stopped by its bound."""

    event_name = "behaviour"
    name: str
    finished: bool


@dataclass(frozen=True)
class MediaFound(Event):
    """The media stage found these candidates and starts downloading them."""

    event_name = "media"
    urls: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"found": list(self.urls)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaFound:
        return cls(tuple(data["found"]))


@dataclass(frozen=True)
class MediaDownloading(Event):
    """How far one download got (throttled by the downloader): yt-dlp's own counts."""

    event_name = "media"
    url: str
    downloaded: int
    #: yt-dlp's total, or its estimate (which may be fractional); ``None`` without either.
    total: float | None
    #: yt-dlp's status: ``downloading``, ``finished``, ...
    status: str | None


@dataclass(frozen=True)
class TrustedTimeResult(Event):
    """After sealing: trusted time got (``stamped``), or ``pending`` with the problems."""

    event_name = "timestamp"
    state: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisLink:
    """The analysis run queued for a sealed capture, as its ``done`` event names it."""

    number: int
    href: str

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "href": self.href}


@dataclass(frozen=True)
class CaptureDone(Event):
    """Sealed (``complete`` or ``partial``): the stream's last event."""

    event_name = "done"
    status: str
    reasons: tuple[str, ...]
    manifest_sha256: str | None
    analysis: AnalysisLink | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureDone:
        link = data["analysis"]
        analysis = AnalysisLink(int(link["number"]), str(link["href"])) if link else None
        return cls(data["status"], tuple(data["reasons"]), data["manifest_sha256"], analysis)


@dataclass(frozen=True)
class CaptureFailedEvent(Event):
    """Nothing sealed, and why: the stream's last event (the exception is
    :class:`capture.pipeline.CaptureFailed`)."""

    event_name = "failed"
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class TimelineWritten(Event):
    """A watched target's run is on its timeline, as ``kind`` (first, changed, ...)."""

    event_name = "timeline"
    target_id: int
    kind: str


# -- an analysis run ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunStarted(Event):
    """A run claimed in this process (``analyse``, ``capture --ocr``): the command line's
    header. No stream carries it: the stream's own address names the run."""

    event_name = "run"
    number: int
    capture: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class ReadingTaken(Event):
    """A step starts reading one source: ``what`` it is and where it is in the capture."""

    event_name = "reading"
    step: str
    what: str
    uri: str


@dataclass(frozen=True)
class RunEnded(Event):
    """How a run ended, as the catalog has it: :class:`RunDone` or :class:`RunFailed`."""

    status: str
    reasons: tuple[str, ...]
    #: The run's steps and reading count as the catalog keeps them (free-form).
    summary: dict[str, Any]
    timestamp: str

    @staticmethod
    def of(row: AnalysisRow) -> RunEnded:
        """The ending event of the run ``row`` describes (``done`` sealed an addendum)."""
        ended = RunDone if row.status == "done" else RunFailed
        return ended(row.status, tuple(row.reasons), dict(row.summary), row.timestamp)


@dataclass(frozen=True)
class RunDone(RunEnded):
    """The run sealed its addendum: the stream's last event."""

    event_name = "done"


@dataclass(frozen=True)
class RunFailed(RunEnded):
    """The run sealed nothing: the stream's last event."""

    event_name = "failed"
