"""Leases: a capture, or an analysis run, is held by the worker running it for as long as
that worker lives.

procrastinate's heartbeats say when a worker *seems* gone; a worker whose heartbeat
only lapsed (a stalled loop, a slow network) may still be writing the capture's files.
Before a retried job sets a capture's files aside it takes the capture's lease: a
PostgreSQL advisory lock held on a connection of its own by the attempt running it.
The lock ends with that connection, so it is free the moment the holding process
dies (its socket closes), or, for a machine that vanished, once the server's TCP
keepalives (set here to :data:`KEEPALIVE_SECONDS`) give up on it; while the holder
lives, the retried job waits and then finds the capture finished.

An analysis run has no procrastinate job: the analysis workers claim runs from the
catalog. The thread that runs one holds its lease (:func:`held`, on a blocking
connection of its own, for the whole run, whatever happens to the event loop), and a
periodic duty takes the lease of a run that says ``running`` without waiting
(:func:`held_if_free`): got, the run's worker is gone, and the duty settles the run while
holding it (:mod:`capture.teamqueue.stalled_analyses`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import psycopg

from archive.catalog.pg_schema import lock_ids

#: How long the server waits on a silent lease holder before probing, and between probes.
KEEPALIVE_SECONDS = 10


def _keepalives(seconds: int) -> str:
    return (
        f"SET tcp_keepalives_idle = {seconds}; SET tcp_keepalives_interval = {seconds};"
        " SET tcp_keepalives_count = 3"
    )


@contextlib.asynccontextmanager
async def capture_lease(conninfo: str, capture_id: str) -> AsyncIterator[None]:
    """Hold ``capture_id``'s lease for the block, waiting while another attempt holds it."""
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    try:
        await conn.execute(_keepalives(KEEPALIVE_SECONDS))
        await conn.execute(
            "SELECT pg_advisory_lock(%s, %s)", lock_ids(f"capture lease {capture_id}")
        )
        yield
    finally:
        await conn.close()  # the lock ends with the session


def lease_free(conninfo: str, capture_id: str) -> bool:
    """Whether no attempt holds ``capture_id``'s lease right now (blocking; for tests
    and checks: the answer may be stale the moment it is given)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        keys = lock_ids(f"capture lease {capture_id}")
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", keys).fetchone()
        if row is not None and row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", keys)
            return True
        return False


@contextlib.contextmanager
def exclusive(conninfo: str, name: str) -> Iterator[None]:
    """One holder of ``name`` at a time across every process (blocking): what a
    process-local lock does for one server, for many workers."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", lock_ids(f"exclusive {name}"))
        yield  # closing the connection ends the lock


def analysis_lease(capture_id: str, number: int) -> str:
    """The name of analysis run ``number`` of ``capture_id``'s lease."""
    return f"analysis lease {capture_id}/{number}"


@contextlib.contextmanager
def held(conninfo: str, name: str) -> Iterator[None]:
    """Hold the lease ``name`` for the block (blocking; waiting while another holds it)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_keepalives(KEEPALIVE_SECONDS))
        conn.execute("SELECT pg_advisory_lock(%s, %s)", lock_ids(name))
        try:
            yield
        finally:
            # Let go now: a closed connection ends the lock too, but only once the
            # server has noticed it close, a moment after the block has ended.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_ids(name))


@contextlib.contextmanager
def held_if_free(conninfo: str, name: str) -> Iterator[bool]:
    """Hold the lease ``name`` for the block if no one holds it now; whether it is held."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_ids(name)).fetchone()
        yield row is not None and bool(row[0])
