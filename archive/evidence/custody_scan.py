"""A custody log or chain checked as a stream: one line in memory at a time.

:func:`archive.evidence.custody_lines.check_log` checks a log it holds whole. An
embedded archive of years has millions of events; ``migrate`` carries its log into team
storage as a chain of its own, and checks it there again. Here the same checks
(:class:`~archive.evidence.custody_lines.LineChecker`: each line on its own and against
the one before, then the end against the head) run line by line, keeping only what a
verdict needs: how many events, the first and the last, the ``anchored`` events, and
the problems (the first :data:`MAX_PROBLEMS`, then a count). Checking the anchors'
tokens needs the log's hash at each seq they name: read afterwards, at those seqs only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archive.evidence.anchors import anchored_seq
from archive.evidence.chain_check import moved_back, opening_problem
from archive.evidence.custody_events import GENESIS, CustodyTampered, Event
from archive.evidence.custody_lines import (
    TORN_PREFIX,
    CustodyProblem,
    LineChecker,
    end_of,
    head_mismatch,
    one_past,
)
from archive.evidence.custody_report import CustodyReport, TokenSource, check_log_anchors
from archive.evidence.tsa_roots import TrustStore

#: Problems kept by name; past this many, only counted (one damaged line can make many).
MAX_PROBLEMS = 100


@dataclass
class Scan:
    """What a log read as a stream holds, and what is wrong with it."""

    events: int = 0
    lines: int = 0
    first: Event | None = None
    last: Event | None = None
    #: The last complete line is no event (it cannot be compared with a head).
    last_unreadable: bool = False
    anchored: list[Event] = field(default_factory=list)
    problems: list[CustodyProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def end(self) -> tuple[int, str] | None:
        return end_of(self.last)

    def add(self, problems: Iterable[CustodyProblem]) -> None:
        for problem in problems:
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append(problem)
            else:
                self.more_problems += 1

    def all_problems(self) -> list[CustodyProblem]:
        if not self.more_problems:
            return list(self.problems)
        more = f"and {self.more_problems} more problem(s) past these {MAX_PROBLEMS}"
        return [*self.problems, CustodyProblem("malformed", more)]


def scan_lines(lines: Iterable[bytes]) -> Scan:
    """Every line checked in turn from seq 1 (a whole log or chain), none kept."""
    scan = Scan()
    checker = LineChecker(first_seq=1, first_prev=GENESIS)
    for line_no, raw in enumerate(lines, start=1):
        scan.lines = line_no
        if not raw.endswith(b"\n"):
            torn = (
                f"line {line_no} is torn: {len(raw)} bytes with no newline end the log (an"
                f" append interrupted by a crash); CustodyLog.repair() moves them to"
                f" {TORN_PREFIX}<time>"
            )
            scan.add([CustodyProblem("torn", torn, line_no)])
            break
        checked = checker.check(line_no, raw)
        scan.add(checked.problems)
        scan.last_unreadable = checked.event is None
        if checked.event is not None:
            scan.events += 1
            scan.first = scan.first or checked.event
            scan.last = checked.event
            if checked.event.action == "anchored":
                scan.anchored.append(checked.event)
    return scan


def check_end(scan: Scan, head: tuple[int, str] | None, *, chain: bool) -> None:
    """The scan's end against the head: a file log forgives a head one event behind (a
    crash between the line and the head), a chain in the catalog never does."""
    if scan.last_unreadable:
        why = f"the log's last event (line {scan.lines}) cannot be read, so it cannot be"
        scan.add([CustodyProblem("head-mismatch", why + " compared with the head", scan.lines)])
    elif scan.end == head:
        return
    elif scan.last is not None and one_past(scan.last, head):
        if chain:
            scan.add([moved_back(scan.end, head)])
        else:
            scan.warnings.append(
                f"the catalog's head is one event behind the log (seq {scan.last.seq}): an"
                " append was interrupted after writing; the next append records it"
            )
    else:
        why = "the log does not end at the catalog's head: " + head_mismatch(scan.last, head)
        scan.add([CustodyProblem("head-mismatch", why, seq=scan.last.seq if scan.last else None)])


def scan_file(path: Path, head: tuple[int, str] | None) -> Scan:
    """``custody.jsonl`` read line by line (a missing file is an empty log)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        scan = Scan()
    else:
        with fh:
            scan = scan_lines(fh)
    check_end(scan, head, chain=False)
    return scan


def refuse_damaged(scan: Scan, where: str, purpose: str) -> Scan:
    """The scan, when it found nothing wrong; else :class:`CustodyTampered` naming each
    problem (as :meth:`CustodyLog.intact_events` refuses)."""
    problems = scan.all_problems()
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise CustodyTampered(
            f"refusing {purpose} a custody log that does not verify:\n"
            f"custody log {where}: {len(problems)} problem(s)\n{listed}"
        )
    return scan


@dataclass(frozen=True)
class ChainSource:
    """Where one chain of the catalog is read from, as a stream."""

    name: str
    where: str
    head: tuple[int, str] | None
    #: The stored lines in seq order (read page by page).
    lines: Callable[[], Iterable[bytes]]
    #: The stored lines at some seqs, by seq.
    lines_at: Callable[[Collection[int]], Mapping[int, bytes]]
    tokens: TokenSource
    listed: list[str]


def verify_chain(source: ChainSource, trust: TrustStore) -> CustodyReport:
    """One chain's lines, links, head, first event and anchors, in flat memory: the
    verdict :func:`archive.evidence.chain_check.check_chain` and the anchors' check give
    a chain held whole."""
    scan = scan_lines(source.lines())
    check_end(scan, source.head, chain=True)
    opening = opening_problem(source.name, scan.first)
    if opening is not None:
        scan.add([opening])
    wanted = {e.details.get("anchored_seq") for e in scan.anchored}
    wanted |= {anchored_seq(name) for name in source.listed}
    logged = _hashes(source.lines_at({s for s in wanted if isinstance(s, int)}))
    anchors, notes = check_log_anchors(
        scan.anchored, source.tokens, source.listed, trust, logged=logged
    )
    found = (scan.events, scan.end, scan.all_problems(), scan.warnings)
    return CustodyReport.counted(source.where, found, source.head, anchors, notes)


def _hashes(lines: Mapping[int, bytes]) -> dict[int, str]:
    """Each stored line's own hash (the scan has checked it against its content)."""
    found: dict[int, str] = {}
    for seq, line in lines.items():
        try:
            value = json.loads(line).get("hash")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str):
            found[seq] = value
    return found
