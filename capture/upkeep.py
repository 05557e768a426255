"""The server's standing duties towards trusted time, each a loop that never gives up.

Each loop is a sleep and one round; in team mode the rounds run as periodic jobs
instead, once across all workers (:mod:`capture.teamqueue.duties`). Both run only
when time-stamp authorities are configured. A failure is logged and tried again on
the next round: the evidence is sealed either way, and what is missing (a token, an
anchor) is said where it is missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from archive.datadir import Archive
from archive.evidence import trustedtime
from archive.evidence.anchoring import Anchoring, AnchorRun, anchor_all_due, anchor_if_due
from archive.evidence.custody import SYSTEM_ACTOR as SYSTEM
from archive.evidence.trustedtime import TimestampConfig

log = logging.getLogger(__name__)

#: How often pending time-stamps are looked at (each has its own backoff).
TIMESTAMP_RETRY_SECONDS = 30.0


async def retry_timestamps(archive: Archive, tsa: TimestampConfig) -> None:
    """Captures sealed while no TSA answered get their tokens later, with backoff."""
    while True:
        await asyncio.sleep(TIMESTAMP_RETRY_SECONDS)
        await stamp_pending_once(archive, tsa)


async def stamp_pending_once(archive: Archive, tsa: TimestampConfig) -> None:
    """One round of :func:`retry_timestamps` (team mode runs it as a periodic job)."""
    try:
        await asyncio.to_thread(trustedtime.stamp_pending, archive, config=tsa, due_only=True)
    except Exception:
        log.exception("retrying pending time-stamps failed; trying again later")


async def anchor_custody(archive: Archive, tsa: TimestampConfig, interval: float) -> None:
    """Every ``interval``, the custody head (and the access log's) time-stamped by the
    TSAs, when events were added since the newest anchor: what the logs hold is then
    proven outside this machine within the hour. A failure is logged and retried next
    time.
    """
    while True:
        await asyncio.sleep(interval)
        await anchor_once(archive, tsa)


async def anchor_once(archive: Archive, tsa: TimestampConfig) -> None:
    """One round of :func:`anchor_custody` (team mode runs it as a periodic job): each
    chain whose head moved since its newest anchor (one chain in embedded mode), and
    the access log likewise. Each is tried whatever became of the other."""
    try:
        anchoring = tsa.anchoring()
    except Exception:
        log.exception("anchoring: the time-stamp authorities cannot be used; trying again later")
        return
    rounds: tuple[tuple[str, Callable[[], list[AnchorRun]]], ...] = (
        ("the custody head", lambda: anchor_all_due(archive.custody, anchoring, actor=SYSTEM)),
        ("the access log", lambda: _access_due(archive, anchoring)),
    )
    for what, work in rounds:
        try:
            runs = await asyncio.to_thread(work)
        except Exception:
            log.exception("anchoring %s failed; trying again later", what)
            continue
        _log_runs(runs)


def _access_due(archive: Archive, anchoring: Anchoring) -> list[AnchorRun]:
    run = anchor_if_due(archive.access.chain, anchoring, actor=SYSTEM)
    return [run] if run is not None else []


def _log_runs(runs: list[AnchorRun]) -> None:
    for run in runs:
        chain = f" (chain {run.chain})" if run.chain else ""
        for anchor in run.anchors:
            log.info(
                "custody seq %d%s anchored by %s at %s", run.seq, chain, anchor.tsa, anchor.gen_time
            )
        for error in run.errors:
            log.warning("custody seq %d%s not anchored: %s", run.seq, chain, error)
