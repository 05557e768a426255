"""The standing duties of a team installation, run as periodic jobs: once per tick across
every worker, whichever takes it.

procrastinate defers a periodic job for each tick of its cron, and its database
refuses a second defer of the same tick, so two hundred workers still run the
scheduler once a second, not two hundred times. Each duty's jobs share a lock, so a
slow round is never overlapped by the next; all but one: the retry of stalled jobs,
which frees the locks that dead workers' rounds hold, and so must never wait on one
itself (a worker killed during that round would have stopped it for good).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Duty:
    """One periodic duty: its name, its cron, one round of it, and whether its rounds
    share a lock (``duty NAME``): never two at once across the workers."""

    name: str
    cron: str
    run: Callable[[], Awaitable[None]]
    locked: bool = True


def every(seconds: float) -> str:
    """A cron for "every ``seconds``" as procrastinate reads it (a sixth field for seconds).

    Rounded to what a cron can say: whole seconds under a minute, whole minutes under
    an hour, whole hours beyond.
    """
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    if whole < 3600:
        return f"*/{max(1, whole // 60)} * * * *"
    return f"0 */{min(23, max(1, whole // 3600))} * * *"
