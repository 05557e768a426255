"""The catalog: which cases and captures exist, and the hashes of every sealed file.

The catalog is one SQLite database (``DATA/catalog.sqlite3``). This is the only
module that speaks SQL, so a PostgreSQL catalog replaces this one module; the SQL
here sticks to what both understand where it can (``ON CONFLICT``, plain types).

The schema grows only by numbered migrations (:data:`MIGRATIONS`), each applied in
its own transaction with ``PRAGMA user_version`` recording how far a database has
come. A database written by a newer osint-capture is refused, never "repaired".

Evidence settings: WAL (readers never block the writer), ``synchronous=FULL`` (a
committed row survives a power cut), foreign keys on, and every write in a
``BEGIN IMMEDIATE`` transaction that rolls back whole if any part fails.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from archive import catalog_analyses
from archive.catalog_analyses import AnalysisTables
from archive.store import Artifact
from archive.timeutil import now_rfc3339

#: How long a write waits for another process's write to finish before giving up.
BUSY_TIMEOUT_MS = 5000

STATUSES = ("queued", "running", "complete", "partial", "failed")
#: The statuses a capture may end in.
FINISHED_STATUSES = ("complete", "partial", "failed")

CASE_NAME_MAX = 100
_CASE_NAME_PUNCTUATION = frozenset("-_. ")
_CASE_NAME_RULE = (
    f"a case name is 1-{CASE_NAME_MAX} characters: letters, digits, '-', '_', '.' or space,"
    " not starting or ending with a space"
)


@dataclass(frozen=True)
class Migration:
    """One step of the schema. Never edit a released step: add the next one."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "cases, captures and artifacts",
        (
            """
            CREATE TABLE cases (
                id INTEGER PRIMARY KEY,
                name TEXT UNIQUE NOT NULL,
                created_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE captures (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                final_url TEXT,
                case_id INTEGER REFERENCES cases(id),
                note TEXT,
                operator TEXT,
                status TEXT NOT NULL
                    CHECK (status IN ('queued', 'running', 'complete', 'partial', 'failed')),
                reasons TEXT NOT NULL DEFAULT '[]',
                started_at TEXT,
                finished_at TEXT,
                warc TEXT,
                manifest_sha256 TEXT,
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX captures_case_id ON captures(case_id)",
            "CREATE INDEX captures_status ON captures(status)",
            "CREATE INDEX captures_url ON captures(url)",
            """
            CREATE TABLE artifacts (
                capture_id TEXT NOT NULL REFERENCES captures(id),
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                recorded_at TEXT NOT NULL,
                PRIMARY KEY (capture_id, path)
            )
            """,
        ),
    ),
    Migration(
        2,
        "a queue in the catalog: attempts and the request of each capture",
        (
            "ALTER TABLE captures ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            # What was asked for (time budget, as-seen files received): never secrets.
            "ALTER TABLE captures ADD COLUMN request TEXT NOT NULL DEFAULT '{}'",
            "CREATE INDEX captures_queue ON captures(status, created_at)",
        ),
    ),
    Migration(
        3,
        "the custody log's head: the last event the catalog saw written",
        (
            # One row: a truncated or rewritten DATA/custody.jsonl no longer ends here.
            """
            CREATE TABLE custody_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        4,
        "trusted time: each capture's timestamp state and its retry schedule",
        (
            # none: no TSA configured; pending: sealed, no token yet; stamped: token kept.
            "ALTER TABLE captures ADD COLUMN timestamp TEXT NOT NULL DEFAULT 'none'",
            "ALTER TABLE captures ADD COLUMN timestamp_attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE captures ADD COLUMN timestamp_next_at TEXT",
            "CREATE INDEX captures_timestamp ON captures(timestamp, timestamp_next_at)",
        ),
    ),
    Migration(
        5,
        "watched targets, their captures and the timeline of what changed",
        (
            # A removed target keeps its row: its captures and timeline stay evidence.
            """
            CREATE TABLE targets (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL,
                case_id INTEGER REFERENCES cases(id),
                interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
                state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
                next_run_at TEXT,
                last_run_at TEXT,
                operator TEXT,
                note TEXT,
                request TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX targets_due ON targets(state, next_run_at)",
            "ALTER TABLE captures ADD COLUMN target_id INTEGER REFERENCES targets(id)",
            "CREATE INDEX captures_target ON captures(target_id, created_at)",
            """
            CREATE TABLE timeline (
                id INTEGER PRIMARY KEY,
                target_id INTEGER NOT NULL REFERENCES targets(id),
                capture_id TEXT REFERENCES captures(id),
                previous_capture_id TEXT REFERENCES captures(id),
                kind TEXT NOT NULL CHECK (kind IN
                    ('first', 'unchanged', 'changed', 'takedown', 'restored', 'failed')),
                summary TEXT NOT NULL,
                details TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX timeline_target ON timeline(target_id, id)",
        ),
    ),
    Migration(
        6,
        "full-text search over the visible text of every capture (FTS5)",
        (
            # unicode61 knows every script's letters; remove_diacritics 2 folds Latin
            # accents, and Arabic vowel marks are folded before indexing (_search_text).
            """
            CREATE VIRTUAL TABLE capture_text USING fts5(
                capture_id UNINDEXED, url, title, body,
                tokenize = 'unicode61 remove_diacritics 2'
            )
            """,
        ),
    ),
    Migration(
        7,
        "analysis runs (OCR, transcripts, translations) and their text, searchable line by line",
        catalog_analyses.MIGRATION_STATEMENTS,
    ),
)

