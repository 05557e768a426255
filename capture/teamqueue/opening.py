"""A service's team queue, opened, with the duties its workers run once per tick:
the scheduler's claim of due targets, and the trusted-time rounds when TSAs are set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

from archive.datadir import Archive
from archive.evidence.trustedtime import TimestampConfig
from capture import scheduler, upkeep
from capture.requests import DEFAULT_TIMEOUT
from capture.scheduler import Guard, Scheduler
from capture.teamqueue.duties import Duty, every
from capture.teamqueue.leases import exclusive
from capture.teamqueue.queue import LEASE_SECONDS, TeamQueue


async def open_team_queue(
    archive: Callable[[], Archive],
    *,
    tsa: TimestampConfig | None,
    anchor_interval: float,
    lease: float | None,
) -> tuple[TeamQueue, Guard]:
    """The queue, and the guard that keeps a run's timeline event single across processes."""
    url = archive().settings.catalog

    def guard(name: str) -> AbstractContextManager[None]:
        return exclusive(url, name)

    planner = Scheduler(
        archive(), on_queued=lambda: None, default_timeout=DEFAULT_TIMEOUT, guard=guard
    )

    async def tick() -> None:
        await queue.adopt(await asyncio.to_thread(planner.tick))

    duties = [Duty("scheduler", every(scheduler.POLL_SECONDS), tick)]
    if tsa is not None and tsa.tsas:
        config = tsa
        duties += [
            Duty(
                "timestamps",
                every(upkeep.TIMESTAMP_RETRY_SECONDS),
                lambda: upkeep.stamp_pending_once(archive(), config),
            ),
            Duty("anchors", every(anchor_interval), lambda: upkeep.anchor_once(archive(), config)),
        ]
    queue = TeamQueue(url, archive, duties=duties, lease=lease or LEASE_SECONDS)
    await queue.open()
    return queue, guard
