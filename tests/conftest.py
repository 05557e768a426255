"""Shared fixtures: the local test site, one real Chromium for the session, a throwaway
PostgreSQL and a throwaway S3 server (tests/postgres.py, tests/seaweed.py: started only
by a test that asks for them), and the check of every WARC the run wrote."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from capture.browser import Browser
from tests.postgres import catalog_url, postgres_server, postgres_url
from tests.seaweed import seaweed
from tests.site import TestSite
from tests.warcs import check_every_warc

# Tests reach 127.0.0.1 only: never the public time-stamp authorities that are the
# default. Tests that want trusted time start a local TSA and name it; the CLI and
# server processes the tests start inherit this.
os.environ["OSINT_CAPTURE_TSA"] = ""

#: The PostgreSQL and SeaweedFS (S3) fixtures, for every test module (tests/postgres.py,
#: tests/seaweed.py); each starts its server only for a test that asks for it.
__all__ = ["catalog_url", "postgres_server", "postgres_url", "seaweed"]


@pytest.fixture(scope="session")
async def site() -> AsyncIterator[TestSite]:
    async with TestSite() as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    shared = await Browser.launch()
    yield shared
    await shared.close()


#: How many WARC files the end-of-run check read (for the summary line).
_checked: list[int] = []


@pytest.fixture(scope="session", autouse=True)
def every_warc_passes_warcio_check(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Once the last test is done, ``warcio check`` every WARC the run wrote under its base
    temporary directory; one that fails (or a file damaged on purpose that does not)
    fails the run, named with the record warcio names."""
    yield
    count, unsound = check_every_warc(tmp_path_factory.getbasetemp())
    _checked.append(count)
    if unsound:
        pytest.fail("WARC files that fail warcio check:\n" + "\n".join(unsound), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many WARC files were checked, so a check that found none is seen."""
    if _checked:
        terminalreporter.write_line(f"warcio check: {_checked[0]} WARC file(s) written by the run")
