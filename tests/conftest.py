"""Shared fixtures: the local test site and one real Chromium for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from capture.browser import Browser
from tests.site import TestSite


@pytest.fixture(scope="session")
async def site() -> AsyncIterator[TestSite]:
    async with TestSite() as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    shared = await Browser.launch()
    yield shared
    await shared.close()
