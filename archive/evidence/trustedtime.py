"""Trusted time for sealed captures: RFC 3161 tokens over each manifest's SHA-256.

After sealing, the manifest's hash is sent to every configured time-stamp
authority. Each verified reply is stored as ``timestamp-N.tsr`` (the TSA's reply
as received; ``openssl ts -verify`` reads it) with the TSA's certificate chain
``timestamp-N.chain.pem``, both sealed and listed in the catalog, not in the
manifest they stamp. When no TSA answers, the capture stays sealed and is marked
``pending``; the server retries with backoff, and ``osint-capture timestamp
--pending`` does it by hand. Each token is a custody event that records how long
after sealing it was obtained.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from archive.catalog import CaptureRow, NotSealed
from archive.errors import Tampered
from archive.evidence.addendum import addendum_name, token_names
from archive.evidence.anchoring import Anchoring
from archive.evidence.custody import SYSTEM_ACTOR
from archive.evidence.timestamps import Timestamp, TimestampError, TSAUnavailable
from archive.evidence.tsa_client import DEFAULT_TSAS, request_token
from archive.evidence.tsa_roots import TrustStore
from archive.manifest import MANIFEST_NAME
from archive.sealed_store import SealedStore
from archive.store import Artifact
from archive.timeutil import rfc3339, utc_now

if TYPE_CHECKING:
    from archive.datadir import Archive

log = logging.getLogger(__name__)

ENV_TSA = "OSINT_CAPTURE_TSA"
#: Waits between retries of a pending capture: 1 min, 5 min, 30 min, then every 2 h.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
#: How often the server anchors the custody head with the TSAs, when events were added.
ANCHOR_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class TimestampConfig:
    """Which TSAs to ask and which roots to trust for them."""

    tsas: tuple[str, ...] = DEFAULT_TSAS
    trust_files: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def resolve(cls, tsas: list[str] | None, trust_files: list[Path] | None) -> TimestampConfig:
        """``--tsa`` options, else ``$OSINT_CAPTURE_TSA`` (comma-separated; empty: none),
        else the public defaults."""
        if tsas:
            chosen = tuple(tsas)
        elif ENV_TSA in os.environ:
            chosen = tuple(u.strip() for u in os.environ[ENV_TSA].split(",") if u.strip())
        else:
            chosen = DEFAULT_TSAS
        return cls(chosen, tuple(trust_files or ()))

    def trust(self) -> TrustStore:
        return TrustStore.load(self.trust_files)

    def anchoring(self) -> Anchoring:
        """The same TSAs and roots, for anchoring the custody log (loads the trust files)."""
        return Anchoring(self.tsas, self.trust())


@dataclass
class StampResult:
    state: str  # stamped, pending, none
    tokens: list[Timestamp] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def stamp(
    archive: Archive,
    capture_id: str,
    *,
    config: TimestampConfig,
    actor: str | None = None,
) -> StampResult:
    """Ask every configured TSA for a token over the capture's manifest (blocking)."""
    catalog = archive.catalog
    row = catalog.get_capture(capture_id)
    if row is None or row.manifest_sha256 is None:
        raise NotSealed(f"capture {capture_id} is not sealed")
    if not config.tsas:
        catalog.set_timestamp_state(capture_id, "none")
        return StampResult("none")
    digest = _manifest_digest(archive.store, row)

    def names(existing: set[str]) -> tuple[str, str]:
        number = _next_number(existing)
        return f"timestamp-{number}.tsr", f"timestamp-{number}.chain.pem"

    result = _seal_tokens(
        archive,
        capture_id,
        digest,
        names,
        lambda token: {"seconds_after_sealing": _seconds_after(row, token.gen_time)},
        config=config,
        actor=actor,
    )
    if result.tokens:
        result.state = "stamped"
        catalog.set_timestamp_state(capture_id, "stamped", attempted=True)
    else:
        wait = BACKOFF[min(row.timestamp_attempts, len(BACKOFF) - 1)]
        catalog.set_timestamp_state(
            capture_id, "pending", next_at=rfc3339(utc_now() + wait), attempted=True
        )
    return result


def stamp_pending(
    archive: Archive, *, config: TimestampConfig, due_only: bool
) -> dict[str, StampResult]:
    """Retry every pending capture (only those due, when ``due_only``)."""
    due_by = rfc3339(utc_now()) if due_only else None
    results = {}
    for row in archive.catalog.pending_timestamps(due_by=due_by):
        results[row.id] = stamp(archive, row.id, config=config)
    for run in archive.catalog.pending_analysis_timestamps(due_by=due_by):
        results[f"{run.capture_id} analysis {run.number}"] = stamp_addendum(
            archive, run.capture_id, run.number, config=config
        )
    return results


