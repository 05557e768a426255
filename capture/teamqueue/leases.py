"""Leases: a capture is held by the worker running it for as long as that worker lives.

procrastinate's heartbeats say when a worker *seems* gone; a worker whose heartbeat
only lapsed (a stalled loop, a slow network) may still be writing the capture's files.
Before a retried job sets a capture's files aside it takes the capture's lease: a
PostgreSQL advisory lock held on a connection of its own by the attempt running it.
The lock ends with that connection, so it is free the moment the holding process
dies (its socket closes), or, for a machine that vanished, once the server's TCP
keepalives (set here to :data:`KEEPALIVE_SECONDS`) give up on it; while the holder
lives, the retried job waits and then finds the capture finished.
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
