"""What the catalog hands back: frozen rows, the values their fields may take, and the
converters from the database's rows.

Callers never see a database's own row type: the SQLite and the PostgreSQL catalog
return these same types, so nothing outside the catalog changes with the database.
The converters for the wide rows live here, beside their types, so a new column is
added in one module (JSON columns decoded, the case's name joined in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from archive.catalog.session import Row

STATUSES = ("queued", "running", "complete", "partial", "failed")
#: The statuses a capture may end in.
FINISHED_STATUSES = ("complete", "partial", "failed")

#: The states of a watched target. A removed target is never scheduled again.
TARGET_STATES = ("active", "paused", "removed")
#: What a target's timeline says of one run, compared with the run before.
TIMELINE_KINDS = ("first", "unchanged", "changed", "takedown", "restored", "failed")
#: Timeline kinds an investigator must be told about.
ALERT_KINDS = ("changed", "takedown", "restored")

ANALYSIS_STATUSES = ("queued", "running", "done", "failed")

#: Marks around matched words in :attr:`SearchHit.snippet` (never in page text).
SNIPPET_START, SNIPPET_END = "\x02", "\x03"


@dataclass(frozen=True)
class CaseRow:
    id: int
    name: str
    created_at: str


@dataclass(frozen=True)
class CaseHold:
    """A case on legal hold: nothing of it may be deleted, whatever its retention."""

    case: str
    held_by: str | None
    reason: str | None
    held_at: str


@dataclass(frozen=True)
class ObjectVersion:
    """The one version of a stored object that the catalog vouches for (object stores)."""

    key: str
    version_id: str
    sha256: str
    size: int
    stored_at: str


@dataclass(frozen=True)
class QueuedRequest:
    """One capture to queue (see :meth:`Catalog.enqueue_captures`)."""

    capture_id: str
    url: str
    case: str | None
    note: str | None
    operator: str | None
    request: dict[str, object]
    #: Cookies lent for the capture, sealed (encrypted) by the caller: kept beside the
    #: row, in the same transaction, until a worker takes them (a shared catalog only).
    lent_cookies: bytes | None = field(default=None, repr=False)
    #: The account that asked for it, and the device it asked through (a token's name).
    collector: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class CaptureRow:
    id: str
    url: str
    final_url: str | None
    case: str | None
    note: str | None
    operator: str | None
    status: str
    reasons: list[str]
    started_at: str | None
    finished_at: str | None
    warc: str | None
    manifest_sha256: str | None
    created_at: str
    attempts: int = 0
    request: dict[str, object] = field(default_factory=dict)
    timestamp: str = "none"
    timestamp_attempts: int = 0
    timestamp_next_at: str | None = None
    target_id: int | None = None
    #: The account that asked for the capture (``None``: made before there were
    #: accounts), and the device it asked through: a token's name, the dashboard or
    #: the command line. ``operator`` is a free-text label beside them.
    collector: str | None = None
    device: str | None = None
    #: A deleted capture's tombstone: when its files were removed, by whom, and why
    #: (``None`` while they are kept). ``status`` stays what it was sealed as.
    deleted_at: str | None = None
    deleted_by: str | None = None
    deletion_reason: str | None = None

    @property
    def shown_status(self) -> str:
        """The status to show people: ``deleted`` for a tombstone, else ``status``."""
        return "deleted" if self.deleted_at is not None else self.status


@dataclass(frozen=True)
class TargetRow:
    """A URL re-captured every ``interval_seconds`` while ``active``."""

    id: int
    url: str
    case: str | None
    interval_seconds: int
    state: str
    next_run_at: str | None
    last_run_at: str | None
    operator: str | None
    note: str | None
    request: dict[str, object]
    created_at: str
    #: The account that started watching it, and through what; its runs are theirs.
    collector: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """What a scheduler decides for one run of a due target (see ``claim_due_targets``)."""

    capture_id: str
    next_run_at: str
    request: dict[str, object]


@dataclass(frozen=True)
class TimelineEvent:
    """One run of a target compared with the run before it."""

    id: int
    target_id: int
    capture_id: str | None
    previous_capture_id: str | None
    kind: str
    summary: str
    details: dict[str, object]
    created_at: str


@dataclass(frozen=True)
class SearchHit:
    """A capture whose visible text (or URL, or title) matched a search, or a line that
    an analysis run read in it (OCR, transcript, translation: ``number`` and ``place``)."""

    capture_id: str
    url: str
    title: str
    snippet: str  # the matching passage, the matched words between \x02 and \x03
    kind: str = "page text"  # page text | ocr | transcript | translation
    number: int | None = None  # the analysis run, for machine-read text
    place: dict[str, object] | None = None  # where in its source (box, offset, times)


@dataclass(frozen=True)
class AnalysisRow:
    capture_id: str
    number: int
    status: str
    request: dict[str, Any]
    operator: str | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    addendum_sha256: str | None
    summary: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    timestamp: str = "none"
    timestamp_attempts: int = 0
    #: The account that asked for the run and the device it asked through (``None``:
    #: asked before there were accounts, or by the command line without one).
    requested_by: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class TextLine:
    """One line or segment of a reading, as indexed: its text and where it was found."""

    kind: str  # ocr | transcript | translation
    place: dict[str, Any]
    text: str


@dataclass(frozen=True)
class AnalysisHit:
    """A line of machine-read text that matched a search, and where it was read."""

    capture_id: str
    number: int
    kind: str
    place: dict[str, Any]
    snippet: str


def capture_row(row: Row) -> CaptureRow:
    """A ``captures`` row joined with its case's name (``case_name``)."""
    return CaptureRow(
        id=row["id"],
        url=row["url"],
        final_url=row["final_url"],
        case=row["case_name"],
        note=row["note"],
        operator=row["operator"],
        status=row["status"],
        reasons=list(json.loads(row["reasons"])),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        warc=row["warc"],
        manifest_sha256=row["manifest_sha256"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        request=dict(json.loads(row["request"])),
        timestamp=row["timestamp"],
        timestamp_attempts=row["timestamp_attempts"],
        timestamp_next_at=row["timestamp_next_at"],
        target_id=row["target_id"],
        collector=row["collector"],
        device=row["device"],
        deleted_at=row["deleted_at"],
        deleted_by=row["deleted_by"],
        deletion_reason=row["deletion_reason"],
    )


def target_row(row: Row) -> TargetRow:
    """A ``targets`` row joined with its case's name (``case_name``)."""
    return TargetRow(
        id=row["id"],
        url=row["url"],
        case=row["case_name"],
        interval_seconds=row["interval_seconds"],
        state=row["state"],
        next_run_at=row["next_run_at"],
        last_run_at=row["last_run_at"],
        operator=row["operator"],
        note=row["note"],
        request=dict(json.loads(row["request"])),
        created_at=row["created_at"],
        collector=row["collector"],
        device=row["device"],
    )


def timeline_event(row: Row) -> TimelineEvent:
    return TimelineEvent(
        id=row["id"],
        target_id=row["target_id"],
        capture_id=row["capture_id"],
        previous_capture_id=row["previous_capture_id"],
        kind=row["kind"],
        summary=row["summary"],
        details=dict(json.loads(row["details"])),
        created_at=row["created_at"],
    )


def analysis_row(row: Row) -> AnalysisRow:
    return AnalysisRow(
        capture_id=row["capture_id"],
        number=int(row["number"]),
        status=row["status"],
        request=dict(json.loads(row["request"])),
        operator=row["operator"],
        attempts=int(row["attempts"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        addendum_sha256=row["addendum_sha256"],
        summary=dict(json.loads(row["summary"])),
        reasons=list(json.loads(row["reasons"])),
        timestamp=row["timestamp"],
        timestamp_attempts=int(row["timestamp_attempts"]),
        requested_by=row["requested_by"],
        device=row["device"],
    )


@dataclass(frozen=True)
class UserRow:
    """An account. ``password_hash`` (Argon2id) and ``totp_secret`` never leave the
    server: :meth:`public` is what lists and the API show."""

    name: str
    role: str
    password_hash: str | None = field(repr=False)
    totp_secret: str | None = field(repr=False)
    oidc_subject: str | None
    disabled_at: str | None
    failed_logins: int
    locked_until: str | None
    created_at: str
    created_by: str | None

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "password": self.password_hash is not None,
            "second_factor": self.totp_secret is not None,
            "oidc": self.oidc_subject is not None,
            "disabled_at": self.disabled_at,
            "locked_until": self.locked_until,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class TokenRow:
    """A device token of one person (its secret is never kept: only its SHA-256)."""

    id: int
    user: str
    name: str
    origin: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


@dataclass(frozen=True)
class SessionRow:
    """A dashboard session, known by the SHA-256 of the id in its cookie."""

    id_sha256: str
    user: str
    second_factor: bool
    created_at: str
    last_used_at: str