#: The states of a watched target. A removed target is never scheduled again.
TARGET_STATES = ("active", "paused", "removed")
#: What a target's timeline says of one run, compared with the run before.
TIMELINE_KINDS = ("first", "unchanged", "changed", "takedown", "restored", "failed")
#: Timeline kinds an investigator must be told about.
ALERT_KINDS = ("changed", "takedown", "restored")


class CatalogError(Exception):
    """The catalog cannot be opened, or a write broke one of its rules."""


@dataclass(frozen=True)
class CaseRow:
    id: int
    name: str
    created_at: str


@dataclass(frozen=True)
class QueuedRequest:
    """One capture to queue (see :meth:`Catalog.enqueue_captures`)."""

    capture_id: str
    url: str
    case: str | None
    note: str | None
    operator: str | None
    request: dict[str, object]


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


#: Marks around matched words in :attr:`SearchHit.snippet` (never in page text).
SNIPPET_START, SNIPPET_END = "\x02", "\x03"


def validate_case_name(name: str) -> str:
    """Return ``name`` in Unicode NFC, or raise :class:`ValueError` naming the rule.

    NFC so that the same name typed on two keyboards is one case. Letters and
    digits of any script are allowed, with their combining marks (Arabic vowel
    marks, Devanagari vowel signs); invisible format characters such as bidi
    overrides are not, since they make two different names look alike.
    """
    if not isinstance(name, str):
        raise ValueError(f"{_CASE_NAME_RULE}; got {type(name).__name__}")
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= CASE_NAME_MAX:
        raise ValueError(f"{_CASE_NAME_RULE}; got {len(name)} characters")
    for char in name:
        category = unicodedata.category(char)
        if not (char in _CASE_NAME_PUNCTUATION or category[0] in ("L", "M") or category == "Nd"):
            raise ValueError(f"{_CASE_NAME_RULE}; {char!r} (U+{ord(char):04X}) is not allowed")
    if name[0] == " " or name[-1] == " ":
        raise ValueError(f"{_CASE_NAME_RULE}; got {name!r}")
    return name


