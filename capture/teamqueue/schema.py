"""procrastinate's tables on the catalog's database, made once however many processes start.

procrastinate's schema script is not idempotent (its ``CREATE TABLE``\\ s fail the
second time), so whoever opens a team queue first applies it, inside one transaction
holding an advisory lock: a process starting at the same moment waits for the lock,
then finds the tables there and does nothing.
"""

from __future__ import annotations

import psycopg
from procrastinate.schema import SchemaManager

from archive.catalog.pg_schema import lock_ids

#: The advisory lock every process takes before looking for procrastinate's tables.
SCHEMA_LOCK = "osint-capture procrastinate schema"


async def ensure_schema(conninfo: str) -> bool:
    """Apply procrastinate's schema unless its tables exist; whether it was applied."""
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock_ids(SCHEMA_LOCK))
        found = await conn.execute("SELECT to_regclass('procrastinate_jobs')")
        row = await found.fetchone()
        if row is not None and row[0] is not None:
            return False
        await conn.execute(SchemaManager.get_schema())
        return True
