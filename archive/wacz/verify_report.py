"""What a verification found, said in the order a reader needs it.

First the verdict, in plain words, and what it rests on: which key signed and whether
the verifier established it (and how), which time-stamp authorities chained to a root
the verifier trusts, the trusted time of the package and of each capture, and how
far the custody log is anchored. Then every check, one line each. The same facts go
to JSON for machines (:meth:`VerifyReport.to_dict`).

Three verdicts (:mod:`archive.evidence.checks`): verified (exit 0), failed (1), and intact but
not authenticated (4), whose first line names what is not established.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.evidence.checks import Check, Outcome, exit_status, outcome_of, overall
from archive.evidence.timecheck import Authority, ProvenTime
from archive.evidence.trust import TrustedKeys

#: Failures shown under the verdict line before the full list.
HEADLINE_FAILURES = 3


@dataclass
class VerifyReport:
    path: Path
    keys: TrustedKeys = field(default_factory=TrustedKeys)
    checks: list[Check] = field(default_factory=list)
    #: The captures the package holds (by their manifests' names).
    captures: list[str] = field(default_factory=list)
    #: Fingerprint of each key whose signature verified -> the files it signed.
    signers: dict[str, list[str]] = field(default_factory=dict)
    #: Every verified token compared with the time its subject claims.
    times: list[ProvenTime] = field(default_factory=list)
    #: How far the package's custody slice is proven by anchors, in words.
    custody: str | None = None

    def add(self, name: str, ok: bool | Outcome, reason: str = "") -> None:
        outcome = ok if isinstance(ok, Outcome) else outcome_of(ok)
        self.checks.append(Check(name, outcome, reason))

    def extend(self, checks: list[Check]) -> None:
        self.checks.extend(checks)

    def signed(self, fingerprint: str, what: str) -> None:
        self.signers.setdefault(fingerprint, []).append(what)

    @property
    def outcome(self) -> Outcome:
        return overall(self.checks)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def exit_status(self) -> int:
        return int(exit_status(self.outcome))

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.outcome is Outcome.FAILED]

    @property
    def unproven(self) -> list[Check]:
        return [check for check in self.checks if check.outcome is Outcome.UNPROVEN]

    def authorities(self) -> list[Authority]:
        return list({time.authority: None for time in self.times})

    # -- for people --------------------------------------------------------------------------

    def summary(self) -> str:
        lines = [f"{self.path}: {self.verdict()}"]
        if self.outcome is Outcome.FAILED:
            lines += [f"  {check}" for check in self.failures[:HEADLINE_FAILURES]]
        elif self.outcome is Outcome.UNPROVEN:
            lines.append("  to establish it:")
            lines += [f"  - {check.reason}" for check in self.unproven]
        lines.append("  rests on:")
        lines += [f"    {line}" for line in self._basis_lines()]
        lines.append("  checks:")
        lines += [f"    {check}" for check in self.checks]
        return "\n".join(lines)

    def verdict(self) -> str:
        outcome = self.outcome
        if outcome is Outcome.OK:
            return (
                f"VERIFIED: intact and authenticated; {len(self.captures)} capture(s), signed"
                " by an established key, each with trusted time consistent with what it claims"
            )
        if outcome is Outcome.UNPROVEN:
            missing = sorted({_MISSING.get(check.name, check.name) for check in self.unproven})
            return (
                "INTACT, NOT AUTHENTICATED (exit 4): nothing was found altered, but not"
                f" established: {'; '.join(missing)}"
            )
        count = len(self.failures)
        return (
            f"FAILED: {count} check(s) failed: the package was altered, is damaged or"
            " contradicts itself; do not rely on it"
        )

    def _basis_lines(self) -> list[str]:
        lines = []
        for fingerprint, files in self.signers.items():
            key = self.keys.get(fingerprint)
            who = f"{key.holder}, {key.basis}" if key else "NOT established by you"
            lines.append(f"key {fingerprint} ({who}): signed {len(files)} file(s)")
        if not self.signers:
            lines.append("no key: no signature verified")
        for authority in self.authorities():
            lines.append(f"time-stamp authority {authority}")
        if not self.times:
            lines.append("no trusted time: no time-stamp token verified")
        for time in self.times:
            shown = time.to_dict()
            lines.append(
                f"{time.subject}: claimed {shown['claimed']}, proven no later than"
                f" {shown['proven_no_later_than']} ({time.outcome.value})"
            )
        lines.append(f"custody: {self.custody or 'not anchored by any verified time-stamp'}")
        return lines

    # -- for machines ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": str(self.path),
            "verdict": self.outcome.value,
            "exit": self.exit_status,
            "ok": self.ok,
            "summary": self.verdict(),
            "rests_on": {
                "signers": [self._signer_dict(fp, files) for fp, files in self.signers.items()],
                "time_authorities": [
                    {"signer": a.signer, "root": a.root, "root_trusted_from": a.root_source}
                    for a in self.authorities()
                ],
                "trusted_time": [time.to_dict() for time in self.times],
                "custody": self.custody,
            },
            "captures": self.captures,
            "checks": [check.to_dict() for check in self.checks],
        }

    def _signer_dict(self, fingerprint: str, files: list[str]) -> dict[str, Any]:
        key = self.keys.get(fingerprint)
        return {
            "fingerprint": fingerprint,
            "established": key is not None,
            "holder": key.holder if key else None,
            "basis": key.basis if key else None,
            "signed": files,
        }


#: What each kind of unproven check leaves unestablished, and how to establish it, for
#: the verdict's first line (the lines under it give each case in full).
_MISSING = {
    "signer": "whose key signed it (pin the fingerprint its holder gives you with"
    " --key-fingerprint, or list it with --trusted-keys)",
    "package time-stamp": "when the package was signed (a token whose authority you trust:"
    " --tsa-trust ROOT.pem)",
    "time-stamp": "when captures were made (tokens whose authority you trust: --tsa-trust"
    " ROOT.pem)",
    "trusted time": "when captures were made (tokens whose authority you trust: --tsa-trust"
    " ROOT.pem)",
    "custody anchor": "how far the chain of custody is anchored (--tsa-trust for the"
    " anchors' authority)",
    "custody anchored": "how far the chain of custody is anchored (--tsa-trust for the"
    " anchors' authority)",
    "custody head": "which custody head it was exported at (an export made with a"
    " time-stamp authority)",
}
