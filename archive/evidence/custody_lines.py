"""Checking the custody log's lines: each on its own, each against the one before, the end.

:func:`check_log` reads a whole log (bytes) and names every problem by line and seq;
:func:`verify_slice` checks the contiguous piece of it an export carries, with nothing
but itself. Neither reads files or the catalog: :class:`archive.evidence.custody.CustodyLog`
hands them what it read under its lock. :func:`read_last_line` reads the end of the
file, for an append that must not re-read the whole log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.evidence.custody_events import (
    GENESIS,
    CustodyTampered,
    Event,
    canonical_json,
    event_hash,
)

LOG_NAME = "custody.jsonl"
_READ_CHUNK = 64 * 1024
TORN_PREFIX = LOG_NAME + ".torn-"


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
    "anchor",  # an anchor contradicts the log, is missing or does not verify
    "chain",  # a team-mode chain's seq 1 does not name it: events of another chain
)


@dataclass
class Checked:
    """A complete line of the log, as far as it could be read."""

    line_no: int
    event: Event | None = None
    problems: list[CustodyProblem] = field(default_factory=list)


@dataclass(frozen=True)
class LogCheck:
    """What the lines of a whole log say: its events, its end, what is wrong with it."""

    events: tuple[Event, ...]
    last: tuple[int, str] | None
    problems: tuple[CustodyProblem, ...]
    warnings: tuple[str, ...]


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (newline kept) and whatever follows the last newline."""
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(keepends=True), data[end:]


def is_torn_line(raw: bytes) -> bool:
    """Not JSON at all: what a write cut short leaves (valid JSON that is wrong is not torn)."""
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


def check_lines(
    lines: Sequence[tuple[int, bytes]], *, first_seq: int | None, first_prev: str | None
) -> list[Checked]:
    """Check each line on its own and against the line before it.

    ``first_seq``/``first_prev`` are what the first line must carry (1 and 64 zeros for
    a whole log); ``None`` takes the first line's own on trust (a slice, or one line).
    A problem is reported on the line where it shows, so each is named once.
    """
    checker = LineChecker(first_seq=first_seq, first_prev=first_prev)
    return [checker.check(line_no, raw) for line_no, raw in lines]


class LineChecker:
    """:func:`check_lines` one line at a time, remembering only the line before: for a
    log read as a stream (:mod:`archive.evidence.custody_scan`)."""

    def __init__(self, *, first_seq: int | None, first_prev: str | None) -> None:
        self.expected_seq, self.expected_prev = first_seq, first_prev
        self.previous_label = "the start of the log"

    def check(self, line_no: int, raw: bytes) -> Checked:
        checked, obj = _read_line(line_no, raw)
        event = checked.event
        if event is None:
            self.expected_seq = self.expected_prev = None
            self.previous_label = f"line {line_no}"
            return checked
        label = f"line {line_no} (seq {event.seq})"
        found = _content_findings(label, obj, raw)
        found += _link_findings(
            label, event, self.expected_seq, self.expected_prev, self.previous_label
        )
        checked.problems += [CustodyProblem(k, m, line_no, event.seq) for k, m in found]
        self.expected_seq, self.expected_prev = event.seq + 1, event.hash
        self.previous_label = label
        return checked


def _read_line(line_no: int, raw: bytes) -> tuple[Checked, Any]:
    """The line as an event (and as parsed), or the reason it is none."""
    checked = Checked(line_no)
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        message = f"line {line_no} is not JSON: {exc}"
        checked.problems.append(CustodyProblem("invalid-json", message, line_no))
        return checked, None
    try:
        checked.event = Event.from_dict(obj)
    except ValueError as exc:
        message = f"line {line_no} is not an event ({exc})"
        checked.problems.append(CustodyProblem("malformed", message, line_no))
    return checked, obj


def _content_findings(label: str, obj: dict[str, Any], raw: bytes) -> list[tuple[str, str]]:
    """Whether the line's content matches its hash, and is written canonically."""
    if event_hash(obj) != obj["hash"]:
        return [("hash-mismatch", f"{label}: its content does not match its hash: it was edited")]
    if raw != canonical_json(obj) + b"\n":
        return [
            (
                "not-canonical",
                f"{label}: the line is not the canonical JSON of its event: it was rewritten",
            )
        ]
    return []


def _link_findings(
    label: str,
    event: Event,
    expected_seq: int | None,
    expected_prev: str | None,
    previous_label: str,
) -> list[tuple[str, str]]:
    """Whether the event follows the one before: its seq, and its link to that hash."""
    found: list[tuple[str, str]] = []
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
    return found


