"""Watched targets: URLs re-captured on a schedule, the timeline of what each run found,
and the alerts an investigator must see (changes, takedowns, restorations).

A removed target keeps its row, its captures and its timeline: they stay evidence.
Scheduling a run is one transaction with the checks that the target is still due and
has no run in progress, so two schedulers (or a restart) never run a target twice: on
SQLite the transaction is the only writer; on PostgreSQL it holds the target's row,
and a scheduler claiming due targets passes over rows another one holds
(:meth:`TargetTables.claim_due_targets`, ``SKIP LOCKED``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from archive.catalog.cases import validate_case_name
from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import (
    ALERT_KINDS,
    TARGET_STATES,
    TIMELINE_KINDS,
    CaptureRow,
    RunPlan,
    TargetRow,
    TimelineEvent,
    target_row,
    timeline_event,
)
from archive.catalog.session import Session
from archive.catalog.shared import (
    NotInCatalog,
    TargetRemoved,
    ensure_case_row,
    require_capture,
)
from archive.catalog.visibility import Visibility
from archive.timeutil import now_rfc3339

_TARGET_SELECT = (
    "SELECT targets.*, cases.name AS case_name"
    " FROM targets LEFT JOIN cases ON cases.id = targets.case_id"
)

#: The most targets one claim may name (each is a bound parameter of one statement).
MAX_CLAIM = 500


class TargetTables(CatalogConnection):
    """Watched targets and their timeline. Part of :class:`archive.catalog.Catalog`."""

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
        collector: str | None = None,
        device: str | None = None,
    ) -> TargetRow:
        """Start watching ``url``: its first run is due at ``next_run_at``. Its runs are
        collected by the account ``collector`` (through ``device``) that asked for it."""
        if interval_seconds <= 0:
            raise ValueError(f"an interval is a positive number of seconds, not {interval_seconds}")
        case_name = validate_case_name(case) if case is not None else None
        with self._write() as conn:
            case_id = ensure_case_row(conn, case_name).id if case_name is not None else None
            row = conn.execute(
                "INSERT INTO targets (url, case_id, interval_seconds, state, next_run_at,"
                " operator, note, request, created_at, collector, device)"
                " VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    url,
                    case_id,
                    interval_seconds,
                    next_run_at,
                    operator,
                    note,
                    json.dumps(request or {}, ensure_ascii=False),
                    now_rfc3339(),
                    collector,
                    device,
                ),
            ).fetchone()
            return _require_target(conn, int(row["id"]))

    def get_target(self, target_id: int) -> TargetRow | None:
        """The target (removed ones too), or ``None`` when the catalog has no such id."""
        with self._read() as conn:
            return _get_target(conn, target_id)

    def list_targets(
        self, *, include_removed: bool = False, visible_to: Visibility | None = None
    ) -> list[TargetRow]:
        """Targets in the order they were added; removed ones only when asked for; only
        those ``visible_to`` one person when given (filtered in the query)."""
        where: list[str] = []
        params: list[object] = []
        if not include_removed:
            where.append("targets.state != 'removed'")
        if visible_to is not None:
            condition, params = visible_to.targets_where()
            where.append(condition)
        sql = _TARGET_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY targets.id", params).fetchall()
        return [target_row(row) for row in rows]

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
            current = _require_target(conn, target_id, lock=True)
            if current.state == "removed":
                raise TargetRemoved(f"target {target_id} was removed; add it again to watch it")
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
        return [target_row(row) for row in rows]

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
            target = _require_target(conn, target_id, lock=True)
            if target.state != "active" or (target.next_run_at or now) > now:
                return None
            return _queue_run(conn, target, RunPlan(capture_id, next_run_at, request), now)

    def claim_due_targets(self, *, now: str, plans: Mapping[int, RunPlan]) -> list[CaptureRow]:
        """Queue the planned run of each target in ``plans`` still due by ``now``, in one
        transaction; return the captures queued, most overdue first.

        ``plans`` (at most :data:`MAX_CLAIM`) maps a target's id to its run: the new
        capture's id, the target's next run and the run's request, which the scheduler
        worked out from :meth:`due_targets` after putting each target's last run on its
        timeline. Each target is checked and moved as by :meth:`enqueue_target_run`
        (active, still due, no run in progress); on PostgreSQL a target another
        scheduler is claiming at the same moment is passed over (``SKIP LOCKED``), and
        is no longer due once that one commits, so two schedulers on two machines never
        queue the same run.
        """
        if len(plans) > MAX_CLAIM:
            raise ValueError(f"claim at most {MAX_CLAIM} targets at once, not {len(plans)}")
        if not plans:
            return []
        queued = []
        with self._write() as conn:
            rows = conn.execute(
                _TARGET_SELECT + " WHERE targets.state = 'active' AND targets.next_run_at <= ?"
                f" AND targets.id IN ({', '.join('?' for _ in plans)})"
                " ORDER BY targets.next_run_at, targets.id" + conn.skip_locked("targets"),
                (now, *plans),
            ).fetchall()
            for row in rows:
                target = target_row(row)
                run = _queue_run(conn, target, plans[target.id], now)
                if run is not None:
                    queued.append(run)
        return queued

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
            inserted = conn.execute(
                "INSERT INTO timeline (target_id, capture_id, previous_capture_id, kind,"
                " summary, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    target_id,
                    capture_id,
                    previous_capture_id,
                    kind,
                    summary,
                    json.dumps(details or {}, ensure_ascii=False),
                    now_rfc3339(),
                ),
            ).fetchone()
            row = conn.execute("SELECT * FROM timeline WHERE id = ?", (inserted["id"],)).fetchone()
            return timeline_event(row)

    def timeline(self, target_id: int) -> list[TimelineEvent]:
        """A target's timeline, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM timeline WHERE target_id = ? ORDER BY id", (target_id,)
            ).fetchall()
        return [timeline_event(row) for row in rows]

    def timeline_for_capture(self, capture_id: str) -> TimelineEvent | None:
        """What the timeline says of one capture, if it was a target's run."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM timeline WHERE capture_id = ? ORDER BY id DESC LIMIT 1",
                (capture_id,),
            ).fetchone()
        return timeline_event(row) if row is not None else None

    def alerts(
        self, *, after: int = 0, visible_to: Visibility | None = None
    ) -> list[TimelineEvent]:
        """Changes, takedowns and restorations after event ``after``, oldest first; only
        of the targets ``visible_to`` one person when given (filtered in the query).

        The extension keeps the id of the last alert it showed and asks for those
        after it: its badge is the number returned.
        """
        placeholders = ", ".join("?" for _ in ALERT_KINDS)
        sql = f"SELECT * FROM timeline WHERE id > ? AND kind IN ({placeholders})"
        params: list[object] = [after, *ALERT_KINDS]
        if visible_to is not None:
            condition, more = visible_to.targets_where()
            sql += f" AND target_id IN (SELECT targets.id FROM targets WHERE {condition})"
            params.extend(more)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [timeline_event(row) for row in rows]


def _get_target(conn: Session, target_id: int, *, lock: bool = False) -> TargetRow | None:
    sql = _TARGET_SELECT + " WHERE targets.id = ?"
    if lock:
        sql += conn.lock_rows("targets")
    row = conn.execute(sql, (target_id,)).fetchone()
    return target_row(row) if row is not None else None


def _require_target(conn: Session, target_id: int, *, lock: bool = False) -> TargetRow:
    """The target, or :class:`NotInCatalog`: a write about an unknown target is refused."""
    row = _get_target(conn, target_id, lock=lock)
    if row is None:
        raise NotInCatalog(f"no target {target_id} in the catalog")
    return row


def _queue_run(conn: Session, target: TargetRow, plan: RunPlan, now: str) -> CaptureRow | None:
    """Queue ``plan``'s run of ``target`` (due, active, its row held) and move its schedule.

    No run while one of the target's captures is still queued or running: the
    schedule moves on all the same, and ``None`` says nothing was queued.
    """
    busy = conn.execute(
        "SELECT 1 FROM captures WHERE target_id = ? AND status IN ('queued', 'running')",
        (target.id,),
    ).fetchone()
    conn.execute("UPDATE targets SET next_run_at = ? WHERE id = ?", (plan.next_run_at, target.id))
    if busy is not None:
        return None
    conn.execute(
        "INSERT INTO captures (id, url, case_id, note, operator, status, request,"
        " target_id, created_at, collector, device)"
        " SELECT ?, url, case_id, note, operator, 'queued', ?, id, ?, collector, device"
        " FROM targets WHERE id = ?",
        (plan.capture_id, json.dumps(plan.request, ensure_ascii=False), now, target.id),
    )
    conn.execute("UPDATE targets SET last_run_at = ? WHERE id = ?", (now, target.id))
    return require_capture(conn, plan.capture_id)