def stamp_addendum(
    archive: Archive,
    capture_id: str,
    number: int,
    *,
    config: TimestampConfig,
    actor: str | None = None,
) -> StampResult:
    """Tokens over an analysis addendum's SHA-256, as :func:`stamp` does for a manifest.

    Tokens are ``analysis-N.token-M.tsr`` (and ``.chain.pem``) beside the addendum;
    without an answer the run stays ``pending`` and is retried with the captures.
    """
    catalog = archive.catalog
    row = catalog.get_analysis(capture_id, number)
    if row is None or row.addendum_sha256 is None:
        raise NotSealed(f"analysis {number} of capture {capture_id} is not sealed")
    if not config.tsas:
        catalog.set_analysis_timestamp(capture_id, number, "none")
        return StampResult("none")
    with archive.store.open_sealed(capture_id, addendum_name(number)) as sealed:
        digest = hashlib.sha256(sealed.read()).digest()
    if digest.hex() != row.addendum_sha256:
        raise Tampered(
            f"addendum {number} of capture {capture_id} no longer has the hash the catalog"
            " recorded; it will not be time-stamped"
        )

    def names(existing: set[str]) -> tuple[str, str]:
        count = 1
        while token_names(number, count)[0] in existing:
            count += 1
        return token_names(number, count)

    result = _seal_tokens(
        archive,
        capture_id,
        digest,
        names,
        lambda token: {"analysis": number},
        config=config,
        actor=actor,
    )
    if result.tokens:
        result.state = "stamped"
        catalog.set_analysis_timestamp(capture_id, number, "stamped")
    else:
        wait = BACKOFF[min(row.timestamp_attempts, len(BACKOFF) - 1)]
        catalog.set_analysis_timestamp(
            capture_id, number, "pending", next_at=rfc3339(utc_now() + wait)
        )
    return result


def _seal_tokens(
    archive: Archive,
    capture_id: str,
    digest: bytes,
    names: Callable[[set[str]], tuple[str, str]],
    details: Callable[[Timestamp], dict[str, object]],
    *,
    config: TimestampConfig,
    actor: str | None,
) -> StampResult:
    """Ask each TSA for a token over ``digest``; seal each token and its TSA's chain as
    files of the capture (named by ``names(existing names)``), list them in the catalog
    and log a ``timestamped`` event (with ``details(token)``). State is the caller's."""
    store, catalog = archive.store, archive.catalog
    trust = config.trust()
    result = StampResult("pending")
    existing = {a.path for a in catalog.artifacts(capture_id)}
    for tsa in config.tsas:
        try:
            token = request_token(digest, tsa, trust=trust)
        except TSAUnavailable as exc:
            result.problems.append(f"{tsa}: unavailable: {exc}")
            continue
        except TimestampError as exc:
            result.problems.append(f"{tsa}: refused or invalid reply: {exc}")
            continue
        token_name, chain_name = names(existing)
        existing.update((token_name, chain_name))
        artifacts = [
            _seal_bytes(store, capture_id, token_name, token.token_der, "timestamp"),
            _seal_bytes(
                store, capture_id, chain_name, token.tsa_chain_pem.encode("ascii"), "tsa-chain"
            ),
        ]
        archive.custody.append(
            "timestamped",
            actor=actor or SYSTEM_ACTOR,
            captures=[capture_id],
            details={
                "tsa": urlsplit(tsa).netloc or tsa,
                "token": token_name,
                "token_sha256": artifacts[0].sha256,
                "gen_time": rfc3339(token.gen_time),
                "serial_number": str(token.serial_number),
                **details(token),
            },
            # The files listed and the event in one step under the log's lock.
            together_with=lambda artifacts=artifacts: catalog.add_artifacts(capture_id, artifacts),
        )
        result.tokens.append(token)
    return result


def _seal_bytes(store: SealedStore, capture_id: str, name: str, data: bytes, kind: str) -> Artifact:
    with store.create(capture_id, name, kind) as out:
        out.write(data)
    assert out.sealed is not None
    return out.sealed


def _manifest_digest(store: SealedStore, row: CaptureRow) -> bytes:
    """The manifest's SHA-256, from the sealed file, checked against the catalog."""
    with store.open_sealed(row.id, MANIFEST_NAME) as fh:
        data = fh.read()
    digest = hashlib.sha256(data).digest()
    if digest.hex() != row.manifest_sha256:
        raise Tampered(
            f"manifest of capture {row.id} no longer has the hash the catalog recorded; "
            "it will not be time-stamped"
        )
    return digest


def _next_number(existing: set[str]) -> int:
    number = 1
    while f"timestamp-{number}.tsr" in existing:
        number += 1
    return number


def _seconds_after(row: CaptureRow, gen_time: datetime) -> float | None:
    if not row.finished_at:
        return None
    sealed = datetime.fromisoformat(row.finished_at.replace("Z", "+00:00"))
    return round((gen_time - sealed).total_seconds(), 3)