class Catalog(AnalysisTables):
    """One connection to the catalog, safe to share between threads (one lock).

    Analysis runs are in :class:`archive.catalog_analyses.AnalysisTables`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Catalog:
        """Open (or create) the catalog at ``path`` and bring its schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every BEGIN here is explicit.
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
            # Refuse a newer schema before changing anything in the file (even its journal mode).
            _refuse_newer(_user_version(conn), _latest_version())
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise CatalogError(f"cannot open catalog {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return _user_version(conn)

    # -- cases ------------------------------------------------------------------------

    def ensure_case(self, name: str) -> CaseRow:
        """The case called ``name``, created now if it does not exist yet."""
        name = validate_case_name(name)
        with self._write() as conn:
            return _ensure_case(conn, name)

    def list_cases(self) -> list[CaseRow]:
        with self._read() as conn:
            rows = conn.execute("SELECT id, name, created_at FROM cases ORDER BY name").fetchall()
        return [CaseRow(row["id"], row["name"], row["created_at"]) for row in rows]

    # -- captures ---------------------------------------------------------------------

    def start_capture(
        self,
        capture_id: str,
        url: str,
        *,
        case: str | None,
        note: str | None,
        operator: str | None,
        started_at: str,
    ) -> CaptureRow:
        """Record a capture as ``running`` (creating its case if needed)."""
        case_name = validate_case_name(case) if case is not None else None
        with self._write() as conn:
            if _get_capture(conn, capture_id) is not None:
                raise CatalogError(f"capture {capture_id} already exists")
            case_id = _ensure_case(conn, case_name).id if case_name is not None else None
            conn.execute(
                "INSERT INTO captures"
                " (id, url, case_id, note, operator, status, started_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (capture_id, url, case_id, note, operator, started_at, now_rfc3339()),
            )
            return _require_capture(conn, capture_id)

    def finish_capture(
        self,
        capture_id: str,
        *,
        status: str,
        reasons: list[str],
        final_url: str | None,
        finished_at: str,
        warc: str | None,
        manifest_sha256: str | None,
        artifacts: list[Artifact],
    ) -> CaptureRow:
        """End a ``running`` capture and record its artifacts, all or nothing."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"a capture finishes as one of {FINISHED_STATUSES}, not {status!r}")
        reasons_json = _reasons_json(reasons)
        with self._write() as conn:
            _require_status(conn, capture_id, ("running",), "finish")
            conn.execute(
                "UPDATE captures SET status = ?, reasons = ?, final_url = ?, finished_at = ?,"
                " warc = ?, manifest_sha256 = ? WHERE id = ?",
                (status, reasons_json, final_url, finished_at, warc, manifest_sha256, capture_id),
            )
            recorded_at = now_rfc3339()
            conn.executemany(
                "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(capture_id, a.path, a.kind, a.sha256, a.size, recorded_at) for a in artifacts],
            )
            return _require_capture(conn, capture_id)

    def fail_capture(self, capture_id: str, *, reasons: list[str], finished_at: str) -> CaptureRow:
        """End a ``queued`` or ``running`` capture as ``failed``, saying why."""
        reasons_json = _reasons_json(reasons)
        with self._write() as conn:
            _require_status(conn, capture_id, ("queued", "running"), "fail")
            conn.execute(
                "UPDATE captures SET status = 'failed', reasons = ?, finished_at = ? WHERE id = ?",
                (reasons_json, finished_at, capture_id),
            )
            return _require_capture(conn, capture_id)

    # -- the queue ------------------------------------------------------------------------

    def enqueue_capture(
        self,
        capture_id: str,
        url: str,
        *,
        case: str | None,
        note: str | None,
        operator: str | None,
        request: dict[str, object],
    ) -> tuple[CaptureRow, bool]:
        """Queue a capture, unless one of the same URL is queued or running.

        Returns the capture and whether it is new. Checking and inserting happen in
        one transaction, so two requests racing for one URL still make one capture.
        """
        item = QueuedRequest(capture_id, url, case, note, operator, request)
        return self.enqueue_captures([item])[0]

    def enqueue_captures(self, items: Sequence[QueuedRequest]) -> list[tuple[CaptureRow, bool]]:
        """:meth:`enqueue_capture` for several captures in one transaction, in order.

        One commit (one fsync of the journal) for all of them: with many requests at
        once, an fsync per capture in a row was what made enqueueing slow. A URL
        queued earlier in the same batch counts as queued. Every case name is
        checked before anything is written, so a bad one writes nothing.
        """
        cases = [validate_case_name(i.case) if i.case is not None else None for i in items]
        with self._write() as conn:
            return [_enqueue(conn, i, c) for i, c in zip(items, cases, strict=True)]

    def claim_next_queued(self, *, started_at: str) -> CaptureRow | None:
        """Take the oldest queued capture and mark it ``running`` (one attempt more)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM captures WHERE status = 'queued' ORDER BY created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE captures SET status = 'running', started_at = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (started_at, row["id"]),
            )
            return _require_capture(conn, row["id"])

    def requeue_capture(self, capture_id: str, *, reason: str) -> CaptureRow:
        """Put a ``running`` capture back in the queue (after a crash), saying why."""
        with self._write() as conn:
            current = _require_capture(conn, capture_id)
            if current.status != "running":
                raise CatalogError(f"cannot requeue capture {capture_id}: it is {current.status}")
            conn.execute(
                "UPDATE captures SET status = 'queued', reasons = ? WHERE id = ?",
                (_reasons_json([*current.reasons, reason]), capture_id),
            )
            return _require_capture(conn, capture_id)

    def get_capture(self, capture_id: str) -> CaptureRow | None:
        with self._read() as conn:
            return _get_capture(conn, capture_id)

    def list_captures(
        self,
        *,
        case: str | None = None,
        status: str | None = None,
        url: str | None = None,
        target_id: int | None = None,
    ) -> list[CaptureRow]:
        """Captures, newest first; optionally only one case's, status's, URL's or target's."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        where: list[str] = []
        params: list[object] = []
        if case is not None:
            where.append("cases.name = ?")
            params.append(unicodedata.normalize("NFC", case))
        if status is not None:
            where.append("captures.status = ?")
            params.append(status)
        if url is not None:
            where.append("captures.url = ?")
            params.append(url)
        if target_id is not None:
            where.append("captures.target_id = ?")
            params.append(target_id)
        sql = _CAPTURE_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY captures.created_at DESC, captures.id"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_capture_row(row) for row in rows]

    def count_captures(self) -> dict[str, int]:
        """How many captures are in each status (every status present, zero or not)."""
        with self._read() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM captures GROUP BY status").fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({row[0]: row[1] for row in rows})
        return counts

    def artifacts(self, capture_id: str) -> list[Artifact]:
        """The sealed files recorded for a capture, by path."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT path, sha256, size, kind FROM artifacts WHERE capture_id = ? ORDER BY path",
                (capture_id,),
            ).fetchall()
        return [Artifact(row["path"], row["sha256"], row["size"], row["kind"]) for row in rows]

    def integrity_check(self) -> str:
        """SQLite's own check of the database file: ``'ok'`` when sound."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._open_conn()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise CatalogError(f"catalog read failed: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed whole, or rolled back whole."""
        with self._lock:
            conn = self._open_conn()
            try:
                with _immediate(conn):
                    yield conn
            except sqlite3.Error as exc:
                raise CatalogError(f"catalog write failed: {exc}") from exc

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CatalogError(f"catalog {self.path} is closed")
        return self._conn

    # -- trusted time -------------------------------------------------------------------

    def add_artifacts(self, capture_id: str, artifacts: list[Artifact]) -> None:
        """Files sealed after the capture (time-stamp tokens): listed with their hashes."""
        recorded_at = now_rfc3339()
        with self._write() as conn:
            if _require_capture(conn, capture_id).status not in ("complete", "partial"):
                raise CatalogError(f"capture {capture_id} is not sealed")
            conn.executemany(
                "INSERT INTO artifacts (capture_id, path, kind, sha256, size, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(capture_id, a.path, a.kind, a.sha256, a.size, recorded_at) for a in artifacts],
            )

    def set_timestamp_state(
        self, capture_id: str, state: str, *, next_at: str | None = None, attempted: bool = False
    ) -> None:
        if state not in ("none", "pending", "stamped"):
            raise ValueError(f"timestamp state must be none, pending or stamped, not {state!r}")
        with self._write() as conn:
            _require_capture(conn, capture_id)
            conn.execute(
                "UPDATE captures SET timestamp = ?, timestamp_next_at = ?,"
                " timestamp_attempts = timestamp_attempts + ? WHERE id = ?",
                (state, next_at, 1 if attempted else 0, capture_id),
            )

    def pending_timestamps(self, *, due_by: str | None = None) -> list[CaptureRow]:
        """Sealed captures still waiting for a token (only those due, given ``due_by``)."""
        sql = _CAPTURE_SELECT + " WHERE captures.timestamp = 'pending'"
        params: list[object] = []
        if due_by is not None:
            sql += " AND (captures.timestamp_next_at IS NULL OR captures.timestamp_next_at <= ?)"
            params.append(due_by)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY captures.finished_at", params).fetchall()
        return [_capture_row(row) for row in rows]

    # -- the custody log's head ---------------------------------------------------------

    def custody_head(self) -> tuple[int, str] | None:
        """The ``(seq, hash)`` of the last custody event recorded, or ``None`` before any."""
        with self._read() as conn:
            row = conn.execute("SELECT seq, hash FROM custody_head WHERE id = 1").fetchone()
        return (int(row["seq"]), str(row["hash"])) if row is not None else None

    def set_custody_head(self, seq: int, hash: str) -> None:
        """Move the custody head forward to ``(seq, hash)``; never back or sideways.

        The head only grows: a lower or equal ``seq`` means two writers disagree about
        the log, which must be looked at, not overwritten.
        """
        with self._write() as conn:
            row = conn.execute("SELECT seq, hash FROM custody_head WHERE id = 1").fetchone()
            if row is not None and seq <= row["seq"]:
                raise CatalogError(
                    f"refusing to move the custody head from seq {row['seq']} to seq {seq}:"
                    " the head only moves forward"
                )
            conn.execute(
                "INSERT INTO custody_head (id, seq, hash, updated_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " updated_at = excluded.updated_at",
                (seq, hash, now_rfc3339()),
            )

    # -- watched targets ----------------------------------------------------------------

    def add_target(
        self,
        url: str,
        *,
        interval_seconds: int,
        case: str | None,
        operator: str | None,
        note: str | None,
        next_run_at: str,
        request: dict[str, object] | None = None,
    ) -> TargetRow:
        """Start watching ``url``: its first run is due at ``next_run_at``."""
        if interval_seconds <= 0:
            raise ValueError(f"an interval is a positive number of seconds, not {interval_seconds}")
        case_name = validate_case_name(case) if case is not None else None
        with self._write() as conn:
            case_id = _ensure_case(conn, case_name).id if case_name is not None else None
            cursor = conn.execute(
                "INSERT INTO targets (url, case_id, interval_seconds, state, next_run_at,"
                " operator, note, request, created_at)"
                " VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?)",
                (
                    url,
                    case_id,
                    interval_seconds,
                    next_run_at,
                    operator,
                    note,
                    json.dumps(request or {}, ensure_ascii=False),
                    now_rfc3339(),
                ),
            )
            return _require_target(conn, int(cursor.lastrowid or 0))

    def get_target(self, target_id: int) -> TargetRow | None:
        with self._read() as conn:
            return _get_target(conn, target_id)

    def list_targets(self, *, include_removed: bool = False) -> list[TargetRow]:
        """Targets in the order they were added; removed ones only when asked for."""
        sql = _TARGET_SELECT
        if not include_removed:
            sql += " WHERE targets.state != 'removed'"
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY targets.id").fetchall()
        return [_target_row(row) for row in rows]

    def set_target_state(
        self, target_id: int, state: str, *, next_run_at: str | None = None
    ) -> TargetRow:
        """Pause, resume (due again at ``next_run_at``) or remove a target.

        Removing is final: a removed target cannot be resumed, so a schedule an
        investigator ended never starts again by mistake. Its captures are kept.
        """
        if state not in TARGET_STATES:
            raise ValueError(f"target state must be one of {TARGET_STATES}, not {state!r}")
        with self._write() as conn:
            current = _require_target(conn, target_id)
            if current.state == "removed":
                raise CatalogError(f"target {target_id} was removed; add it again to watch it")
            conn.execute(
                "UPDATE targets SET state = ?, next_run_at = COALESCE(?, next_run_at) WHERE id = ?",
                (state, next_run_at, target_id),
            )
            return _require_target(conn, target_id)

    def due_targets(self, *, now: str) -> list[TargetRow]:
        """Active targets whose next run is due by ``now``, most overdue first."""
        with self._read() as conn:
            rows = conn.execute(
                _TARGET_SELECT + " WHERE targets.state = 'active' AND targets.next_run_at <= ?"
                " ORDER BY targets.next_run_at, targets.id",
                (now,),
            ).fetchall()
        return [_target_row(row) for row in rows]

    def enqueue_target_run(
        self,
        target_id: int,
        capture_id: str,
        *,
        now: str,
        next_run_at: str,
        request: dict[str, object],
    ) -> CaptureRow | None:
        """Queue one run of a due target and move its schedule to ``next_run_at``.

        One transaction: the target is checked to be active and still due, and to
        have no capture queued or running, so a target never has two captures at
        once and two schedulers (or a restart) never run it twice. Returns the new
        capture, or ``None`` when no run was queued (its schedule moves on anyway
        if a run was still in progress).
        """
        with self._write() as conn:
            target = _require_target(conn, target_id)
            if target.state != "active" or (target.next_run_at or now) > now:
                return None
            busy = conn.execute(
                "SELECT 1 FROM captures WHERE target_id = ? AND status IN ('queued', 'running')",
                (target_id,),
            ).fetchone()
            conn.execute(
                "UPDATE targets SET next_run_at = ? WHERE id = ?", (next_run_at, target_id)
            )
            if busy is not None:
                return None
            conn.execute(
                "INSERT INTO captures (id, url, case_id, note, operator, status, request,"
                " target_id, created_at)"
                " SELECT ?, url, case_id, note, operator, 'queued', ?, id, ? FROM targets"
                " WHERE id = ?",
                (capture_id, json.dumps(request, ensure_ascii=False), now, target_id),
            )
            conn.execute("UPDATE targets SET last_run_at = ? WHERE id = ?", (now, target_id))
            return _require_capture(conn, capture_id)

    def add_timeline_event(
        self,
        target_id: int,
        kind: str,
        summary: str,
        *,
        capture_id: str | None,
        previous_capture_id: str | None = None,
        details: dict[str, object] | None = None,
    ) -> TimelineEvent:
        """Say what one run of a target found, compared with the run before it."""
        if kind not in TIMELINE_KINDS:
            raise ValueError(f"timeline kind must be one of {TIMELINE_KINDS}, not {kind!r}")
        with self._write() as conn:
            _require_target(conn, target_id)
            cursor = conn.execute(
                "INSERT INTO timeline (target_id, capture_id, previous_capture_id, kind,"
                " summary, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    target_id,
                    capture_id,
                    previous_capture_id,
                    kind,
                    summary,
                    json.dumps(details or {}, ensure_ascii=False),
                    now_rfc3339(),
                ),
            )
            row = conn.execute(
                "SELECT * FROM timeline WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
            return _timeline_event(row)

    def timeline(self, target_id: int) -> list[TimelineEvent]:
        """A target's timeline, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM timeline WHERE target_id = ? ORDER BY id", (target_id,)
            ).fetchall()
        return [_timeline_event(row) for row in rows]

    def timeline_for_capture(self, capture_id: str) -> TimelineEvent | None:
        """What the timeline says of one capture, if it was a target's run."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM timeline WHERE capture_id = ? ORDER BY id DESC LIMIT 1",
                (capture_id,),
            ).fetchone()
        return _timeline_event(row) if row is not None else None

    def alerts(self, *, after: int = 0) -> list[TimelineEvent]:
        """Changes, takedowns and restorations after event ``after``, oldest first.

        The extension keeps the id of the last alert it showed and asks for those
        after it: its badge is the number returned.
        """
        placeholders = ", ".join("?" for _ in ALERT_KINDS)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT * FROM timeline WHERE id > ? AND kind IN ({placeholders}) ORDER BY id",
                (after, *ALERT_KINDS),
            ).fetchall()
        return [_timeline_event(row) for row in rows]

    # -- full-text search -----------------------------------------------------------------

    def index_text(self, capture_id: str, *, url: str, title: str, text: str) -> None:
        """Make a sealed capture's visible text searchable (replacing any earlier entry)."""
        with self._write() as conn:
            _require_capture(conn, capture_id)
            conn.execute("DELETE FROM capture_text WHERE capture_id = ?", (capture_id,))
            conn.execute(
                "INSERT INTO capture_text (capture_id, url, title, body) VALUES (?, ?, ?, ?)",
                (capture_id, url, _search_text(title), _search_text(text)),
            )

    def unindexed_captures(self) -> list[CaptureRow]:
        """Sealed captures whose text is not in the search index yet (older captures)."""
        with self._read() as conn:
            rows = conn.execute(
                _CAPTURE_SELECT + " WHERE captures.status IN ('complete', 'partial')"
                " AND captures.id NOT IN (SELECT capture_id FROM capture_text)"
                " ORDER BY captures.created_at"
            ).fetchall()
        return [_capture_row(row) for row in rows]

    def search_text(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Captures whose text, title or URL holds every word of ``query``, best first;
        then lines that OCR, transcripts or translations read in them, each with its place.
        """
        expression = _match_expression(query)
        if not expression:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT capture_id, url, title,"
                " snippet(capture_text, 3, ?, ?, ' … ', 24) AS snippet"
                " FROM capture_text WHERE capture_text MATCH ? ORDER BY rank LIMIT ?",
                (SNIPPET_START, SNIPPET_END, expression, limit),
            ).fetchall()
        hits = [
            SearchHit(row["capture_id"], row["url"], row["title"], row["snippet"]) for row in rows
        ]
        for line in self.search_analysis_text(expression, limit=limit):
            capture = self.get_capture(line.capture_id)
            hits.append(
                SearchHit(
                    line.capture_id,
                    capture.url if capture else "",
                    "",
                    line.snippet,
                    kind=line.kind,
                    number=line.number,
                    place=line.place,
                )
            )
        return hits


_CAPTURE_SELECT = (
    "SELECT captures.*, cases.name AS case_name"
    " FROM captures LEFT JOIN cases ON cases.id = captures.case_id"
)
_TARGET_SELECT = (
    "SELECT targets.*, cases.name AS case_name"
    " FROM targets LEFT JOIN cases ON cases.id = targets.case_id"
)


def _enqueue(
    conn: sqlite3.Connection, item: QueuedRequest, case_name: str | None
) -> tuple[CaptureRow, bool]:
    active = conn.execute(
        _CAPTURE_SELECT + " WHERE captures.url = ? AND captures.status IN"
        " ('queued', 'running') ORDER BY captures.created_at LIMIT 1",
        (item.url,),
    ).fetchone()
    if active is not None:
        return _capture_row(active), False
    case_id = _ensure_case(conn, case_name).id if case_name is not None else None
    conn.execute(
        "INSERT INTO captures (id, url, case_id, note, operator, status, request,"
        " created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
        (
            item.capture_id,
            item.url,
            case_id,
            item.note,
            item.operator,
            json.dumps(item.request, ensure_ascii=False),
            now_rfc3339(),
        ),
    )
    return _require_capture(conn, item.capture_id), True


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """Take the write lock up front, so a transaction never fails half-way for a lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _latest_version() -> int:
    for expected, migration in enumerate(MIGRATIONS, start=1):
        if migration.version != expected:
            raise CatalogError(
                f"migration {migration.version} is out of order (expected {expected})"
            )
    return len(MIGRATIONS)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _refuse_newer(version: int, latest: int) -> None:
    if version > latest:
        raise CatalogError(
            f"catalog schema version {version} is newer than this osint-capture"
            f" understands ({latest}); upgrade osint-capture"
        )


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, one transaction each.

    The version is read again under the write lock, so two processes opening an old
    catalog at once apply each step exactly once.
    """
    latest = _latest_version()
    while True:
        with _immediate(conn):
            version = _user_version(conn)
            _refuse_newer(version, latest)
            if version == latest:
                return
            migration = MIGRATIONS[version]
            try:
                for statement in migration.statements:
                    conn.execute(statement)
            except sqlite3.Error as exc:
                raise CatalogError(
                    f"catalog migration {migration.version} ({migration.description}) failed: {exc}"
                ) from exc
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")


def _ensure_case(conn: sqlite3.Connection, name: str) -> CaseRow:
    conn.execute(
        "INSERT INTO cases (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, now_rfc3339()),
    )
    row = conn.execute("SELECT id, name, created_at FROM cases WHERE name = ?", (name,)).fetchone()
    return CaseRow(row["id"], row["name"], row["created_at"])


def _get_capture(conn: sqlite3.Connection, capture_id: str) -> CaptureRow | None:
    row = conn.execute(_CAPTURE_SELECT + " WHERE captures.id = ?", (capture_id,)).fetchone()
    return _capture_row(row) if row is not None else None


def _require_capture(conn: sqlite3.Connection, capture_id: str) -> CaptureRow:
    row = _get_capture(conn, capture_id)
    if row is None:
        raise CatalogError(f"no capture {capture_id} in the catalog")
    return row


def _require_status(
    conn: sqlite3.Connection, capture_id: str, allowed: tuple[str, ...], action: str
) -> None:
    status = _require_capture(conn, capture_id).status
    if status not in allowed:
        raise CatalogError(f"cannot {action} capture {capture_id}: it is {status}")


def _capture_row(row: sqlite3.Row) -> CaptureRow:
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
    )


def _target_row(row: sqlite3.Row) -> TargetRow:
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
    )


def _timeline_event(row: sqlite3.Row) -> TimelineEvent:
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


def _get_target(conn: sqlite3.Connection, target_id: int) -> TargetRow | None:
    row = conn.execute(_TARGET_SELECT + " WHERE targets.id = ?", (target_id,)).fetchone()
    return _target_row(row) if row is not None else None


def _require_target(conn: sqlite3.Connection, target_id: int) -> TargetRow:
    row = _get_target(conn, target_id)
    if row is None:
        raise CatalogError(f"no target {target_id} in the catalog")
    return row


#: Arabic vowel marks (harakat, shadda, sukun, dagger alif) and the tatweel: a word
#: is found whether or not it was written with them.
_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])


def _search_text(text: str) -> str:
    """Text as indexed and as searched: NFKC, Arabic marks and tatweel removed."""
    return unicodedata.normalize("NFKC", text).translate(_ARABIC_MARKS)


def _match_expression(query: str) -> str:
    """A user's words as an FTS5 query: every word must appear, syntax never interpreted.

    Each word becomes a quoted string, so ``-``, ``*``, ``OR`` or a stray quote in
    what an investigator typed are searched for, not parsed. A trailing ``*`` is kept
    as a prefix search, the one operator worth offering.
    """
    terms = []
    for word in _search_text(query).split():
        prefix = word.endswith("*") and len(word) > 1
        word = word.rstrip("*") if prefix else word
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def _reasons_json(reasons: list[str]) -> str:
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError("reasons must be a list of strings")
    return json.dumps(reasons, ensure_ascii=False)
