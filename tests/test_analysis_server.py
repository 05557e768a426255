"""Analysis through the server: the capture's request, the API, its events, a crash.

The real `osint-capture serve` with OCR as every capture's default reads a poster page
once it is sealed, on its own analysis worker; the run is followed on its event stream
and read back from the API. A run that a killed server left running is failed and
queued again as the next run, never re-using its number.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from archive.catalog import CATALOG_NAME, Catalog
from archive.datadir import Archive
from capture.browser import Browser
from tests.reading_site import POSTER_ENGLISH, ReadingSite
from tests.server import RunningServer


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reading_site(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ReadingSite]:
    workdir = tmp_path_factory.mktemp("reading-site-server")
    async with ReadingSite(workdir, browser, video=False) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("analysis-server") / "data", workers=1, extra_args=("--ocr",)
    )
    await running.start()
    yield running
    await running.stop()


async def capture(server: RunningServer, url: str, **fields: object) -> tuple[str, dict]:  # type: ignore[type-arg]
    status, _, body = await server.request(
        "POST", "/api/v1/captures", json={"url": url, "timeout": 30, **fields}
    )
    assert status == 202, body
    done = await server.wait_done(body["id"])
    assert done["event"] == "done", done
    return body["id"], done


async def test_the_server_reads_every_capture_after_sealing_by_default(
    server: RunningServer, reading_site: ReadingSite
) -> None:
    capture_id, done = await capture(server, reading_site.url("/poster-page"))
    assert done["analysis"]["number"] == 1
    streamed = [(kind, data) async for kind, data in server.events(capture_id, analysis=1)]
    events = [kind for kind, _ in streamed]
    assert events[-1] == "done" and "reading" in events, events
    # As docs/api.md says: the run's stages arrive as `state`, as a capture's do.
    stages = [data["stage"] for kind, data in streamed if kind == "state"]
    assert "stage" not in events and stages.index("open") < stages.index("ocr"), streamed
    assert stages.index("ocr") < stages.index("seal"), streamed
    status, _, run = await server.request("GET", done["analysis"]["href"])
    assert status == 200 and run["status"] == "done" and run["machine_draft"] is True
    assert {step["step"]: step["status"] for step in run["steps"]} == {"ocr": "done"}
    texts = [r["text"] for r in run["readings"] if r["source"]["what"] == "image"]
    assert POSTER_ENGLISH.lower() in texts[0].lower()
    status, _, listing = await server.request("GET", f"/api/v1/captures/{capture_id}/analyses")
    assert [r["number"] for r in listing["analyses"]] == [1]


async def test_a_request_can_ask_for_no_reading_and_ask_again_later(
    server: RunningServer, reading_site: ReadingSite
) -> None:
    capture_id, done = await capture(
        server, reading_site.url("/poster-page?plain"), analysis={"ocr": False}
    )
    assert done["analysis"] is None
    status, _, queued = await server.request(
        "POST",
        f"/api/v1/captures/{capture_id}/analyses",
        json={"ocr": True, "languages": "eng", "operator": "amal"},
    )
    assert status == 202 and queued["number"] == 1 and queued["created"] is True, queued
    finished = await server.wait_done(capture_id, analysis=1)
    assert finished["event"] == "done", finished
    status, _, run = await server.request("GET", queued["href"])
    assert run["requested"]["languages"] == "eng" and run["operator"] == "amal"


async def test_bad_analysis_requests_are_refused_saying_why(
    server: RunningServer, reading_site: ReadingSite
) -> None:
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={"url": reading_site.url("/poster-page"), "analysis": {"ocr": "yes"}},
    )
    assert status == 400 and "body.analysis.ocr" in body["detail"], body
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={"url": reading_site.url("/poster-page"), "analysis": {"languages": "ara;rm"}},
    )
    assert status == 400 and "tesseract language codes" in body["detail"], body
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={"url": reading_site.url("/poster-page"), "analysis": {"languages": "fra"}},
    )
    assert status == 400 and "apt-get install tesseract-ocr-fra" in body["detail"], body
    status, _, body = await server.request("POST", "/api/v1/captures/nope/analyses", json={})
    assert status == 404, body
    status, _, body = await server.request("GET", "/api/v1/captures/nope/analyses/1")
    assert status == 404, body


async def test_a_run_a_crash_left_running_is_failed_and_queued_again_as_the_next(
    reading_site: ReadingSite, tmp_path: Path
) -> None:
    server = RunningServer(tmp_path / "data", workers=1)
    await server.start()
    try:
        capture_id, _ = await capture(server, reading_site.url("/poster-page"))
    finally:
        await server.stop()
    # What a server killed in the middle of a run leaves: the run 'running'.
    with Catalog.open(server.data / CATALOG_NAME) as catalog:
        queued, _ = catalog.queue_analysis(capture_id, request={"ocr": True}, operator=None)
        catalog.claim_analysis(capture_id, queued.number, started_at="2026-12-04T00:00:00Z")
    await server.start()
    try:
        finished = await server.wait_done(capture_id, analysis=2)
        assert finished["event"] == "done", finished
    finally:
        await server.stop()
    with Catalog.open(server.data / CATALOG_NAME) as catalog:
        runs = {run.number: run for run in catalog.analyses(capture_id)}
        actions = [e.action for e in Archive(server.data, catalog).custody.events(capture_id)]
    assert runs[1].status == "failed" and "interrupted" in runs[1].reasons[0]
    assert runs[2].status == "done" and runs[2].request["retry_of"] == 1
    assert actions[-2:] == ["analysis-failed", "analysed"], actions
    with sqlite3.connect(server.data / CATALOG_NAME) as raw:
        assert raw.execute("SELECT count(*) FROM analyses").fetchone()[0] == 2


async def test_a_watched_targets_runs_are_read_as_the_server_defaults_say(
    server: RunningServer, reading_site: ReadingSite
) -> None:
    status, _, added = await server.request(
        "POST",
        "/api/v1/targets",
        json={"url": reading_site.url("/poster-page?watched"), "every": "1h"},
    )
    assert status == 201, added
    capture_id = None
    for _ in range(300):
        _, _, target = await server.request("GET", f"/api/v1/targets/{added['id']}")
        if target["captures"]:
            capture_id = target["captures"][0]["id"]
            break
        await asyncio.sleep(0.1)
    assert capture_id is not None, "the target's first run was never queued"
    done = await server.wait_done(capture_id)
    assert done["analysis"] and done["analysis"]["number"] == 1, done
    finished = await server.wait_done(capture_id, analysis=1)
    assert finished["event"] == "done", finished
