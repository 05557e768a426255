"""A throwaway PostgreSQL for the tests: one cluster per test session, one empty database
per test.

``postgres_server`` (session) runs ``initdb`` in a temporary directory (as the
``postgres`` user when the tests run as root: PostgreSQL refuses to run as root) and
starts the server on a free loopback port (never a fixed one: two test runs may share
the machine), with its socket in that directory and ``fsync`` off; it yields the URL of
the server's ``postgres`` database, and at the end stops the server (``pg_ctl stop -m
immediate``, then a kill of its process if it is still there) and removes the
directory. ``postgres_url`` (per test) yields the URL of a new, empty database on it,
dropped after the test. ``catalog_url`` is parametrised over both backends: the same
test runs on a SQLite file and on a PostgreSQL database.

The cluster itself is :mod:`tests.pgcluster`'s (the catalog benchmark starts its own
there too); PostgreSQL's programs are found in ``OSINT_CAPTURE_PG_BIN``, or the newest
``/usr/lib/postgresql/*/bin`` (Debian's layout). A cluster that cannot start fails the
test with the reason, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgcluster import (
    ClusterUnavailable,
    PostgresCluster,
    create_database,
    drop_database,
    free_port,
    running_cluster,
)

__all__ = [
    "PostgresCluster",
    "catalog_url",
    "create_database",
    "drop_database",
    "free_port",
    "postgres_server",
    "postgres_url",
]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL for the session; the URL of its ``postgres`` database."""
    try:
        with running_cluster() as url:
            yield url
    except ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database for this test; its URL (``postgresql://postgres@127.0.0.1:PORT/DB``)."""
    url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty catalog's URL: a SQLite file, then a PostgreSQL database (the catalog's
    contract tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'data' / 'catalog.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))
