"""Custody anchors: a time-stamp authority's word that the custody log, up to one event,
existed at a time. What an anchor is, and how one is checked against a log or a slice.

The custody log's hash chain shows that nothing recorded was changed *since the head
was last compared*; but whoever controls the machine can edit an event, recompute
every later hash and update the head in the catalog, and the chain is as sound as
before. An anchor is what such a rewrite cannot reach: an RFC 3161 token from one TSA
whose message imprint is the 32 raw bytes of one event's ``hash``. That hash covers
the event before it, and so on back to the first, so the token proves that the whole
log up to that seq existed, exactly so, at the TSA's time. By hand::

    openssl ts -verify -digest <hash> -in anchors/<seq>-<n>.tsr -CAfile ROOT.pem

On the machine (written by :mod:`archive.evidence.anchoring`), each anchor is two sealed files
in ``DATA/anchors/``: ``<seq>-<n>.tsr``, the TSA's reply as received, and
``<seq>-<n>.chain.pem``, the chain its verification used; then an ``anchored`` custody
event whose details are :meth:`Anchor.details`. File first, event second: a file
without its event (a crash between) is noted and checked on its own, since the TSA's
statement is true all the same; an event whose file is missing or differs fails.

In an export, ``evidence/custody-head.json`` names the slice's last event and every
anchor carried, each token beside it: :mod:`archive.evidence.package_anchors`.

Every check here ends in an :class:`~archive.evidence.checks.Outcome`. A token whose TSA chains
to no trusted root is *unproven*: it contradicts nothing, and proves nothing either.
Whatever a token says must agree with what was recorded beside it, trusted or not: a
disagreement is a failure. What anchors cannot do: someone with full control of the
machine can delete anchors, with their events, and re-chain the log before any
anchor left it. Exports and published anchors are what put them out of reach.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.evidence.checks import Check, Outcome
from archive.evidence.custody_events import is_hash
from archive.evidence.timestamps import TimestampError, UntrustedChain
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_token import read_claim
from archive.evidence.tsa_verify import verify_token
from archive.timeutil import rfc3339

#: Where anchors live, under the data directory.
ANCHORS_DIR = "anchors"
CHAIN_SUFFIX = ".chain.pem"
#: ``<seq>-<n>.tsr``; in team mode the chain's tag comes first (``c<12 hex>.<seq>-<n>.tsr``,
#: :func:`archive.evidence.chain_names.chain_tag`): one store folder holds every chain's.
_TOKEN_NAME = re.compile(r"(?:c[0-9a-f]{12}\.)?(?P<seq>[1-9][0-9]*)-(?P<n>[1-9][0-9]*)\.tsr")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Names of the checks this module adds to a verdict.
HEAD_CHECK = "custody head"
ANCHOR_CHECK = "custody anchor"
ANCHORED_CHECK = "custody anchored"


def token_name(seq: int, number: int) -> str:
    """``<seq>-<n>.tsr``: the ``number``-th anchor of event ``seq``."""
    return f"{seq}-{number}.tsr"


def chain_name(token: str) -> str:
    """The name of the chain file kept beside the token ``token``."""
    return token.removesuffix(".tsr") + CHAIN_SUFFIX


def anchored_seq(name: str) -> int | None:
    """The seq a token file's name says it anchors, or ``None`` if it is no anchor's name."""
    match = _TOKEN_NAME.fullmatch(name)
    return int(match["seq"]) if match else None


@dataclass(frozen=True)
class Anchor:
    """One TSA's token over one event's hash, as recorded in its ``anchored`` event."""

    seq: int
    hash: str
    tsa: str
    #: The token's own time (RFC 3339, UTC), read when it was verified on receipt.
    gen_time: str
    #: The token's file name in ``DATA/anchors/``.
    token: str
    token_sha256: str

    def details(self) -> dict[str, Any]:
        """The ``anchored`` event's details."""
        return {
            "anchored_seq": self.seq,
            "anchored_hash": self.hash,
            "tsa": self.tsa,
            "gen_time": self.gen_time,
            "token": self.token,
            "chain": chain_name(self.token),
            "token_sha256": self.token_sha256,
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> Anchor:
        """Read an ``anchored`` event's details; ``ValueError`` says what is wrong."""
        seq, token = details.get("anchored_seq"), details.get("token")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"anchored_seq {seq!r} is not a seq")
        if not is_hash(details.get("anchored_hash")):
            raise ValueError("anchored_hash is not 64 lowercase hex digits")
        if not isinstance(token, str) or anchored_seq(token) != seq:
            raise ValueError(f"token {token!r} is not the name of an anchor of seq {seq}")
        for name in ("tsa", "gen_time"):
            if not isinstance(details.get(name), str) or not details[name]:
                raise ValueError(f"{name} is missing")
        sha = details.get("token_sha256")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError("token_sha256 is not a SHA-256")
        return cls(seq, details["anchored_hash"], details["tsa"], details["gen_time"], token, sha)


