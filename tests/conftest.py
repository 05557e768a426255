"""Shared fixtures: the local test site and one real Chromium for the session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from capture.browser import Browser
from tests.site import TestSite

# Tests reach 127.0.0.1 only: never the public time-stamp authorities that are the
# default. Tests that want trusted time start a local TSA and name it; the CLI and
# server processes the tests start inherit this.
os.environ["OSINT_CAPTURE_TSA"] = ""


@pytest.fixture(scope="session")
async def site() -> AsyncIterator[TestSite]:
    async with TestSite() as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    shared = await Browser.launch()
    yield shared
    await shared.close()
