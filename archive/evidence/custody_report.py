"""The verdict on the custody log of this machine: its chain, its head, and its anchors.

:meth:`archive.evidence.custody.CustodyLog.verify` reads the log, the catalog's head and the
names in ``DATA/anchors/`` under one lock and hands them here. Three outcomes
(:mod:`archive.evidence.checks`): *failed* when any line, link, the head or an anchor is wrong
(an anchor that disagrees with the log means the log was rewritten after the anchor's
time); *ok* when the log is intact and at least one anchor verifies against a trusted
root, which proves the log up to that anchor's seq; *unproven* when the log is intact
but nothing outside this machine vouches for it (no anchor, or none that verifies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from archive.evidence.anchors import (
    ANCHORED_CHECK,
    ANCHORS_DIR,
    Anchor,
    AnchorCheck,
    Claim,
    anchored_seq,
    check_token,
    furthest,
    shown_checks,
    untrusted_note,
)
from archive.evidence.checks import Check, Outcome, overall
from archive.evidence.custody_events import Event
from archive.evidence.custody_lines import CustodyProblem, LogCheck
from archive.evidence.timestamps import TimestampError
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_token import read_claim

LOG_CHECK = "custody log"
#: What to run to anchor a custody log, as an unanchored verdict says.
ANCHOR_HINT = "osint-capture custody anchor --tsa URL"


class TokenSource(Protocol):
    """Where a log's anchor tokens are read from: ``DATA/anchors/`` for the file log,
    the sealed store for a chain in the catalog (team mode)."""

    def read(self, name: str) -> bytes:
        """The token file ``name`` as sealed; :class:`FileNotFoundError` when it is gone."""
        ...

    def where(self, name: str) -> str:
        """How messages name the token file ``name``."""
        ...


@dataclass(frozen=True)
class FolderTokens:
    """Anchor tokens in a folder (``DATA/anchors/``)."""

    folder: Path

    def read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def where(self, name: str) -> str:
        return f"{ANCHORS_DIR}/{name}"


@dataclass(frozen=True)
class CustodyReport:
    """What :meth:`CustodyLog.verify` found. ``ok`` (intact) when there are no problems;
    :attr:`outcome` also says whether anything outside this machine vouches for it."""

    #: The log's file, or (team mode) which chain in which catalog.
    path: Path | str
    events: int
    last: tuple[int, str] | None
    catalog_head: tuple[int, str] | None
    problems: tuple[CustodyProblem, ...] = ()
    warnings: tuple[str, ...] = ()
    #: Every anchor found, each with what checking it concluded.
    anchors: tuple[AnchorCheck, ...] = ()
    #: What the log is called in the verdict (the access log is checked by this too),
    #: and the command that anchors it.
    title: str = LOG_CHECK
    anchor_hint: str = ANCHOR_HINT

    @classmethod
    def of(
        cls,
        path: Path | str,
        log: LogCheck,
        catalog_head: tuple[int, str] | None,
        anchors: Sequence[AnchorCheck] = (),
        notes: Sequence[str] = (),
    ) -> CustodyReport:
        """The report on a checked log and its checked anchors (failures become problems)."""
        found = (len(log.events), log.last, log.problems, log.warnings)
        return cls.counted(path, found, catalog_head, anchors, notes)

    @classmethod
    def counted(
        cls,
        path: Path | str,
        log: tuple[int, tuple[int, str] | None, Sequence[CustodyProblem], Sequence[str]],
        catalog_head: tuple[int, str] | None,
        anchors: Sequence[AnchorCheck] = (),
        notes: Sequence[str] = (),
    ) -> CustodyReport:
        """:meth:`of` for a log read as a stream: ``(events, last, problems, warnings)``."""
        events, last, problems, warnings = log
        failed = [
            CustodyProblem("anchor", f"{a.where}: {a.reason}", seq=a.seq)
            for a in anchors
            if a.outcome is Outcome.FAILED
        ]
        return cls(
            path=path,
            events=events,
            last=last,
            catalog_head=catalog_head,
            problems=(*problems, *failed),
            warnings=(*warnings, *notes),
            anchors=tuple(anchors),
        )

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def proven(self) -> AnchorCheck | None:
        """The verified anchor that reaches furthest: the log is proven up to its seq."""
        return furthest(self.anchors)

    def checks(self) -> list[Check]:
        """The verdict as checks: the chain and head, the anchors, how far it is proven."""
        chain = [p for p in self.problems if p.kind != "anchor"]
        if chain:
            lines = [Check(self.title, Outcome.FAILED, str(p)) for p in chain]
        else:
            where = f"ends at seq {self.last[0]}, the catalog's head" if self.last else "is empty"
            lines = [Check(self.title, Outcome.OK, f"{self.events} events, intact; {where}")]
        last_seq = self.last[0] if self.last else None
        final = log_anchored(self.anchors, last_seq, hint=self.anchor_hint)
        return [*lines, *shown_checks(self.anchors, final), final]

    @property
    def outcome(self) -> Outcome:
        return overall(self.checks())

    def summary(self) -> str:
        """For people: the verdict first (what it rests on, what to do), then each problem."""
        final = self.checks()[-1]
        if not self.ok:
            lines = [f"{self.title} {self.path}: {len(self.problems)} problem(s)"]
            lines += [f"  - {problem}" for problem in self.problems]
        else:
            where = f"ends at seq {self.last[0]}" if self.last else "is empty"
            joint = "; " if final.ok else " but "
            lines = [f"{self.title} {self.path}: {self.events} events, intact; {where}"]
            lines[0] += joint + final.reason
            unproven = [a for a in self.anchors if a.outcome is Outcome.UNPROVEN]
            lines += [f"  - {a.where}: {a.reason}" for a in unproven if not final.ok]
        verified = sum(a.outcome is Outcome.OK for a in self.anchors)
        if self.anchors:
            lines.append(f"  {verified} of {len(self.anchors)} anchor(s) verify")
        lines += [f"  note: {warning}" for warning in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The same verdict for programs (``custody verify --json``)."""
        best = self.proven
        return {
            "ok": self.outcome is Outcome.OK,
            "outcome": self.outcome.value,
            "intact": self.ok,
            "summary": self.summary(),
            "events": self.events,
            "last": _head_dict(self.last),
            "catalog_head": _head_dict(self.catalog_head),
            "proven_up_to": best.to_dict() if best is not None else None,
            "anchors": [anchor.to_dict() for anchor in self.anchors],
            "checks": [check.to_dict() for check in self.checks()],
            "problems": [str(problem) for problem in self.problems],
            "warnings": list(self.warnings),
        }


