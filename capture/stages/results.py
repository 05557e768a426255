"""What each stage of a capture returns: frozen, typed, handed on to the stages after it.

The reasons, notes, items and page info are made from these (``outcome.py``), so a
stage never writes its findings into shared state; the order of the reasons is the
order of the stages. The exchanges they hold are the recorder's own objects, read
when a result is made or used, never changed through a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.manifest import Manifest
from archive.store import ArtifactWriter
from archive.warcfile import WarcFile
from capture import derived, media
from capture.behaviours import BehaviourResult
from capture.exchange import Exchange
from capture.visibility import Visibility


@dataclass(frozen=True)
class Prepared:
    """prepare: the capture's directory and its WARC file, open."""

    warc_name: str
    #: The WARC file as the store writes it (hashed, sealed at the end).
    sink: ArtifactWriter
    warc: WarcFile
    #: Where the recorder spools large bodies: scratch on the data disk.
    spool_dir: Path


@dataclass(frozen=True)
class Loaded:
    """load: whether the load event fired (``None``: navigation ended with an error)."""

    load_event: bool | None
    #: The error a navigation ended with after the page had answered.
    navigation_error: str = ""


@dataclass(frozen=True)
class BehavioursDone:
    """behaviours: each behaviour's result, and whether the browser was found gone."""

    results: tuple[BehaviourResult, ...]
    #: Set when Chromium was found gone after the behaviours: when, and how.
    browser_lost: str = ""


@dataclass(frozen=True)
class Cut:
    """cut: the requests still loading when recording stopped, and why it stopped."""

    exchanges: tuple[Exchange, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class DerivedRecords:
    """derived: the records taken from the rendered page, written to the WARC."""

    title: str | None
    #: The top-level document's hops, redirects first (empty if navigation never started).
    main: tuple[Exchange, ...]
    ref: derived.PageRef
    #: Every derived record, page info last (their payloads are closed once sealed).
    records: tuple[derived.Derived, ...]
    #: The full-page screenshot, also kept as a file of its own.
    screenshot: derived.Derived | None
    #: One sentence per derived record that could not be taken.
    failures: tuple[str, ...] = ()
    #: Whether the page's content could be seen when the records were taken (``None``:
    #: not measured, a result made outside the pipeline).
    visibility: Visibility | None = None


@dataclass(frozen=True)
class AsSeenWritten:
    """as-seen: the investigator's own files, written; what was wrong with them."""

    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class MediaResult:
    """media: what the media stage preserved, and whether the browser was found gone."""

    preserved: media.Preserved
    #: Set when Chromium was found gone after the media stage (and not before).
    browser_lost: str = ""


@dataclass(frozen=True)
class Swept:
    """seal, first: the last requests cut, and what the capture does not hold, found as
    the recorder has it before it closes."""

    stragglers: tuple[Exchange, ...]
    #: What the capture does not hold, found at sealing (see ``outcome.losses_at_sealing``).
    losses: tuple[str, ...]
    #: What a reader should know that is not a loss (the manifest's ``extra.notes``).
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Sealed:
    """seal: the sealed capture's manifest."""

    manifest: Manifest


@dataclass(frozen=True)
class Stamped:
    """timestamp: the capture's trusted-time state, and what went wrong asking for it."""

    state: str
    problems: tuple[str, ...] = ()


#: The results the reasons are made from, in the order the stages return them.
StageResult = Loaded | BehavioursDone | Cut | DerivedRecords | AsSeenWritten | MediaResult | Swept
