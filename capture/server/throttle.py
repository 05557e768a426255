"""Login attempts per client address: a few a minute, then wait.

A password guesser is slowed twice: the account locks after a few wrong passwords
(:data:`archive.people.LOCKOUT_AFTER`), and each client address may try only
:data:`ATTEMPTS` logins a :data:`WINDOW`, whatever the names it tries, so one cannot
walk through many accounts either. Kept in memory: a restart forgets the count,
which costs a guesser a restart they cannot cause. Behind a reverse proxy every
client has the proxy's address, and the limit is the whole server's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

#: Logins one client address may try in :data:`WINDOW` seconds.
ATTEMPTS = 10
WINDOW = 60.0
#: Addresses remembered at most; beyond it, those with no recent attempt are forgotten.
MAX_ADDRESSES = 10_000


class LoginThrottle:
    """Recent login attempts per client address."""

    def __init__(
        self,
        attempts: int = ATTEMPTS,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def wait(self, address: str) -> int | None:
        """Count an attempt from ``address``; or, when it has had its attempts this
        window, the seconds until it may try again (that attempt is not counted)."""
        now = self._clock()
        recent = self._seen.setdefault(address, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.attempts:
            return max(1, math.ceil(recent[0] + self.window - now))
        recent.append(now)
        if len(self._seen) > MAX_ADDRESSES:
            self._forget(now)
        return None

    def _forget(self, now: float) -> None:
        cutoff = now - self.window
        stale = [a for a, times in self._seen.items() if not times or times[-1] <= cutoff]
        for address in stale:
            del self._seen[address]
