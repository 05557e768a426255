"""One-time login links: how the laptop's first start lets its owner in with one click.

The first start of a fresh archive makes the owner's account, which has a token but
no password. ``serve`` then prints a link, ``/login/once?key=...``, that opens a
dashboard session as the owner: once, and within :data:`LIFETIME` seconds. The
key is kept as its SHA-256 and in this process's memory only, so it is gone when
used, when it expires and when the server stops; after that the owner logs in
with their token (or a password an admin set).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

#: How long a link opens a session, in seconds.
LIFETIME = 10 * 60


class OnceLinks:
    """Keys issued by this process, each good for one login as one person."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, user: str) -> str:
        """A new key that logs ``user`` in once, within :data:`LIFETIME`."""
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._keys[_digest(key)] = (user, self._clock() + LIFETIME)
        return key

    def redeem(self, key: str) -> str | None:
        """The person ``key`` logs in, if it is live; the key is spent either way."""
        with self._lock:
            found = self._keys.pop(_digest(key), None)
        if found is None or found[1] < self._clock():
            return None
        return found[0]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
