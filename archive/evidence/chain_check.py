"""Checking one custody chain kept in the catalog (team mode), and the verdict on all of them.

A chain's stored events are joined, in the order of their ``seq`` column, into exactly
the bytes a ``custody.jsonl`` of that chain would hold, and checked by the same code
(:func:`archive.evidence.custody_lines.check_log`): every line, every link. Two rules
are stricter than the file log's:

- the head row must be the last event exactly. The file log forgives a head one event
  behind (a crash between the line's fsync and the head's update); in the catalog the
  event and its head move in one transaction, so a head behind its chain was moved
  back by hand, and that is a problem;
- seq 1 must be the ``chain-opened`` event naming this chain
  (:mod:`archive.evidence.chain_names`): a chain that starts with another's events was
  assembled from parts. An imported embedded log (``embedded:<hash>``, carried over by
  ``migrate`` byte for byte) has no such event: its seq 1 must be the event whose hash
  its name holds, which binds the name to that log as firmly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from archive.evidence.chain_names import OPENING_ACTION, imported_first_hash, opening_details
from archive.evidence.checks import Check, Outcome, overall
from archive.evidence.custody_events import Event
from archive.evidence.custody_lines import CustodyProblem, LogCheck, check_log
from archive.evidence.custody_report import CustodyReport


def check_chain(chain: str, lines: Sequence[bytes], head: tuple[int, str] | None) -> LogCheck:
    """The chain's stored lines (``seq`` order) against its head row, named by chain."""
    log = check_log(b"".join(lines), head)
    problems = list(log.problems)
    if log.last != head and not any(p.kind == "head-mismatch" for p in problems):
        problems.append(moved_back(log.last, head))
    opening = opening_problem(chain, log.events[0] if log.events else None)
    if opening is not None:
        problems.append(opening)
    # The file log's one note (a head one event behind) is a problem here, reported above.
    return replace(log, problems=tuple(problems), warnings=())


def opening_problem(chain: str, first: Event | None) -> CustodyProblem | None:
    """What is wrong with the chain's first event: an imported chain's must be the event
    whose hash its name holds, any other chain's seq 1 the event naming it."""
    bound = imported_first_hash(chain)
    if bound is not None:
        if first is not None and (first.seq != 1 or first.hash != bound):
            return CustodyProblem(
                "chain",
                f"imported chain {chain!r} must start with the event of hash {bound} at"
                f" seq 1; it starts with seq {first.seq}, hash {first.hash}: it is not"
                " the log it was imported as",
                1,
                first.seq,
            )
        return None
    if (
        first is not None
        and first.seq == 1
        and (first.action != OPENING_ACTION or first.details != opening_details(chain))
    ):
        said = first.details.get("chain") if first.action == OPENING_ACTION else None
        return CustodyProblem(
            "chain",
            f"line 1 (seq 1) of chain {chain!r} is not the '{OPENING_ACTION}' event naming"
            f" it ({'it names ' + repr(said) if said else 'it is ' + repr(first.action)}):"
            " this chain starts with events of another chain",
            1,
            1,
        )
    return None


def moved_back(last: tuple[int, str] | None, head: tuple[int, str] | None) -> CustodyProblem:
    """A chain that ends one event past its head row: in the catalog, never a crash."""
    shown = f"seq {head[0]}" if head is not None else "no head"
    return CustodyProblem(
        "head-mismatch",
        f"the chain ends at seq {last[0] if last else 0} but its head row says {shown}: the"
        " head was moved back (an event and its head are committed together, so no crash"
        " leaves them apart)",
        seq=last[0] if last else None,
    )


@dataclass(frozen=True)
class ChainsReport:
    """The verdict on every chain of the catalog: each chain's :class:`CustodyReport`.

    *ok* only when every chain is intact and anchored; *failed* when any chain has a
    problem; *unproven* otherwise, or when there is no chain at all to check.
    """

    where: str
    chains: tuple[tuple[str, CustodyReport], ...]

    @property
    def ok(self) -> bool:
        return all(report.ok for _chain, report in self.chains)

    def checks(self) -> list[Check]:
        if not self.chains:
            return [
                Check(
                    "custody log",
                    Outcome.UNPROVEN,
                    f"no custody chain in {self.where} holds any event yet",
                )
            ]
        return [
            Check(check.name, check.outcome, f"chain {chain}: {check.reason}")
            for chain, report in self.chains
            for check in report.checks()
        ]

    @property
    def outcome(self) -> Outcome:
        return overall(self.checks())

    def summary(self) -> str:
        """The verdict on all chains first, then each chain's summary."""
        failed = [chain for chain, report in self.chains if not report.ok]
        head = f"custody in {self.where}: {len(self.chains)} chain(s), "
        if failed:
            head += f"{len(failed)} with problems ({', '.join(failed)})"
        else:
            head += f"all intact; {self.outcome.value}"
        return "\n".join([head, *(report.summary() for _chain, report in self.chains)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.outcome is Outcome.OK,
            "outcome": self.outcome.value,
            "intact": self.ok,
            "summary": self.summary(),
            "chains": {chain: report.to_dict() for chain, report in self.chains},
            "checks": [check.to_dict() for check in self.checks()],
            "problems": [
                f"chain {chain}: {problem}"
                for chain, report in self.chains
                for problem in report.problems
            ],
        }


def parsed(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    """The stored lines as logged (parsed JSON), for slices and anchoring."""
    return [json.loads(line) for line in lines]
