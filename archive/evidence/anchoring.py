"""Making custody anchors: an event of the log time-stamped by each configured TSA.

What an anchor is and what it proves: :mod:`archive.evidence.anchors`. Three callers make them:
``osint-capture custody anchor`` (the head, now), the server's schedule (the head,
when events were added since the newest anchor: :func:`anchor_if_due`), and every
export (the slice's last event, carried in the package: :func:`package_anchors`).

Nothing is anchored from a log that does not verify (:meth:`CustodyLog.intact_events`):
an anchor must never lend a damaged log a proof. Each TSA is asked outside any lock
(one may take its whole timeout); its verified reply is then written, sealed, with its
chain, and the ``anchored`` event appended, under ``DATA/anchors.lock``, so that two
anchorings of one seq never pick the same file name. File first, event second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.evidence.anchors import ANCHORS_DIR, Anchor, chain_name, token_name
from archive.evidence.chain_anchors import chain_token, keep_chain_anchor
from archive.evidence.chain_log import ChainLog
from archive.evidence.custody import CustodyError, CustodyLog, CustodyTampered
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.package_anchors import EMBEDDED, SLICE, Segment
from archive.evidence.timestamps import Timestamp, TimestampError
from archive.evidence.tsa_client import DEFAULT_TIMEOUT, request_token
from archive.evidence.tsa_roots import TrustStore
from archive.store import PARTIAL_SUFFIX, StoreError, locked
from archive.timeutil import rfc3339

ANCHORS_LOCK = "anchors.lock"
#: The kinds of the sealed files an anchor is kept in.
TOKEN_KIND = "custody-anchor"
CHAIN_KIND = "tsa-chain"


@dataclass(frozen=True)
class Anchoring:
    """Which TSAs anchor the custody log, and the roots their replies must chain to."""

    tsas: tuple[str, ...]
    trust: TrustStore
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class AnchorRun:
    """What one anchoring of event ``seq`` did: each anchor kept, each TSA's error."""

    seq: int
    hash: str
    anchors: list[Anchor] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The chain anchored (team mode); ``None`` for the file log's one chain.
    chain: str | None = None


#: A log that can be anchored: the file log, or one chain of the catalog's.
AnchoredLog = CustodyLog | ChainLog


def anchor_head(
    log: AnchoredLog, anchoring: Anchoring, *, actor: str, at: tuple[int, str] | None = None
) -> AnchorRun:
    """Time-stamp the event ``at`` (``(seq, hash)``; the log's head when ``None``) with
    every TSA of ``anchoring``, and keep each verified reply as an anchor.

    A TSA that cannot be reached, refuses, or whose reply does not verify is noted in
    the run's errors and the others are asked all the same. Refuses
    (:class:`CustodyError`) an empty log, one that does not verify, an ``at`` the log
    does not hold, and a reply that cannot be written. Blocking.
    """
    events = log.intact_events("to anchor")
    _refuse_contradicted(events)
    seq, hash_ = _target(events, at)
    run = AnchorRun(seq, hash_, chain=log.name if isinstance(log, ChainLog) else None)
    for tsa in anchoring.tsas:
        try:
            stamp = request_token(
                bytes.fromhex(hash_), tsa, trust=anchoring.trust, timeout=anchoring.timeout
            )
        except TimestampError as exc:
            run.errors.append(str(exc) if tsa in str(exc) else f"{tsa}: {exc}")
            continue
        run.anchors.append(_keep(log, stamp, seq, hash_, actor))
    return run


def _target(events: Sequence[Mapping[str, Any]], at: tuple[int, str] | None) -> tuple[int, str]:
    if not events:
        raise CustodyError("nothing to anchor: the custody log has no events yet")
    if at is None:
        return events[-1]["seq"], events[-1]["hash"]
    seq, hash_ = at
    if not 1 <= seq <= len(events) or events[seq - 1]["hash"] != hash_:
        raise CustodyError(f"refusing to anchor seq {seq}: the custody log has no such event")
    return seq, hash_


