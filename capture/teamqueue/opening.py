"""A service's team side, opened: the team queue with the duties its workers run once per
tick (the scheduler's claim of due targets, the trusted-time rounds when TSAs are set),
the lending of cookies sealed for another machine (:mod:`capture.lending`), and the relay
of progress events between the team's processes (:mod:`capture.event_relay`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from archive.datadir import Archive
from archive.evidence.trustedtime import TimestampConfig
from capture import scheduler, upkeep
from capture.event_relay import EventRelay
from capture.events import CaptureEvents
from capture.lending import LendingKey, SealedLending
from capture.requests import DEFAULT_TIMEOUT
from capture.scheduler import Guard, Scheduler
from capture.teamqueue.duties import Duty, every
from capture.teamqueue.leases import exclusive
from capture.teamqueue.queue import LEASE_SECONDS, Lent, TeamQueue


@dataclass(frozen=True)
class TeamSide:
    """What a service runs on in team mode (see the module's docstring)."""

    queue: TeamQueue
    guard: Guard
    lending: SealedLending
    relay: EventRelay


async def open_team(
    archive: Callable[[], Archive],
    events: CaptureEvents,
    *,
    tsa: TimestampConfig | None,
    anchor_interval: float,
    lease: float | None,
    listen: bool,
) -> TeamSide:
    """The team side, open; ``events`` relayed (and, with ``listen``, others' heard).
    A malformed ``OSINT_CAPTURE_LENDING_KEY`` stops it here (:class:`BadLendingKey`)."""
    lending = SealedLending(LendingKey.from_environ())
    queue, guard = await open_team_queue(
        archive, tsa=tsa, anchor_interval=anchor_interval, lease=lease, lent=lending.received
    )
    relay = EventRelay(archive().settings.catalog, events, listen=listen)
    await relay.start()
    return TeamSide(queue, guard, lending, relay)


async def open_team_queue(
    archive: Callable[[], Archive],
    *,
    tsa: TimestampConfig | None,
    anchor_interval: float,
    lease: float | None,
    lent: Lent | None = None,
) -> tuple[TeamQueue, Guard]:
    """The queue, and the guard that keeps a run's timeline event single across processes.
    ``lent`` hears the sealed cookies each claim takes from the catalog."""
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
    queue = TeamQueue(url, archive, duties=duties, lease=lease or LEASE_SECONDS, lent=lent)
    await queue.open()
    return queue, guard