def check_log(data: bytes, catalog_head: tuple[int, str] | None) -> LogCheck:
    """Every line of a whole log, every link, and whether it ends at the catalog's head."""
    lines, tail = split_lines(data)
    numbered = list(enumerate(lines, start=1))
    torn = _torn(lines, tail)
    if torn is not None and not tail:
        numbered = numbered[:-1]  # the torn last line is reported once, as torn
    checked = check_lines(numbered, first_seq=1, first_prev=GENESIS)
    problems = [problem for line in checked for problem in line.problems]
    if torn is not None:
        problems.append(torn)
    events = tuple(line.event for line in checked if line.event is not None)
    warnings: list[str] = []
    end_problem = _end_problem(checked[-1] if checked else None, events, catalog_head)
    if isinstance(end_problem, CustodyProblem):
        problems.append(end_problem)
    elif end_problem is not None:
        warnings.append(end_problem)
    last = checked[-1].event if checked else None
    return LogCheck(events, end_of(last), tuple(problems), tuple(warnings))


def _torn(lines: list[bytes], tail: bytes) -> CustodyProblem | None:
    """The torn end of a log, if it has one: bytes without a newline, or a last line not JSON."""
    if tail:
        line_no = len(lines) + 1
        return CustodyProblem(
            "torn",
            f"line {line_no} is torn: {len(tail)} bytes with no newline end the log (an"
            f" append interrupted by a crash); CustodyLog.repair() moves them to"
            f" {TORN_PREFIX}<time>",
            line_no,
        )
    if lines and is_torn_line(lines[-1]):
        return CustodyProblem(
            "torn",
            f"line {len(lines)}, the last, is not JSON (a torn write); CustodyLog.repair()"
            f" moves it to {TORN_PREFIX}<time>",
            len(lines),
        )
    return None


def _end_problem(
    last_line: Checked | None, events: Sequence[Event], catalog_head: tuple[int, str] | None
) -> CustodyProblem | str | None:
    """How the log's end compares with the catalog's head: a problem, a note, or nothing."""
    last = last_line.event if last_line is not None else None
    if last_line is not None and last is None:
        return CustodyProblem(
            "head-mismatch",
            f"the log's last event (line {last_line.line_no}) cannot be read, so it cannot"
            " be compared with the catalog's head",
            last_line.line_no,
        )
    if last is not None and one_past(last, catalog_head) and _reaches(events, catalog_head):
        return (
            f"the catalog's head is one event behind the log (seq {last.seq}): an append was"
            " interrupted after writing; the next append, or reconcile_head(), records it"
        )
    if end_of(last) != catalog_head:
        return CustodyProblem(
            "head-mismatch",
            "the log does not end at the catalog's head: " + head_mismatch(last, catalog_head),
            last_line.line_no if last_line is not None else None,
            last.seq if last is not None else None,
        )
    return None


def verify_slice(
    events: Sequence[Mapping[str, Any]], *, head: tuple[int, str] | None = None
) -> None:
    """Check an exported slice (``CustodyLog.slice_for``) with nothing but itself.

    Every hash is recomputed and every ``prev`` checked against the event before; the
    first event's ``prev`` is taken on trust (it is 64 zeros when the slice starts at
    seq 1). ``head``, when given, is the ``(seq, hash)`` the slice must end at (the one
    the export signed). Raises :class:`CustodyTampered` naming each problem.
    """
    lines = [(index, canonical_json(dict(event)) + b"\n") for index, event in enumerate(events, 1)]
    checked = check_lines(lines, first_seq=None, first_prev=None)
    problems = [str(problem) for line in checked for problem in line.problems]
    last = checked[-1].event if checked else None
    if head is not None and (last is None or (last.seq, last.hash) != tuple(head)):
        problems.append(f"the slice does not end at the expected head: {head_mismatch(last, head)}")
    if problems:
        raise CustodyTampered("custody slice does not verify: " + "; ".join(problems))


def end_of(last: Event | None) -> tuple[int, str] | None:
    return (last.seq, last.hash) if last is not None else None


def one_past(last: Event, catalog_head: tuple[int, str] | None) -> bool:
    """Whether ``last`` is the event right after the head (or the first, with no head)."""
    if catalog_head is None:
        return last.seq == 1 and last.prev == GENESIS
    return last.seq == catalog_head[0] + 1 and last.prev == catalog_head[1]


def _reaches(events: Sequence[Event], catalog_head: tuple[int, str] | None) -> bool:
    """Whether the head's event is in the log, as the catalog recorded it."""
    if catalog_head is None:
        return True
    return any((event.seq, event.hash) == catalog_head for event in events)


def head_mismatch(last: Event | None, head: tuple[int, str] | None) -> str:
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


def read_last_line(path: Path) -> tuple[bytes | None, bytes]:
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
