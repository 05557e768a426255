"""Analysis leases in team mode: a run is held by the worker's thread running it, and a run
that says ``running`` while nobody holds its lease (its worker killed) is failed as
interrupted and run again once, as embedded recovery does at start-up.

Real PostgreSQL (the catalog and the advisory locks), a real capture, real tesseract; a
live worker's lease is held from a second connection, and closing that connection is
what a ``kill -9`` does to a worker's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest

from archive.catalog import AnalysisRow
from archive.catalog.pg_schema import lock_ids
from archive.datadir import Archive
from archive.timeutil import now_rfc3339
from capture.analysis.engines import AnalysisSettings
from capture.analysis.options import AnalysisOptions
from capture.analysis.worker import AnalysisWorkers
from capture.browser import Browser
from capture.events import CaptureEvents
from capture.recovery import recover_analysis
from capture.requests import CaptureRequest
from capture.teamqueue.leases import analysis_lease, held
from capture.teamqueue.stalled_analyses import ANALYSIS_WORKER_GONE, recover_stalled_analyses
from tests.archives import capture_into
from tests.site import TestSite

OCR = AnalysisOptions(ocr=True).to_request()


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> str:
    """A PostgreSQL catalog and the team queue (files in the data directory)."""
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", postgres_url)
    monkeypatch.setenv("OSINT_CAPTURE_QUEUE", "postgresql")
    return postgres_url


async def _sealed(site: TestSite, browser: Browser, data: Path) -> str:
    manifest = await capture_into(CaptureRequest(site.url("/rich")), data, browser=browser)
    return manifest.id


def _run(archive: Archive, capture_id: str, number: int) -> AnalysisRow:
    row = archive.catalog.get_analysis(capture_id, number)
    assert row is not None
    return row


def _failed_events(archive: Archive, capture_id: str) -> list[int]:
    return [
        e.details["analysis"]
        for e in archive.custody.events(capture_id)
        if e.action == "analysis-failed"
    ]


async def test_a_running_run_whose_lease_is_free_is_failed_and_run_again_once(
    tmp_path: Path, site: TestSite, browser: Browser, team: str
) -> None:
    data = tmp_path / "data"
    capture_id = await _sealed(site, browser, data)
    with Archive.open(data, create=False) as archive:
        catalog = archive.catalog

        def recover(grace: float) -> Awaitable[list[str]]:
            return recover_stalled_analyses(team, lambda: archive, grace=grace)

        first, _ = catalog.queue_analysis(capture_id, request=OCR, operator="amal")
        catalog.claim_analysis(capture_id, first.number, started_at=now_rfc3339())
        # A live worker's lease, on a connection of its own.
        worker = psycopg.connect(team, autocommit=True)
        keys = lock_ids(analysis_lease(capture_id, first.number))
        worker.execute("SELECT pg_advisory_lock(%s, %s)", keys)
        assert await recover(0) == [], "a held run is left alone"
        assert _run(archive, capture_id, first.number).status == "running"

        worker.close()  # what kill -9 does to the worker's connection
        assert await recover(3600) == [], "claimed a moment ago: grace"
        [outcome] = await recover(0)
        assert "queued to run again as analysis 2" in outcome
        failed = _run(archive, capture_id, first.number)
        assert (failed.status, failed.reasons) == (
            "failed",
            [f"interrupted: {ANALYSIS_WORKER_GONE}"],
        )
        retry = _run(archive, capture_id, 2)
        assert retry.status == "queued" and retry.request == {**OCR, "retry_of": first.number}
        assert retry.operator == "amal"
        assert _failed_events(archive, capture_id) == [first.number]

        # The retry's worker dies too: failed, and not run a third time.
        catalog.claim_analysis(capture_id, retry.number, started_at=now_rfc3339())
        [outcome] = await recover(0)
        assert "not run again" in outcome
        assert _run(archive, capture_id, retry.number).status == "failed"
        assert [r.number for r in catalog.analyses(capture_id)] == [1, 2]
        assert _failed_events(archive, capture_id) == [1, 2]
        assert await recover(0) == [], "nothing is left running"
        assert archive.custody.verify().ok


async def _until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)


async def test_a_worker_holds_its_runs_lease_and_leaves_a_run_recovered_before_it_held_it(
    tmp_path: Path, site: TestSite, browser: Browser, team: str
) -> None:
    """The duty holds a run's lease while it recovers it; the worker that claimed the run
    waits for the lease, finds the run failed, leaves it, and runs the retry."""
    data = tmp_path / "data"
    capture_id = await _sealed(site, browser, data)
    with Archive.open(data, create=False) as archive:
        first, _ = archive.catalog.queue_analysis(capture_id, request=OCR, operator="amal")
        workers = AnalysisWorkers(
            archive, CaptureEvents(), AnalysisSettings.for_data_dir(data), workers=1
        )
        try:
            with held(team, analysis_lease(capture_id, first.number)):
                workers.start()
                await _until(
                    "the worker claims run 1",
                    lambda: _run(archive, capture_id, first.number).status == "running",
                )
                row = _run(archive, capture_id, first.number)
                recover_analysis(archive, row, cause="its worker was taken for gone")
            await _until(
                "the retry runs to its end",
                lambda: (
                    (r := archive.catalog.get_analysis(capture_id, 2)) is not None
                    and r.status in ("done", "failed")
                ),
            )
        finally:
            await workers.stop()
        failed, retry = _run(archive, capture_id, 1), _run(archive, capture_id, 2)
        assert (failed.status, failed.addendum_sha256) == ("failed", None)
        assert retry.status == "done", retry.reasons
        assert retry.request["retry_of"] == 1 and retry.addendum_sha256
        names = [a.path for a in archive.catalog.artifacts(capture_id)]
        assert not [n for n in names if n.startswith("analysis-1.")], "run 1 sealed nothing"
        assert any(n.startswith("analysis-2.") for n in names)
        assert _failed_events(archive, capture_id) == [1]
        assert await asyncio.to_thread(_free, team, analysis_lease(capture_id, 2))


def _free(conninfo: str, name: str) -> bool:
    """Whether nobody holds the lease ``name`` now (the worker let run 2's go at its end)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        keys = lock_ids(name)
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", keys).fetchone()
        assert row is not None
        if row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", keys)
        return bool(row[0])
