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

from archive.datadir import Archive
from archive.evidence import trustedtime
from archive.evidence.anchoring import anchor_all_due
from archive.evidence.custody import SYSTEM_ACTOR
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
    """Every ``interval``, the custody head time-stamped by the TSAs, when events were
    added since the newest anchor: what the log holds is then proven outside this
    machine within the hour. A failure is logged and retried next time.
    """
    while True:
        await asyncio.sleep(interval)
        await anchor_once(archive, tsa)


async def anchor_once(archive: Archive, tsa: TimestampConfig) -> None:
    """One round of :func:`anchor_custody` (team mode runs it as a periodic job): each
    chain whose head moved since its newest anchor (one chain in embedded mode)."""
    try:
        anchoring = tsa.anchoring()
        runs = await asyncio.to_thread(
            anchor_all_due, archive.custody, anchoring, actor=SYSTEM_ACTOR
        )
    except Exception:
        log.exception("anchoring the custody head failed; trying again later")
        return
    for run in runs:
        chain = f" (chain {run.chain})" if run.chain else ""
        for anchor in run.anchors:
            log.info(
                "custody seq %d%s anchored by %s at %s", run.seq, chain, anchor.tsa, anchor.gen_time
            )
        for error in run.errors:
            log.warning("custody seq %d%s not anchored: %s", run.seq, chain, error)