def _keep(log: AnchoredLog, stamp: Timestamp, seq: int, hash_: str, actor: str) -> Anchor:
    """Seal the TSA's reply and its chain in ``DATA/anchors/``, then record the event."""
    if isinstance(log, ChainLog):
        return keep_chain_anchor(log, stamp, seq, hash_, actor)
    store = log.store
    with locked(log.data_dir / ANCHORS_LOCK, exclusive=True):
        name = _free_name(log, seq)
        try:
            with store.create_file(ANCHORS_DIR, name, TOKEN_KIND) as token:
                token.write(stamp.token_der)
            with store.create_file(ANCHORS_DIR, chain_name(name), CHAIN_KIND) as chain:
                chain.write(stamp.tsa_chain_pem.encode("ascii"))
        except (OSError, StoreError) as exc:
            raise CustodyError(
                f"the anchor of seq {seq} from {stamp.tsa_url} could not be kept in"
                f" {log.anchors_dir / name}: {exc}"
            ) from exc
        assert token.sealed is not None
        anchor = Anchor(
            seq, hash_, stamp.tsa_url, rfc3339(stamp.gen_time), name, token.sealed.sha256
        )
        log.append("anchored", actor=actor, details=anchor.details())
    return anchor


def _free_name(log: CustodyLog, seq: int) -> str:
    """The first ``<seq>-<n>.tsr`` that no anchor (or crashed write of one) has taken."""
    number = 1
    while True:
        name = token_name(seq, number)
        taken = [name, chain_name(name)]
        taken += [f".{n}{PARTIAL_SUFFIX}" for n in taken]
        if not any((log.anchors_dir / n).exists() for n in taken):
            return name
        number += 1


def anchor_due(log: AnchoredLog) -> bool:
    """Whether events were added since the newest anchor, other than anchors' own.

    The ``anchored`` event of the last anchoring always follows it; anchoring for that
    alone would anchor again every time, for ever.
    """
    events = list(log.events())
    newest = 0
    for event in events:
        seq = event.details.get("anchored_seq") if event.action == "anchored" else None
        if isinstance(seq, int):
            newest = max(newest, seq)
    return any(e.seq > newest and e.action != "anchored" for e in events)


def anchor_if_due(log: AnchoredLog, anchoring: Anchoring, *, actor: str) -> AnchorRun | None:
    """:func:`anchor_head`, when :func:`anchor_due`; else ``None``."""
    if not anchor_due(log):
        return None
    return anchor_head(log, anchoring, actor=actor)


def anchor_all_due(
    custody: CustodyLog | DbCustodyLog, anchoring: Anchoring, *, actor: str
) -> list[AnchorRun]:
    """Every log or chain whose head moved since its newest anchor, anchored: the file
    log's one chain, or (team mode) each chain of the catalog on its own."""
    logs: list[AnchoredLog] = (
        [custody.chain(name) for name in custody.chains()]
        if isinstance(custody, DbCustodyLog)
        else [custody]
    )
    runs = [anchor_if_due(log, anchoring, actor=actor) for log in logs]
    return [run for run in runs if run is not None]


@dataclass(frozen=True)
class PackageAnchors:
    """What an export carries of one custody segment: the head it was made at, and the
    anchors (:mod:`archive.evidence.package_anchors`)."""

    #: The head file's bytes (``evidence/custody-head.json`` for the slice).
    head: bytes
    #: ``(path in the package, the token's bytes)`` for each anchor carried.
    tokens: tuple[tuple[str, bytes], ...]
    #: The anchoring of the head done for this export (``None`` when no TSA is set).
    run: AnchorRun | None
    head_path: str = SLICE.head_path

    def entries(self) -> list[tuple[str, bytes]]:
        """Every file to add to the package, with its path there."""
        return [(self.head_path, self.head), *self.tokens]


def package_anchors(
    log: CustodyLog | DbCustodyLog,
    events: Sequence[Mapping[str, Any]],
    anchoring: Anchoring | None,
    *,
    actor: str,
) -> PackageAnchors | None:
    """Anchor a slice's last event now, and gather every anchor of the slice's events.

    ``events`` is the slice (:meth:`CustodyLog.slice_for`); ``None`` when it is empty.
    Carried: each anchor an ``anchored`` event of the slice records of a seq within
    the slice, and each made now. Refuses (:class:`CustodyError`) when a recorded
    anchor's file is missing or changed: the package would hide what the log records.
    """
    if not events:
        return None
    _refuse_contradicted(events)
    last = events[-1]
    run = None
    target = _slice_log(log, events[0])
    if anchoring is not None and anchoring.tsas:
        run = anchor_head(target, anchoring, actor=actor, at=(last["seq"], last["hash"]))
    return _gathered(target, events, run, SLICE)