@dataclass(frozen=True)
class AnchorCheck:
    """One anchor as found, and what checking it concluded."""

    #: The seq and hash the anchor is over (``None``/``""`` when they cannot be read).
    seq: int | None
    hash: str
    tsa: str
    #: The token's time when it could be read, else as recorded.
    gen_time: str
    #: Where the token is: ``anchors/<seq>-<n>.tsr``, or its path in a package.
    where: str
    outcome: Outcome
    reason: str

    def check(self) -> Check:
        return Check(ANCHOR_CHECK, self.outcome, f"{self.where}: {self.reason}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "tsa": self.tsa,
            "gen_time": self.gen_time,
            "token": self.where,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Claim:
    """What was recorded about a token, to be held against the token and the log."""

    seq: int
    hash: str
    tsa: str
    gen_time: str | None
    where: str


def check_token(
    token: bytes | None,
    claim: Claim,
    logged: Mapping[int, str],
    trust: TrustStore,
    *,
    log_name: str,
) -> AnchorCheck:
    """One token against its record, against the log's event at its seq, and its TSA.

    ``logged`` maps each seq of the log (or slice, ``log_name``) to its hash now.
    Agreement is checked before trust, so an untrusted token that contradicts the log
    still fails.
    """

    def result(outcome: Outcome, reason: str, time: str | None = None) -> AnchorCheck:
        when = time or claim.gen_time or "?"
        return AnchorCheck(claim.seq, claim.hash, claim.tsa, when, claim.where, outcome, reason)

    if token is None:
        return result(Outcome.FAILED, "the token is missing: the anchor was removed")
    try:
        digest, claimed = read_claim(token)
    except TimestampError as exc:
        return result(Outcome.FAILED, f"not a time-stamp token ({exc})")
    when = rfc3339(claimed)
    if digest.hex() != claim.hash:
        return result(
            Outcome.FAILED,
            f"the token stamps {digest.hex()}, not the recorded {claim.hash}",
            when,
        )
    if claim.gen_time is not None and claim.gen_time != when:
        return result(
            Outcome.FAILED, f"the token's time is {when}, but {claim.gen_time} was recorded", when
        )
    now = logged.get(claim.seq)
    if now != claim.hash:
        stamped = f"{claim.tsa} time-stamped seq {claim.seq} ({claim.hash[:12]}…) at {when}"
        if now is None:
            why = f"{stamped}, but {log_name} has no seq {claim.seq}: events were removed after"
        else:
            why = f"{stamped}, but {log_name} has {now[:12]}… there: it was rewritten after"
        return result(Outcome.FAILED, why + " that time", when)
    try:
        stamp = verify_token(token, digest, trust=trust, tsa_url=claim.tsa)
    except UntrustedChain as exc:
        return result(
            Outcome.UNPROVEN,
            f"{exc}; that is --tsa-trust ROOT.pem",
            when,
        )
    except TimestampError as exc:
        return result(Outcome.FAILED, f"the token does not verify: {exc}", when)
    when = rfc3339(stamp.gen_time)
    return result(Outcome.OK, f"{claim.tsa} time-stamped seq {claim.seq} at {when}", when)


def furthest(anchors: Sequence[AnchorCheck]) -> AnchorCheck | None:
    """The verified anchor that reaches furthest (the earliest, among those at that seq)."""
    verified = [a for a in anchors if a.outcome is Outcome.OK and a.seq is not None]
    if not verified:
        return None
    return min(verified, key=lambda a: (-(a.seq or 0), a.gen_time))


def shown_checks(anchors: Sequence[AnchorCheck], final: Check) -> list[Check]:
    """The anchors' checks that go before ``final``, the check that says what they prove.

    An unproven anchor is shown only when ``final`` is not ok: beside one that verifies
    it proves nothing more, and contradicts nothing (``final`` says how many there are).
    So the worst outcome of the list and ``final`` is the verdict.
    """
    return [a.check() for a in anchors if a.outcome is not Outcome.UNPROVEN or not final.ok]


def untrusted_note(anchors: Sequence[AnchorCheck]) -> str:
    count = sum(a.outcome is Outcome.UNPROVEN for a in anchors)
    if not count:
        return ""
    return f" ({count} more anchor(s) from TSAs not trusted here prove nothing more)"
