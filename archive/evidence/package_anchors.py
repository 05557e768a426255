"""Anchors in an export: the custody head a package was made at, the tokens it carries,
and their check with nothing but the package (and the verifier's TSA roots).

A package carries one or two custody segments, each with a head file naming its last
event and every anchor carried (seq, hash, TSA, time, path), and the tokens beside it
(one folder deep, as ``wacz validate`` requires):

- the slice, ``evidence/custody.jsonl``: ``evidence/custody-head.json`` and
  ``evidence/custody-anchor-<seq>-<n>.tsr``. The last check, ``custody anchored``, is
  ok only when an anchor the verifier trusts covers the head: the slice is then proven
  to have existed, as it is, at that anchor's time;
- for captures migrated from an embedded archive, the imported log's slice
  ``evidence/custody-embedded.jsonl``: ``evidence/custody-embedded-head.json`` and
  ``evidence/custody-embedded-anchor-<seq>-<n>.tsr``, the embedded log's own anchors,
  made before ``migrate``. The slice's ``migrated`` event names that segment's head, so
  the slice's anchors cover it already; these prove more: that the embedded log, up to
  each anchored seq, existed at those earlier times. Its last check,
  ``custody embedded anchored``, says how far the furthest trusted one reaches.

In both, every anchor is held against the segment's own event at its seq (a token over
another hash fails, naming both), and an ``anchored`` event of the segment whose anchor
the package leaves out fails: hiding an anchor is how a rewrite would hide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.evidence.anchors import (
    ANCHOR_CHECK,
    ANCHORED_CHECK,
    HEAD_CHECK,
    Anchor,
    AnchorCheck,
    Claim,
    anchored_seq,
    check_token,
    furthest,
    shown_checks,
    untrusted_note,
)
from archive.evidence.checks import Check, Outcome
from archive.evidence.custody_events import CustodyError, is_hash
from archive.evidence.custody_lines import verify_slice
from archive.evidence.tsa_roots import TrustStore


@dataclass(frozen=True)
class Segment:
    """One custody segment of a package: how its checks are named, where its head and
    tokens are, and whether a trusted anchor must cover its head."""

    label: str
    head_path: str
    token_prefix: str
    log_name: str
    #: The slice's head must be anchored to be proven; the embedded segment's head is
    #: covered by the slice, and its anchors prove earlier times of earlier seqs.
    head_anchored: bool

    def token_path(self, token: str) -> str:
        """Where the token file ``token`` goes (without a chain's tag: a segment is one
        chain, so ``<seq>-<n>.tsr`` names it there)."""
        return self.token_prefix + token.rsplit(".", 2)[-2] + ".tsr"

    def is_token(self, path: str) -> bool:
        """Whether a package member is one of this segment's anchor tokens."""
        rest = path.removeprefix(self.token_prefix)
        return rest != path and anchored_seq(rest) is not None

    def name(self, check: str) -> str:
        """A check's name for this segment (``custody head``, ``custody embedded head``)."""
        return check.replace("custody", self.label, 1)


SLICE = Segment(
    "custody",
    "evidence/custody-head.json",
    "evidence/custody-anchor-",
    "the slice",
    head_anchored=True,
)
EMBEDDED = Segment(
    "custody embedded",
    "evidence/custody-embedded-head.json",
    "evidence/custody-embedded-anchor-",
    "the embedded slice",
    head_anchored=False,
)
#: The export's statement of its custody head and the anchors it carries.
PACKAGE_HEAD_PATH = SLICE.head_path


def package_path(token: str) -> str:
    """Where the slice's token file ``token`` goes in an export."""
    return SLICE.token_path(token)


def is_package_token(path: str) -> bool:
    """Whether a package member is one of the slice's anchor tokens."""
    return SLICE.is_token(path)


def check_package_anchors(
    events: Sequence[Mapping[str, Any]],
    head: object | None,
    tokens: Mapping[str, bytes],
    trust: TrustStore,
    *,
    segment: Segment = SLICE,
) -> list[Check]:
    """Check one segment's head and anchors, offline (module docstring).

    ``events`` is the parsed segment (``evidence/custody.jsonl``), ``head`` its parsed
    head file (``None`` when the package has none), ``tokens`` the package's anchor
    tokens of the segment by path (:meth:`Segment.is_token`).
    """
    head_check = segment.name(HEAD_CHECK)
    try:
        verify_slice(events)
    except (CustodyError, TypeError, ValueError) as exc:
        reason = f"{segment.log_name}'s own chain does not hold, so no anchor can vouch for it"
        return [Check(head_check, Outcome.FAILED, f"{reason}: {exc}")]
    logged = {event["seq"]: event["hash"] for event in events}
    if head is None:
        uncarried = _uncarried(segment, events, [], tokens)
        if not segment.head_anchored and not uncarried:
            return []  # nothing recorded, nothing carried: nothing to say
        missing = f"the package does not say which {segment.label} head it was exported at"
        return [Check(head_check, Outcome.UNPROVEN, missing), *uncarried]
    try:
        head_seq, head_hash, entries = _read_head(head)
    except ValueError as exc:
        reason = f"{segment.head_path} is not a custody head: {exc}"
        return [Check(head_check, Outcome.FAILED, reason), *_uncarried(segment, events, [], tokens)]
    at_head = _head_check(segment, events, head_seq, head_hash)
    anchors = [_check_entry(segment, entry, tokens, logged, trust) for entry in entries]
    final = _anchored(segment, anchors, head_seq if at_head.ok else None)
    uncarried = _uncarried(segment, events, entries, tokens)
    if final is None:
        return [at_head, *uncarried]
    shown = [_renamed(segment, check) for check in shown_checks(anchors, final)]
    return [at_head, *shown, *uncarried, final]


