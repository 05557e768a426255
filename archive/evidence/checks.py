"""What a check of evidence can conclude: it holds, it fails, or it cannot be proven.

"Intact" is not "authentic". A package can be byte for byte what was signed and still
rest on a key nobody vouched for, or on a time-stamp authority whose root the verifier
does not trust. So every check ends in one of three outcomes, never two:

- ``ok``: it holds, on a basis the verifier established (a pinned or trusted key, a
  trusted TSA root, an anchor that verifies);
- ``failed``: something is altered, missing where it must be, or contradicts itself:
  tampering or damage;
- ``unproven``: nothing contradicts it, but what it rests on is not established (an
  unpinned key, an untrusted TSA, no trusted time at all).

The verdict of many checks is the worst of them; an empty list of checks is a
failure, never a pass. The command line maps verdicts to exit codes (:class:`ExitStatus`)
the same way everywhere a check of evidence is run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNPROVEN = "unproven"


#: How each outcome is shown at the start of a line: the same width, failures loud.
LABELS = {Outcome.OK: "ok      ", Outcome.FAILED: "FAIL    ", Outcome.UNPROVEN: "UNPROVEN"}


class ExitStatus(IntEnum):
    """Exit codes of ``verify`` and ``custody verify``."""

    #: Every check holds, on an established trust basis.
    VERIFIED = 0
    #: Something was altered, is missing, or contradicts itself.
    FAILED = 1
    #: The input could not be read at all (not a package, a missing trust file).
    UNREADABLE = 2
    #: Intact, but not authenticated: a signer, a time authority or trusted time is
    #: not established. The first line of the output says what is missing.
    UNPROVEN = 4


@dataclass(frozen=True)
class Check:
    """One thing checked, what came of it, and why (what was found, or what differs)."""

    name: str
    outcome: Outcome
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def __str__(self) -> str:
        return f"{LABELS[self.outcome]} {self.name}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "outcome": self.outcome.value, "reason": self.reason}


def outcome_of(ok: bool) -> Outcome:
    """``ok`` or ``failed``: for checks that have no trust basis to establish."""
    return Outcome.OK if ok else Outcome.FAILED


def overall(checks: Iterable[Check]) -> Outcome:
    """The worst outcome of ``checks``; nothing checked at all is a failure."""
    outcomes = {check.outcome for check in checks}
    if not outcomes or Outcome.FAILED in outcomes:
        return Outcome.FAILED
    if Outcome.UNPROVEN in outcomes:
        return Outcome.UNPROVEN
    return Outcome.OK


def exit_status(outcome: Outcome) -> ExitStatus:
    return {
        Outcome.OK: ExitStatus.VERIFIED,
        Outcome.FAILED: ExitStatus.FAILED,
        Outcome.UNPROVEN: ExitStatus.UNPROVEN,
    }[outcome]
