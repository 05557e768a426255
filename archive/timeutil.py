"""Clock readings for evidence: always UTC, always RFC 3339, always from the system clock.

Every time this project writes down comes from :func:`utc_now`, so the source of a
time is one place to audit (and one place tests can pin). Trusted time comes from
RFC 3161 tokens, not from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: What every recorded time says about where it came from.
CLOCK_SOURCE = "system clock, UTC"

_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utc_now() -> datetime:
    """The system clock's current time, timezone-aware, in UTC."""
    return _clock()


def rfc3339(moment: datetime) -> str:
    """Format ``moment`` as RFC 3339 in UTC with microseconds and a ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: evidence times must carry their zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time back, in UTC; ``ValueError`` for text without a zone or not a time.

    A time without its zone could be anyone's: refused, as :func:`rfc3339` refuses to
    write one.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)


def now_rfc3339() -> str:
    """:func:`utc_now` formatted by :func:`rfc3339`."""
    return rfc3339(utc_now())


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests only); ``None`` restores the system clock."""
    global _clock
    _clock = clock or (lambda: datetime.now(UTC))