def embedded_package_anchors(
    log: DbCustodyLog, chain: str, events: Sequence[Mapping[str, Any]]
) -> PackageAnchors | None:
    """The embedded log's own anchors, made before ``migrate``, within its exported slice
    (``events``, of the imported ``chain``), with that slice's head; none is made now:
    the imported chain never grows. ``None`` when the slice is empty."""
    if not events:
        return None
    _refuse_contradicted(events)
    return _gathered(log.chain(chain), events, None, EMBEDDED)


def _gathered(
    target: AnchoredLog,
    events: Sequence[Mapping[str, Any]],
    run: AnchorRun | None,
    segment: Segment,
) -> PackageAnchors:
    """The recorded anchors of seqs within ``events`` (and those ``run`` made), each
    token read as sealed, and the head file naming them."""
    first, last = events[0], events[-1]
    recorded = [_recorded(e) for e in events if e["action"] == "anchored"]
    carried = [a for a in recorded if first["seq"] <= a.seq <= last["seq"]]
    carried += run.anchors if run is not None else []
    tokens = tuple((segment.token_path(a.token), _token_bytes(target, a)) for a in carried)
    head = {
        "seq": last["seq"],
        "hash": last["hash"],
        "anchors": [
            {
                "seq": a.seq,
                "hash": a.hash,
                "tsa": a.tsa,
                "gen_time": a.gen_time,
                "path": segment.token_path(a.token),
            }
            for a in carried
        ],
    }
    data = (json.dumps(head, indent=2) + "\n").encode("utf-8")
    return PackageAnchors(data, tokens, run, segment.head_path)


def _refuse_contradicted(events: Sequence[Mapping[str, Any]]) -> None:
    """Refuse events whose own ``anchored`` events recorded another hash for a seq than
    they hold now: they were rewritten after that anchor was made. Cheap (no token is
    read); ``custody verify`` checks the tokens themselves."""
    held = {event["seq"]: event["hash"] for event in events}
    for event in events:
        if event["action"] != "anchored":
            continue
        anchor = _recorded(event)
        if held.get(anchor.seq, anchor.hash) != anchor.hash:
            raise CustodyTampered(
                f"refusing the custody log: seq {anchor.seq} is not what {anchor.tsa} anchored"
                f" at {anchor.gen_time} (the 'anchored' event seq {event['seq']}): it was"
                " rewritten after that time; `osint-capture custody verify` names every problem"
            )


def _recorded(event: Mapping[str, Any]) -> Anchor:
    try:
        return Anchor.from_details(event["details"])
    except ValueError as exc:
        raise CustodyError(
            f"the 'anchored' event seq {event['seq']} does not describe an anchor ({exc});"
            " `osint-capture custody verify` names every problem"
        ) from exc


def _slice_log(log: CustodyLog | DbCustodyLog, first: Mapping[str, Any]) -> AnchoredLog:
    """The log a slice was cut from: the file log, or the chain its seq 1 names."""
    if not isinstance(log, DbCustodyLog):
        return log
    chain = first["details"].get("chain") if first["action"] == "chain-opened" else None
    if not isinstance(chain, str):
        raise CustodyError("a team-mode custody slice must start with the event naming its chain")
    return log.chain(chain)


def _token_bytes(log: AnchoredLog, anchor: Anchor) -> bytes:
    """A recorded anchor's token, as sealed: the SHA-256 its event recorded."""
    if isinstance(log, ChainLog):
        path, read = f"{log.where}: {anchor.token}", lambda: chain_token(log, anchor)
    else:
        file = log.anchors_dir / anchor.token
        path, read = str(file), file.read_bytes
    try:
        data = read()
    except OSError as exc:
        raise CustodyError(
            f"the anchor of seq {anchor.seq} ({path}) cannot be read: {exc};"
            " `osint-capture custody verify` names every problem"
        ) from exc
    if hashlib.sha256(data).hexdigest() != anchor.token_sha256:
        raise CustodyTampered(
            f"the anchor of seq {anchor.seq} ({path}) is not the file its event recorded;"
            " `osint-capture custody verify` names every problem"
        )
    return data
