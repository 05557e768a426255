"""The chain of custody: one append-only, hash-linked log of everything done to the archive.

A court asks not only "is this what the page showed?" but "who touched it, when, and
can you prove nothing was left out?". ``DATA/custody.jsonl`` answers: one JSON object
per line (UTF-8), one line per event, each linked to the one before, so removing,
editing, reordering or truncating events is visible to anyone who re-reads the file.

An event::

    {"action": "captured", "actor": "amal", "captures": ["<id>"],
     "clock": "system clock, UTC", "details": {...},
     "hash": "<64 hex>", "prev": "<64 hex>", "seq": 7,
     "time": "2026-11-26T12:00:00.000000Z"}

- ``seq`` counts from 1 with no gaps.
- ``hash`` is the SHA-256 (hex) of the canonical JSON of the event *without* ``hash``.
  Canonical JSON is ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")`` (NaN and infinities refused): one byte string
  for one content, whatever wrote it.
- ``prev`` is the previous event's ``hash`` (64 zeros for the first event). Linking to
  the hash rather than to the raw line is enough, and simpler to check: the hash
  covers every field of the previous event including its own ``prev``, and every line
  must be exactly the canonical JSON of its event (with ``hash``) plus ``\\n``, so the
  line's bytes follow from what the hash covers. A verifier recomputes each hash from
  the parsed line and compares it with the next event's ``prev``.

Each line is written whole with ``O_APPEND`` under an exclusive ``flock`` (so two
processes never interleave), then fsynced; only then is the new head ``(seq, hash)``
recorded in the catalog (``custody_head``). The catalog head is what makes truncation
visible: a log cut short, or with a rewritten tail, no longer ends at the head.

Two crashes are handled, and only these:

- Between the fsync and the head update, the log ends one event past the head, and
  that event's ``prev`` is the head's hash. This is exactly an append that finished
  writing, so :meth:`CustodyLog.append` records the head and carries on. It does not
  weaken the guarantee: whoever could write such a line could as well have called
  ``append``; a hash chain without a secret proves that nothing recorded was changed
  or removed, not that nothing was added at the end.
- During the write, the last line is torn (no newline, or not JSON). ``append`` then
  refuses, naming :meth:`CustodyLog.repair`, which moves the torn bytes to
  ``DATA/custody.jsonl.torn-<time>`` (read-only) and records a ``log-repaired`` event.

Anything else (a gap, an edit, a head the log does not reach) is left for a person to
look at: :meth:`CustodyLog.verify` names it, and nothing is appended after it.

``custody.jsonl`` is never rewritten or truncated in place. The one exception in
spirit, :meth:`~CustodyLog.repair`, writes a new file holding the old file's sound
lines byte for byte plus the repair event, renames it over the log and keeps the
removed bytes beside it, so the old file is exactly the sound lines followed by the
``.torn-`` file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.catalog import Catalog, CatalogError
from archive.store import fsync_dir, write_all_and_sync
from archive.timeutil import CLOCK_SOURCE, now_rfc3339, utc_now

LOG_NAME = "custody.jsonl"
LOCK_NAME = LOG_NAME + ".lock"
TORN_PREFIX = LOG_NAME + ".torn-"
#: ``prev`` of the first event.
GENESIS = "0" * 64
#: The actor of events no person asked for (start-up recovery, key creation).
SYSTEM_ACTOR = "system"

#: What may be recorded. ``log-repaired`` is written only by :meth:`CustodyLog.repair`.
ACTIONS = (
    "captured",
    "capture-failed",
    # Unsealed leftovers of an interrupted capture moved to DATA/quarantine/ on start-up.
    "quarantined",
    "timestamped",
    "re-captured",
    "exported",
    "verified",
    "deleted",
    "key-created",
    "log-repaired",
)

#: The actions that seal a capture: their details carry the manifest's SHA-256.
#: ``re-captured`` is a watched target's scheduled run, sealed like any other.
SEALING_ACTIONS = ("captured", "re-captured")

FIELDS = ("seq", "time", "clock", "action", "actor", "captures", "details", "prev", "hash")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_READ_CHUNK = 64 * 1024


class CustodyError(Exception):
    """The custody log cannot be written or read as it stands; the message says why."""


class TornLogError(CustodyError):
    """The log ends in a torn line; :meth:`CustodyLog.repair` is the way on."""


def canonical_json(obj: object) -> bytes:
    """The one byte string of ``obj`` that hashes are taken over (see module doc)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: Mapping[str, object]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``event`` without its ``hash`` field."""
    body = {name: value for name, value in event.items() if name != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class Event:
    """One line of the custody log."""

    seq: int
    time: str
    clock: str
    action: str
    actor: str
    captures: tuple[str, ...]
    details: dict[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "clock": self.clock,
            "action": self.action,
            "actor": self.actor,
            "captures": list(self.captures),
            "details": self.details,
            "prev": self.prev,
            "hash": self.hash,
        }

    def line(self) -> bytes:
        """The exact bytes of this event in the log, newline included."""
        return canonical_json(self.to_dict()) + b"\n"

    @classmethod
    def from_dict(cls, obj: object) -> Event:
        """Read an event, checking its shape (not its hash: that is :func:`verify_slice`'s)."""
        if not isinstance(obj, dict):
            raise ValueError(f"an event is a JSON object, not {type(obj).__name__}")
        missing = [name for name in FIELDS if name not in obj]
        extra = sorted(set(obj) - set(FIELDS))
        if missing or extra:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"unexpected {', '.join(extra)}"] if extra else []
            raise ValueError("fields: " + "; ".join(parts))
        seq = obj["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"seq must be a positive integer, not {seq!r}")
        for name in ("time", "clock", "action", "actor"):
            if not isinstance(obj[name], str) or not obj[name]:
                raise ValueError(f"{name} must be a non-empty string")
        captures = obj["captures"]
        if not isinstance(captures, list) or not all(isinstance(c, str) for c in captures):
            raise ValueError("captures must be a list of strings")
        if not isinstance(obj["details"], dict):
            raise ValueError("details must be an object")
        for name in ("prev", "hash"):
            if not isinstance(obj[name], str) or not _HEX64.fullmatch(obj[name]):
                raise ValueError(f"{name} must be 64 lowercase hex digits")
        return cls(
            seq=seq,
            time=obj["time"],
            clock=obj["clock"],
            action=obj["action"],
            actor=obj["actor"],
            captures=tuple(captures),
            details=obj["details"],
            prev=obj["prev"],
            hash=obj["hash"],
        )


@dataclass(frozen=True)
class CustodyProblem:
    """One thing wrong with the log, named by line (1-based) and seq where known."""

    kind: str
    message: str
    line: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return self.message


#: The kinds of :class:`CustodyProblem`.
PROBLEM_KINDS = (
    "torn",  # the last line is incomplete: a crash during a write (repairable)
    "invalid-json",  # a line in the middle is not JSON
    "malformed",  # JSON, but not an event
    "not-canonical",  # the line's bytes are not the canonical form of its event
    "hash-mismatch",  # the event's content does not match its hash: edited
    "seq",  # seq does not follow the line before: removed, reordered or inserted
    "prev-mismatch",  # prev is not the hash of the line before
    "head-mismatch",  # the log's end is not the catalog's head
)


@dataclass(frozen=True)
class CustodyReport:
    """What :meth:`CustodyLog.verify` found. ``ok`` when there are no problems."""

    path: Path
    events: int
    last: tuple[int, str] | None
    catalog_head: tuple[int, str] | None
    problems: tuple[CustodyProblem, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """A short text for people: the verdict, then each problem and warning."""
        if self.ok:
            where = f"ends at seq {self.last[0]}" if self.last else "is empty"
            lines = [f"custody log {self.path}: {self.events} events, intact; {where}"]
        else:
            lines = [f"custody log {self.path}: {len(self.problems)} problem(s)"]
            lines += [f"  - {problem}" for problem in self.problems]
        lines += [f"  note: {warning}" for warning in self.warnings]
        return "\n".join(lines)


@dataclass
class _Checked:
    """A complete line of the log, as far as it could be read."""

    line_no: int
    event: Event | None = None
    problems: list[CustodyProblem] = field(default_factory=list)


class CustodyLog:
    """``DATA/custody.jsonl`` and its head in the catalog."""

    def __init__(self, data_dir: Path, catalog: Catalog) -> None:
        self.data_dir = Path(data_dir)
        self.catalog = catalog
        self.path = self.data_dir / LOG_NAME
        self.lock_path = self.data_dir / LOCK_NAME

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        action: str,
        *,
        actor: str,
        captures: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Record one event, durably, after the current head; return it.

        Refuses (:class:`TornLogError`) after a torn line, and (:class:`CustodyError`)
        when the log does not end at the catalog's head, except one event past it (see
        module doc).
        """
        if action not in ACTIONS:
            raise ValueError(f"custody action must be one of {ACTIONS}, not {action!r}")
        if action == "log-repaired":
            raise ValueError("log-repaired events are written by CustodyLog.repair only")
        captures, details = _check_content(actor, captures, details)
        with self._locked(exclusive=True):
            head = self._settle_head(self._last_event(), self.catalog.custody_head())
            event = _build_event(head, action, actor, captures, details)
            self._write_line(event.line())
            self._record_head(event)
        return event

    def reconcile_head(self) -> tuple[int, str] | None:
        """Bring the catalog's head up to a log left one event ahead by a crash.

        What :meth:`append` does first anyway; for start-up, so that :meth:`verify`
        is clean before anything is appended. Returns the head.
        """
        with self._locked(exclusive=True):
            head = self._settle_head(self._last_event(), self.catalog.custody_head())
        return (head.seq, head.hash) if head is not None else None

    def repair(self, *, actor: str = SYSTEM_ACTOR) -> Event | None:
        """Move a torn last line aside and record that; ``None`` if nothing is torn.

        Only a torn *last* line is repaired, and only when every line before it is
        sound and ends at the catalog's head: anything else is evidence of a different
        problem, for a person to look at.
        """
        _check_content(actor, (), None)
        with self._locked(exclusive=True):
            data = self._read_all()
            lines, tail = _split_lines(data)
            if tail:
                sound, torn, torn_line = lines, tail, len(lines) + 1
            elif lines and _is_torn_line(lines[-1]):
                sound, torn, torn_line = lines[:-1], lines[-1], len(lines)
            else:
                return None
            checked = _check_lines(list(enumerate(sound, start=1)), first_seq=1, first_prev=GENESIS)
            problems = [problem for line in checked for problem in line.problems]
            if problems:
                raise CustodyError(
                    f"cannot repair {self.path}: besides the torn line {torn_line}, "
                    + "; ".join(str(problem) for problem in problems)
                )
            last = checked[-1].event if checked else None
            head = self._settle_head(last, self.catalog.custody_head())
            torn_path = self._keep_torn(torn)
            event = _build_event(
                head,
                "log-repaired",
                actor,
                (),
                {
                    "reason": "the last line was torn (an append interrupted by a crash)",
                    "torn_line": torn_line,
                    "torn_file": torn_path.name,
                    "torn_bytes": len(torn),
                    "torn_sha256": hashlib.sha256(torn).hexdigest(),
                },
            )
            self._replace_log(b"".join(sound) + event.line())
            self._record_head(event)
        return event

    # -- reading ----------------------------------------------------------------------------

    def verify(self) -> CustodyReport:
        """Check every line, every link, and that the log ends at the catalog's head."""
        with self._locked(exclusive=False):
            data = self._read_all()
            catalog_head = self.catalog.custody_head()
        return _verify_log(self.path, data, catalog_head)

    def events(self, capture_id: str | None = None) -> Iterator[Event]:
        """The events in order (only ``capture_id``'s if given), as read; not verified.

        A torn last line without a newline is not an event yet and is skipped; use
        :meth:`verify` to know whether the log can be trusted.
        """
        with self._locked(exclusive=False):
            data = self._read_all()
        lines, _tail = _split_lines(data)
        for line_no, raw in enumerate(lines, start=1):
            try:
                event = Event.from_dict(json.loads(raw))
            except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError too
                raise CustodyError(f"{self.path} line {line_no} is not an event: {exc}") from exc
            if capture_id is None or capture_id in event.captures:
                yield event

    def slice_for(self, capture_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The events an export needs: from the first one about ``capture_ids`` to the head.

        Contiguous, so that an offline verifier (:func:`verify_slice`) can recompute
        every hash and check every link from the first relevant event to the head
        (which the export should sign or timestamp). Events about other captures in
        between are included whole, since their hashes can only be checked from their
        content: keep ``details`` free of anything that must not travel with another
        case's export. Refuses a log that does not verify. ``[]`` when no event
        concerns the captures.
        """
        wanted = set(capture_ids)
        with self._locked(exclusive=False):
            data = self._read_all()
            catalog_head = self.catalog.custody_head()
        report = _verify_log(self.path, data, catalog_head)
        if not report.ok:
            raise CustodyError(
                "refusing to export a custody log that does not verify:\n" + report.summary()
            )
        lines, _tail = _split_lines(data)
        events = [json.loads(raw) for raw in lines]
        for index, event in enumerate(events):
            if wanted.intersection(event["captures"]):
                return events[index:]
        return []

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """``flock`` on a lock file beside the log: one writer, or many readers, at a time.

        Each call opens the file anew, so threads of one process exclude each other too
        (a lock belongs to an open file, not to a process).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _read_all(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise CustodyError(f"cannot read custody log {self.path}: {exc}") from exc

    def _last_event(self) -> Event | None:
        """The last event, read from the end of the file; refuses a torn or altered one."""
        line, tail = _read_last_line(self.path)
        if tail:
            raise TornLogError(
                f"custody log {self.path} ends in a torn line ({len(tail)} bytes without a"
                " newline: an append was interrupted). Nothing is appended after it; run"
                f" CustodyLog.repair(), which moves those bytes to {TORN_PREFIX}<time> and"
                " records that it did"
            )
        if line is None:
            return None
        if _is_torn_line(line):
            raise TornLogError(
                f"custody log {self.path} ends in a line that is not JSON (a torn write)."
                " Nothing is appended after it; run CustodyLog.repair(), which moves it to"
                f" {TORN_PREFIX}<time> and records that it did"
            )
        obj = json.loads(line)
        try:
            event = Event.from_dict(obj)
        except ValueError as exc:
            damage = f"it is not an event ({exc})"
        else:
            if event_hash(obj) != event.hash:
                damage = f"seq {event.seq} does not match its hash (it was edited)"
            elif line != canonical_json(obj) + b"\n":
                damage = f"seq {event.seq} is not in canonical form (it was rewritten)"
            else:
                return event
        raise CustodyError(
            f"the last line of custody log {self.path} is damaged: {damage}. Nothing is"
            " appended after it; CustodyLog.verify() names every problem"
        )

    def _settle_head(
        self, last: Event | None, catalog_head: tuple[int, str] | None
    ) -> Event | None:
        """The event to append after, once the log's end and the catalog's head agree."""
        if last is None and catalog_head is None:
            return None
        if last is not None and catalog_head == (last.seq, last.hash):
            return last
        if last is not None and _one_past(last, catalog_head):
            self._record_head(last)
            return last
        raise CustodyError(
            f"custody log {self.path} does not end at the catalog's head: "
            + _head_mismatch(last, catalog_head)
            + ". Nothing is appended until this is resolved; CustodyLog.verify() names"
            " every problem"
        )

    def _write_line(self, line: bytes) -> None:
        is_new = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CustodyError(f"cannot open custody log {self.path}: {exc}") from exc
        try:
            write_all_and_sync(fd, line)
        except OSError as exc:
            raise CustodyError(
                f"writing custody log {self.path} failed ({exc}); the event may be torn:"
                " the next append will say so, and CustodyLog.repair() moves it aside"
            ) from exc
        finally:
            os.close(fd)
        if is_new:
            fsync_dir(self.data_dir)

    def _record_head(self, event: Event) -> None:
        try:
            self.catalog.set_custody_head(event.seq, event.hash)
        except CatalogError as exc:
            raise CustodyError(
                f"custody event seq {event.seq} is written to {self.path}, but the catalog's"
                f" head could not be updated ({exc}); the next append will record it"
            ) from exc

    def _keep_torn(self, torn: bytes) -> Path:
        """Write the torn bytes to their own read-only file, durably."""
        path = self.data_dir / (TORN_PREFIX + utc_now().strftime("%Y%m%dT%H%M%S.%fZ"))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except OSError as exc:
            raise CustodyError(f"cannot keep the torn bytes in {path}: {exc}") from exc
        try:
            write_all_and_sync(fd, torn)
        finally:
            os.close(fd)
        fsync_dir(self.data_dir)
        return path

    def _replace_log(self, content: bytes) -> None:
        temp_path = self.data_dir / f".{LOG_NAME}.repair-{os.getpid()}"
        fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all_and_sync(fd, content)
        finally:
            os.close(fd)
        os.replace(temp_path, self.path)
        fsync_dir(self.data_dir)


# -- offline verification -----------------------------------------------------------------


def verify_slice(
    events: Sequence[Mapping[str, Any]], *, head: tuple[int, str] | None = None
) -> None:
    """Check an exported slice (:meth:`CustodyLog.slice_for`) with nothing but itself.

    Every hash is recomputed and every ``prev`` checked against the event before; the
    first event's ``prev`` is taken on trust (it is 64 zeros when the slice starts at
    seq 1). ``head``, when given, is the ``(seq, hash)`` the slice must end at (the one
    the export signed). Raises :class:`CustodyError` naming each problem.
    """
    lines = [(index, canonical_json(dict(event)) + b"\n") for index, event in enumerate(events, 1)]
    checked = _check_lines(lines, first_seq=None, first_prev=None)
    problems = [str(problem) for line in checked for problem in line.problems]
    last = checked[-1].event if checked else None
    if head is not None and (last is None or (last.seq, last.hash) != tuple(head)):
        problems.append(
            f"the slice does not end at the expected head: {_head_mismatch(last, head)}"
        )
    if problems:
        raise CustodyError("custody slice does not verify: " + "; ".join(problems))


# -- checking lines ------------------------------------------------------------------------


def _check_content(
    actor: str, captures: Sequence[str], details: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], dict[str, Any]]:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError(f"actor must be an operator's name or {SYSTEM_ACTOR!r}, not {actor!r}")
    if isinstance(captures, str) or not all(isinstance(c, str) and c for c in captures):
        raise ValueError(f"captures must be a list of capture ids, not {captures!r}")
    details = dict(details or {})
    if not all(isinstance(key, str) for key in details):
        raise ValueError("details keys must be strings")
    try:
        canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details must be plain JSON (no NaN, no custom types): {exc}") from exc
    # A copy through JSON, so later changes to the caller's objects cannot reach the event.
    return tuple(captures), json.loads(canonical_json(details))


def _build_event(
    after: Event | None,
    action: str,
    actor: str,
    captures: Sequence[str],
    details: dict[str, Any],
) -> Event:
    body: dict[str, Any] = {
        "seq": after.seq + 1 if after is not None else 1,
        "time": now_rfc3339(),
        "clock": CLOCK_SOURCE,
        "action": action,
        "actor": actor,
        "captures": list(captures),
        "details": details,
        "prev": after.hash if after is not None else GENESIS,
    }
    body["hash"] = event_hash(body)
    return Event.from_dict(body)


def _split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (newline kept) and whatever follows the last newline."""
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(keepends=True), data[end:]


def _is_torn_line(raw: bytes) -> bool:
    """Not JSON at all: what a write cut short leaves (valid JSON that is wrong is not torn)."""
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


def _check_lines(
    lines: Sequence[tuple[int, bytes]], *, first_seq: int | None, first_prev: str | None
) -> list[_Checked]:
    """Check each line on its own and against the line before it.

    ``first_seq``/``first_prev`` are what the first line must carry (1 and 64 zeros for
    a whole log); ``None`` takes the first line's own on trust (a slice, or one line).
    A problem is reported on the line where it shows, so each is named once.
    """
    results: list[_Checked] = []
    expected_seq, expected_prev = first_seq, first_prev
    previous_label = "the start of the log"
    for line_no, raw in lines:
        checked = _Checked(line_no)
        results.append(checked)
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            checked.problems.append(
                CustodyProblem("invalid-json", f"line {line_no} is not JSON: {exc}", line_no)
            )
            expected_seq = expected_prev = None
            previous_label = f"line {line_no}"
            continue
        try:
            event = Event.from_dict(obj)
        except ValueError as exc:
            checked.problems.append(
                CustodyProblem("malformed", f"line {line_no} is not an event ({exc})", line_no)
            )
            expected_seq = expected_prev = None
            previous_label = f"line {line_no}"
            continue
        checked.event = event
        label = f"line {line_no} (seq {event.seq})"
        found: list[tuple[str, str]] = []
        if event_hash(obj) != event.hash:
            found.append(
                ("hash-mismatch", f"{label}: its content does not match its hash: it was edited")
            )
        elif raw != canonical_json(obj) + b"\n":
            found.append(
                (
                    "not-canonical",
                    f"{label}: the line is not the canonical JSON of its event: it was rewritten",
                )
            )
        if expected_seq is not None and event.seq != expected_seq:
            if event.seq > expected_seq:
                missing = (
                    f"seq {expected_seq}"
                    if event.seq == expected_seq + 1
                    else f"seqs {expected_seq}..{event.seq - 1}"
                )
                why = f"{missing} missing (removed, or lines out of order)"
            else:
                why = "out of order or repeated (lines moved, copied or inserted)"
            found.append(
                ("seq", f"{label} follows {previous_label}, expected seq {expected_seq}: {why}")
            )
        if expected_prev is not None and event.prev != expected_prev:
            found.append(
                (
                    "prev-mismatch",
                    f"{label}: its prev is not the hash of {previous_label}: the chain is broken"
                    " there (an event before it was removed, replaced or moved)",
                )
            )
        checked.problems += [CustodyProblem(k, m, line_no, event.seq) for k, m in found]
        expected_seq, expected_prev = event.seq + 1, event.hash
        previous_label = label
    return results


def _verify_log(path: Path, data: bytes, catalog_head: tuple[int, str] | None) -> CustodyReport:
    lines, tail = _split_lines(data)
    numbered = list(enumerate(lines, start=1))
    torn: CustodyProblem | None = None
    if tail:
        line_no = len(lines) + 1
        torn = CustodyProblem(
            "torn",
            f"line {line_no} is torn: {len(tail)} bytes with no newline end the log (an"
            f" append interrupted by a crash); CustodyLog.repair() moves them to"
            f" {TORN_PREFIX}<time>",
            line_no,
        )
    elif lines and _is_torn_line(lines[-1]):
        torn = CustodyProblem(
            "torn",
            f"line {len(lines)}, the last, is not JSON (a torn write); CustodyLog.repair()"
            f" moves it to {TORN_PREFIX}<time>",
            len(lines),
        )
        numbered = numbered[:-1]
    checked = _check_lines(numbered, first_seq=1, first_prev=GENESIS)
    problems = [problem for line in checked for problem in line.problems]
    if torn is not None:
        problems.append(torn)
    events = [line.event for line in checked if line.event is not None]
    last_line = checked[-1] if checked else None
    last = last_line.event if last_line is not None else None
    warnings: list[str] = []
    if last_line is not None and last is None:
        problems.append(
            CustodyProblem(
                "head-mismatch",
                f"the log's last event (line {last_line.line_no}) cannot be read, so it cannot"
                " be compared with the catalog's head",
                last_line.line_no,
            )
        )
    elif last is not None and _one_past(last, catalog_head) and _reaches(events, catalog_head):
        warnings.append(
            f"the catalog's head is one event behind the log (seq {last.seq}): an append was"
            " interrupted after writing; the next append, or reconcile_head(), records it"
        )
    elif _end_of(last) != catalog_head:
        problems.append(
            CustodyProblem(
                "head-mismatch",
                "the log does not end at the catalog's head: " + _head_mismatch(last, catalog_head),
                last_line.line_no if last_line is not None else None,
                last.seq if last is not None else None,
            )
        )
    return CustodyReport(
        path=path,
        events=len(events),
        last=_end_of(last),
        catalog_head=catalog_head,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def _end_of(last: Event | None) -> tuple[int, str] | None:
    return (last.seq, last.hash) if last is not None else None


def _one_past(last: Event, catalog_head: tuple[int, str] | None) -> bool:
    """Whether ``last`` is the event right after the head (or the first, with no head)."""
    if catalog_head is None:
        return last.seq == 1 and last.prev == GENESIS
    return last.seq == catalog_head[0] + 1 and last.prev == catalog_head[1]


def _reaches(events: Sequence[Event], catalog_head: tuple[int, str] | None) -> bool:
    """Whether the head's event is in the log, as the catalog recorded it."""
    if catalog_head is None:
        return True
    return any((event.seq, event.hash) == catalog_head for event in events)


def _head_mismatch(last: Event | None, head: tuple[int, str] | None) -> str:
    """Why the log's last event is not ``head``, in words."""
    if last is None and head is not None:
        return (
            f"the log has no events but the catalog's head is seq {head[0]}: the log was"
            " deleted, emptied or replaced"
        )
    if last is not None and head is None:
        return (
            f"the catalog has no custody head but the log ends at seq {last.seq}: the"
            " catalog was reset or replaced, or the log copied in from elsewhere"
        )
    if last is None or head is None:
        return "both are empty"
    head_seq, head_hash = head
    if last.seq < head_seq:
        gone = f"seq {head_seq}" if last.seq + 1 == head_seq else f"seqs {last.seq + 1}..{head_seq}"
        return (
            f"the log ends at seq {last.seq} but the catalog's head is seq {head_seq}:"
            f" {gone} removed from the end (log truncated)"
        )
    if last.seq == head_seq:
        return (
            f"the log's seq {last.seq} has hash {last.hash[:12]}… but the catalog recorded"
            f" {head_hash[:12]}…: the tail of the log was rewritten"
        )
    return (
        f"the log ends at seq {last.seq}, {last.seq - head_seq} events past the catalog's"
        f" head (seq {head_seq}): events were added outside osint-capture, the tail was"
        " rewritten, or the catalog was restored from an older backup"
    )


def _read_last_line(path: Path) -> tuple[bytes | None, bytes]:
    """The last complete line (``None`` if there is none) and the bytes after it.

    Reads backwards from the end, so an append does not re-read the whole log.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None, b""
    with fh:
        position = fh.seek(0, os.SEEK_END)
        buffer = b""
        while True:
            end = buffer.rfind(b"\n")
            if end != -1:
                start = buffer.rfind(b"\n", 0, end)
                if start != -1 or position == 0:
                    return buffer[start + 1 : end + 1], buffer[end + 1 :]
            if position == 0:
                return None, buffer
            step = min(_READ_CHUNK, position)
            position -= step
            fh.seek(position)
            buffer = fh.read(step) + buffer