def _head_dict(head: tuple[int, str] | None) -> dict[str, Any] | None:
    return {"seq": head[0], "hash": head[1]} if head is not None else None


def check_log_anchors(
    events: Sequence[Event],
    tokens: TokenSource,
    listed: Sequence[str],
    trust: TrustStore,
    *,
    logged: Mapping[int, str] | None = None,
) -> tuple[list[AnchorCheck], list[str]]:
    """Every anchor of a log: each ``anchored`` event's, and each token file without one.

    ``listed`` is the token names ``tokens`` holds (``DATA/anchors/``, or the catalog's
    list in team mode), read together with the log so that every event read has its
    file. ``logged`` is the log's hash by seq (at least at every seq a token names), when
    ``events`` is not the whole log (a log read as a stream passes its anchored events
    only). Returns the checks and notes (files without events, names not anchors').
    """
    if logged is None:
        logged = {event.seq: event.hash for event in events}
    checks: list[AnchorCheck] = []
    recorded: set[str] = set()
    for event in events:
        if event.action == "anchored":
            if isinstance(event.details.get("token"), str):
                recorded.add(event.details["token"])
            checks.append(_check_anchored_event(event, tokens, logged, trust))
    notes: list[str] = []
    for name in sorted(set(listed) - recorded):
        where = tokens.where(name)
        if anchored_seq(name) is None:
            notes.append(f"{where} is not named as an anchor (<seq>-<n>.tsr); not checked")
            continue
        notes.append(
            f"{where} has no 'anchored' event (written just before a crash?); checked on its own"
        )
        checks.append(_check_unrecorded(tokens, name, logged, trust))
    return checks, notes


def _check_anchored_event(
    event: Event, tokens: TokenSource, logged: Mapping[int, str], trust: TrustStore
) -> AnchorCheck:
    """An ``anchored`` event: its file as recorded, then its token (:func:`check_token`)."""
    label = f"the 'anchored' event seq {event.seq}"
    try:
        anchor = Anchor.from_details(event.details)
    except ValueError as exc:
        return AnchorCheck(
            None, "", "?", "?", label, Outcome.FAILED, f"it does not describe an anchor: {exc}"
        )
    where = tokens.where(anchor.token)
    claim = Claim(anchor.seq, anchor.hash, anchor.tsa, anchor.gen_time, where)
    problem = None
    if anchor.seq >= event.seq:
        problem = f"{label} records an anchor of seq {anchor.seq}, which came after it"
    try:
        token = tokens.read(anchor.token)
    except FileNotFoundError:
        token = None
        problem = f"the file is gone, but {label} records it: the anchor was deleted"
    except OSError as exc:
        token, problem = None, f"cannot read it ({exc.strerror})"
    if token is not None and hashlib.sha256(token).hexdigest() != anchor.token_sha256:
        problem = f"its SHA-256 is not the {anchor.token_sha256} that {label} recorded: replaced"
    if problem is not None:
        return AnchorCheck(
            anchor.seq, anchor.hash, anchor.tsa, anchor.gen_time, where, Outcome.FAILED, problem
        )
    return check_token(token, claim, logged, trust, log_name="the log")


def _check_unrecorded(
    tokens: TokenSource, name: str, logged: Mapping[int, str], trust: TrustStore
) -> AnchorCheck:
    """A token file with no event: it claims what it claims, held against the log."""
    seq = anchored_seq(name) or 0
    where = tokens.where(name)
    tsa = "an unrecorded TSA"
    try:
        token = tokens.read(name)
        digest, _time = read_claim(token)
    except (OSError, TimestampError) as exc:
        return AnchorCheck(seq, "", tsa, "?", where, Outcome.FAILED, f"unreadable: {exc}")
    claim = Claim(seq, digest.hex(), tsa, None, where)
    return check_token(token, claim, logged, trust, log_name="the log")


def log_anchored(
    anchors: Sequence[AnchorCheck], last_seq: int | None, *, hint: str = ANCHOR_HINT
) -> Check:
    """How far a log on this machine is proven by its anchors, as one check; ``hint`` is
    the command that anchors it."""
    best = furthest(anchors)
    if best is None:
        why = (
            "no TSA has time-stamped this log"
            if not anchors
            else f"none of its {len(anchors)} anchor(s) verifies against a trusted root"
        )
        return Check(
            ANCHORED_CHECK,
            Outcome.UNPROVEN,
            f"not anchored: {why}; the whole log rests on this machine alone. Anchor it: {hint}",
        )
    text = f"proven up to seq {best.seq} by {best.tsa} at {best.gen_time}"
    if last_seq is not None and best.seq is not None and last_seq > best.seq:
        text += f"; seq {best.seq + 1}..{last_seq} rest on this machine alone"
    return Check(ANCHORED_CHECK, Outcome.OK, text + untrusted_note(anchors))
