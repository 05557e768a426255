"""Trusted time against claimed time: what a time-stamp proves, and when it contradicts.

A manifest says when the capture finished, and a package says when it was signed, by
the collecting machine's clock: a claim. An RFC 3161 token proves only that the hash
existed no later than the authority's ``genTime``. Comparing the two gives three
answers:

- the claim is *after* the token by more than :data:`CLOCK_TOLERANCE` plus the
  authority's stated accuracy: impossible, since the hash cannot be stamped before the
  thing was made. The claim is contradicted: a failure;
- the token is later than the claim by more than a window (:data:`CAPTURE_WINDOW` for a
  capture, :data:`PACKAGE_WINDOW` for a package, the WACZ signing spec's 10 minutes):
  the claim is not contradicted, but nothing proves it either. The verdict says what
  is proven instead ("claimed 2026-11-04, proven no later than 2026-12-04"): unproven;
- otherwise the claim holds, within the gap the verdict states.

A token that does not verify is a failure, except one whose authority leads to no
root the verifier trusts, which is unproven (:class:`archive.evidence.timestamps.UntrustedChain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from archive.evidence.checks import Check, Outcome
from archive.evidence.timestamps import Timestamp, TimestampError, UntrustedChain
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_verify import verify_token
from archive.timeutil import parse_rfc3339

#: Clocks of well-kept machines agree within seconds; this allows for one that drifted.
CLOCK_TOLERANCE = timedelta(minutes=2)
#: A capture is stamped seconds after sealing, or, when no TSA answered, by the retries
#: (1 min, 5 min, 30 min, then every 2 h): a day covers a machine offline overnight.
CAPTURE_WINDOW = timedelta(hours=24)
#: The WACZ signing spec: ``created`` within 10 minutes of the signed time-stamp.
PACKAGE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Authority:
    """Who signed a token, and the trusted root it chains to."""

    signer: str
    root: str
    #: Where the verifier's trust in the root came from (a file they named, or certifi).
    root_source: str

    def __str__(self) -> str:
        return f"{self.signer} (chained to {self.root}, trusted from {self.root_source})"


@dataclass(frozen=True)
class ProvenTime:
    """One verified token over something that claims a time."""

    subject: str
    claimed: datetime | None
    proven: datetime
    authority: Authority
    outcome: Outcome

    def to_dict(self) -> dict[str, str | None]:
        return {
            "subject": self.subject,
            "claimed": _show(self.claimed) if self.claimed else None,
            "proven_no_later_than": _show(self.proven),
            "authority": self.authority.signer,
            "root": self.authority.root,
            "root_trusted_from": self.authority.root_source,
            "outcome": self.outcome.value,
        }


def authority_of(stamp: Timestamp, trust: TrustStore) -> Authority:
    """The signer and root of a verified token, from the chain its verification built."""
    chain = x509.load_pem_x509_certificates(stamp.tsa_chain_pem.encode("ascii"))
    return Authority(
        signer=chain[0].subject.rfc4514_string(),
        root=chain[-1].subject.rfc4514_string(),
        root_source=trust.source_of(chain[-1]),
    )


def verify_stamp(
    name: str, where: str, token: bytes, digest: bytes, trust: TrustStore
) -> Timestamp | Check:
    """The verified token, or the check that says why it is not one."""
    try:
        return verify_token(token, digest, trust=trust)
    except UntrustedChain as exc:
        return Check(name, Outcome.UNPROVEN, f"{where}: {exc}")
    except (TimestampError, ValueError) as exc:
        return Check(name, Outcome.FAILED, f"{where}: {exc}")


def judge_time(
    name: str,
    subject: str,
    claim: tuple[str, object],
    stamp: Timestamp,
    authority: Authority,
    *,
    window: timedelta,
) -> tuple[Check, ProvenTime]:
    """Compare one verified token with what ``subject`` claims (``(label, RFC 3339 text)``)."""
    label, text = claim
    proven = stamp.gen_time
    try:
        claimed = parse_rfc3339(str(text))
    except ValueError as exc:
        check = Check(name, Outcome.FAILED, f"{subject}: its {label} {text!r} is not a time: {exc}")
        return check, ProvenTime(subject, None, proven, authority, check.outcome)
    slack = CLOCK_TOLERANCE + timedelta(seconds=stamp.accuracy_seconds or 0)
    by = f"{authority.signer} signed its hash at {_show(proven)}"
    if claimed - proven > slack:
        outcome = Outcome.FAILED
        reason = (
            f"{subject} claims {label} {_show(claimed)}, but {by}, {_span(claimed - proven)}"
            f" earlier: the claimed time is contradicted by the time-stamp (allowing"
            f" {_span(slack)} for clocks and the authority's accuracy)"
        )
    elif proven - claimed > window:
        outcome = Outcome.UNPROVEN
        reason = (
            f"{subject}: claimed {_show(claimed)}, proven no later than {_show(proven)} by"
            f" {authority.signer}: the clock of the machine that made it is unproven for"
            f" {_span(proven - claimed)} (a time-stamp normally follows within {_span(window)})"
        )
    else:
        outcome = Outcome.OK
        reason = (
            f"{subject}: {label} {_show(claimed)} by its machine's own clock, proven no"
            f" later than {_show(proven)} by {authority}"
        )
    return Check(name, outcome, reason), ProvenTime(subject, claimed, proven, authority, outcome)


def _show(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(delta: timedelta) -> str:
    """A duration in words a reader takes in at once: 45 s, 12 min, 5 h 3 min, 30 days."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