def _renamed(segment: Segment, check: Check) -> Check:
    return Check(segment.name(check.name), check.outcome, check.reason)


def _read_head(head: object) -> tuple[int, str, list[Mapping[str, Any]]]:
    if not isinstance(head, Mapping):
        raise ValueError("not a JSON object")
    seq, hash_, entries = head.get("seq"), head.get("hash"), head.get("anchors")
    if not isinstance(seq, int) or isinstance(seq, bool) or not is_hash(hash_):
        raise ValueError("no seq and hash")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ValueError("anchors is not a list of objects")
    return seq, str(hash_), entries


def _head_check(
    segment: Segment, events: Sequence[Mapping[str, Any]], seq: int, hash_: str
) -> Check:
    name = segment.name(HEAD_CHECK)
    if not events:
        empty = f"the head is seq {seq}, but {segment.log_name} is empty"
        return Check(name, Outcome.FAILED, empty)
    last = events[-1]
    if (last["seq"], last["hash"]) != (seq, hash_):
        return Check(
            name,
            Outcome.FAILED,
            f"{segment.head_path} says the export's head was seq {seq} ({hash_[:12]}…), but"
            f" {segment.log_name} ends at seq {last['seq']} ({last['hash'][:12]}…): it was"
            " cut, extended or rewritten after the export",
        )
    return Check(name, Outcome.OK, f"{segment.log_name} ends at seq {seq}, the head at export")


def _check_entry(
    segment: Segment,
    entry: Mapping[str, Any],
    tokens: Mapping[str, bytes],
    logged: Mapping[int, str],
    trust: TrustStore,
) -> AnchorCheck:
    seq, path = entry.get("seq"), entry.get("path")
    fields_ok = (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and is_hash(entry.get("hash"))
        and all(isinstance(entry.get(k), str) for k in ("tsa", "gen_time"))
        and isinstance(path, str)
        and segment.is_token(path)
    )
    if not fields_ok:
        where = str(path) if isinstance(path, str) else segment.head_path
        reason = f"an anchor listed in {segment.head_path} is malformed: {dict(entry)!r}"
        return AnchorCheck(None, "", "?", "?", where, Outcome.FAILED, reason)
    claim = Claim(seq, entry["hash"], entry["tsa"], entry["gen_time"], path)
    return check_token(tokens.get(path), claim, logged, trust, log_name=segment.log_name)


def _uncarried(
    segment: Segment,
    events: Sequence[Mapping[str, Any]],
    entries: Sequence[Mapping[str, Any]],
    tokens: Mapping[str, bytes],
) -> list[Check]:
    """A failure for each anchor the segment records of one of its own events but the
    package leaves out."""
    if not events:
        return []
    first, last = events[0]["seq"], events[-1]["seq"]
    carried = {
        (entry.get("seq"), hashlib.sha256(tokens[path]).hexdigest())
        for entry in entries
        if isinstance(path := entry.get("path"), str) and path in tokens
    }
    checks = []
    name = segment.name(ANCHOR_CHECK)
    for event in events:
        if event.get("action") != "anchored":
            continue
        try:
            anchor = Anchor.from_details(event.get("details") or {})
        except ValueError as exc:
            reason = f"the 'anchored' event seq {event['seq']} does not describe an anchor: {exc}"
            checks.append(Check(name, Outcome.FAILED, reason))
            continue
        if first <= anchor.seq <= last and (anchor.seq, anchor.token_sha256) not in carried:
            reason = (
                f"the 'anchored' event seq {event['seq']} of {segment.log_name} records an"
                f" anchor of seq {anchor.seq} by {anchor.tsa} (token SHA-256"
                f" {anchor.token_sha256}) that the package does not carry: an anchor was left out"
            )
            checks.append(Check(name, Outcome.FAILED, reason))
    return checks


def _anchored(
    segment: Segment, anchors: Sequence[AnchorCheck], head_seq: int | None
) -> Check | None:
    """How far the segment is proven: the slice by a trusted anchor of its head, the
    embedded segment by its furthest trusted anchor (``None``: it carries none)."""
    name = segment.name(ANCHORED_CHECK)
    if not segment.head_anchored:
        return _embedded_anchored(name, anchors) if anchors else None
    best = furthest([a for a in anchors if head_seq is not None and a.seq == head_seq])
    if best is None:
        return Check(
            name,
            Outcome.UNPROVEN,
            "no anchor the verifier trusts covers the custody head: the events rest on the"
            " sender's word (and the package signature) alone",
        )
    text = f"custody proven up to seq {best.seq} at {best.gen_time} by {best.tsa}"
    return Check(name, Outcome.OK, text + untrusted_note(anchors))


def _embedded_anchored(name: str, anchors: Sequence[AnchorCheck]) -> Check:
    best = furthest(anchors)
    if best is None:
        return Check(
            name,
            Outcome.UNPROVEN,
            "no anchor of the embedded log that the verifier trusts: its earlier times rest"
            " on the sender's word (its events are still covered by the slice, whose"
            " 'migrated' event names its head)",
        )
    text = (
        f"the embedded log (before migrate) proven up to seq {best.seq} at {best.gen_time}"
        f" by {best.tsa}"
    )
    return Check(name, Outcome.OK, text + untrusted_note(anchors))
