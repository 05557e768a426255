"""A request that is over in the browser never holds the settle: real captures, timed.

Each page of tests/unfinished_site.py asks for something the network will never
bring: ``blob:``, ``data:`` and refused schemes, hosts that do not resolve, a port
that refuses, on redirects, in out-of-process iframes, from a service worker or a
preload, and frames and workers that close with a request in flight. Each is
captured with the real pipeline in a real Chromium (its resolver told that
``unresolvable.test`` does not exist, so no DNS leaves the machine), and each
capture must settle at once: every behaviour finished, the behaviours over in a few
seconds by the capture's own progress events (a wait held by one of these requests
runs to its cap, 15 s each), and the page info naming every request with its
outcome. What the capture does not hold, it says, exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive.manifest import Manifest
from capture.behaviours import DEFAULT_BEHAVIOURS
from capture.browser import Browser, find_chromium
from capture.progress_events import BehaviourEnded, Event, StageEntered
from capture.recorder.network import TARGET_GONE
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.unfinished_site import (
    BLOB_LOADS,
    BLOB_MARKERS,
    DATA_URL,
    GONE_MARKERS,
    PROBE_URL,
    RESOLVER_RULES,
    REVOKED_MARKER,
    SERVICE_WORKER_MARKER,
    UNRESOLVABLE,
    RefusingPort,
    UnfinishedSite,
)
from tests.warcs import Record, read_records

#: The load and the behaviours each end within this long. A wait held by a request
#: that never finishes runs to its cap instead: 15 s for each network-idle wait.
SETTLED_WITHIN = 6.0
#: How Chromium reports the page's ``file:///C|/…`` image (the ``|`` escaped).
REPORTED_FILE_URL = "file:///C%7C/Users/witness/Pictures/photo.jpg"


@pytest.fixture(scope="module")
def refusing() -> Iterator[RefusingPort]:
    with RefusingPort() as port:
        yield port


@pytest.fixture(scope="module")
async def unfinished(refusing: RefusingPort) -> AsyncIterator[UnfinishedSite]:
    async with UnfinishedSite(refusing.origin) as running:
        yield running


def _builds() -> list[Path]:
    """The capture browser (the headless shell where installed) and full Chromium: each
    reports unfinished requests in its own way, and the recorder must cope with both."""
    found = [find_chromium(), find_chromium(extensions=True)]
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module", params=_builds(), ids=lambda path: path.name)
async def resolving_nothing(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """A Chromium whose resolver says ``unresolvable.test`` does not exist, by itself."""
    browser = await Browser.launch(request.param, extra_args=(RESOLVER_RULES,))
    yield browser
    await browser.close()


def is_headless_shell(browser: Browser) -> bool:
    return "headless" in Path(browser.info.executable).name


@dataclass
class Settled:
    """One capture: its manifest, page info, visible text, and how long it took."""

    manifest: Manifest
    info: dict[str, Any]
    text: str
    load_seconds: float
    behaviour_seconds: float

    def not_http(self, url: str) -> list[dict[str, Any]]:
        return [fact for fact in self.info["not_http"] if fact["url"] == url]

    def resource(self, url: str) -> dict[str, Any]:
        found = [r for r in self.info["resources"] if r["url"] == url]
        assert len(found) == 1, f"{url} is listed {len(found)} times among the resources"
        return found[0]


async def settle(site: UnfinishedSite, browser: Browser, data: Path, path: str) -> Settled:
    """Capture ``path`` with the real pipeline; time its stages by its progress events."""
    loop = asyncio.get_running_loop()
    heard: list[tuple[float, Event]] = []
    request = CaptureRequest(site.url(path), timeout=60, media=None, tsa=None)
    manifest = await capture_into(
        request, data, browser=browser, progress=lambda e: heard.append((loop.time(), e))
    )
    entered = {e.stage: at for at, e in heard if isinstance(e, StageEntered)}
    ended = [at for at, e in heard if isinstance(e, BehaviourEnded)]
    records = read_records(data / "captures" / manifest.id / str(manifest.warc))
    return Settled(
        manifest=manifest,
        info=json.loads(_payload(records, "urn:pageinfo:")),
        text=_payload(records, "urn:text:").decode("utf-8"),
        load_seconds=entered["behaviours"] - entered["load"],
        behaviour_seconds=ended[-1] - entered["behaviours"],
    )


def _payload(records: list[Record], prefix: str) -> bytes:
    [record] = [r for r in records if (r.uri or "").startswith(prefix)]
    assert record.payload is not None
    return record.payload


def assert_settled_at_once(settled: Settled) -> None:
    """Every behaviour finished, and neither the load nor the behaviours waited."""
    behaviours = settled.info["behaviours"]
    assert len(behaviours) == len(DEFAULT_BEHAVIOURS) and all(b["finished"] for b in behaviours), (
        behaviours
    )
    assert settled.load_seconds < SETTLED_WITHIN, f"load took {settled.load_seconds:.1f} s"
    assert settled.behaviour_seconds < SETTLED_WITHIN, (
        f"the behaviours took {settled.behaviour_seconds:.1f} s: {behaviours}"
    )


# -- not HTTP: blob:, data:, refused schemes ----------------------------------------------


async def test_blob_urls_a_script_made_are_served_and_hold_nothing(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/blob")
    assert_settled_at_once(settled)
    # The browser reports no outcome for the shared worker's script, and never will:
    # that is no loss, and it holds nothing.
    assert settled.manifest.status == "complete", settled.manifest.reasons
    assert settled.info["failed_requests"] == []
    for marker in BLOB_MARKERS:
        assert marker in settled.text, marker
    made = dict(re.findall(r"^(\S+) (blob:\S+)$", settled.text, re.MULTILINE))
    assert sorted(made) == sorted(BLOB_LOADS), settled.text
    expected = {
        "script": ("Script", "served by the browser"),
        "fetch": ("Fetch", "served by the browser"),
        "worker": ("Script", "served by the browser"),
        "image": ("Image", "served by the browser"),
        "shared-worker": ("Script", "no outcome"),
    }
    for load, (kind, outcome) in expected.items():
        [fact] = settled.not_http(made[load])
        assert (fact["scheme"], fact["type"], fact["outcome"]) == ("blob", kind, outcome), fact


async def test_a_blob_url_revoked_before_it_is_loaded_is_refused_at_once(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/revoked")
    assert_settled_at_once(settled)
    assert REVOKED_MARKER in settled.text
    [url] = {f["url"] for f in settled.info["not_http"]}
    facts = settled.not_http(url)
    assert sorted(f["type"] for f in facts) == ["Fetch", "Image"], facts
    assert all(f["outcome"] == "refused" and f["error"] for f in facts), facts
    assert settled.manifest.status == "partial"
    assert settled.manifest.reasons == [
        f"not loaded (not HTTP, refused by the browser): {url} ({f['error']})" for f in facts
    ]


async def test_a_data_url_is_served_by_the_browser_and_holds_nothing(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/data")
    assert_settled_at_once(settled)
    assert settled.manifest.status == "complete", settled.manifest.reasons
    [fact] = settled.not_http(DATA_URL)
    assert (fact["type"], fact["outcome"], fact["protocol"]) == (
        "Image",
        "served by the browser",
        "data",
    )


async def test_refused_schemes_are_refused_at_once_and_named(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/refused-schemes")
    assert_settled_at_once(settled)
    probes = settled.not_http(PROBE_URL)
    # The headless shell, with no extension system, refuses the script's fetch inside the
    # page: the network layer never sees it, so there is nothing to list.
    kinds = ["Image"] if is_headless_shell(resolving_nothing) else ["Fetch", "Image"]
    assert sorted(f["type"] for f in probes) == kinds, probes
    [local] = settled.not_http(REPORTED_FILE_URL)
    facts = [*probes, local]
    assert all(f["outcome"] == "refused" and f["error"] for f in facts), facts
    assert settled.manifest.status == "partial"
    assert sorted(settled.manifest.reasons) == sorted(
        f"not loaded (not HTTP, refused by the browser): {f['url']} ({f['error']})" for f in facts
    )


# -- HTTP that fails: a port that refuses, a host that does not resolve -------------------


async def test_a_port_that_refuses_is_finished_directly_on_a_redirect_and_in_a_frame(
    unfinished: UnfinishedSite,
    refusing: RefusingPort,
    resolving_nothing: Browser,
    tmp_path: Path,
) -> None:
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/refused")
    assert_settled_at_once(settled)
    refused = [refusing.origin + p for p in ("/direct.png", "/redirected.png", "/frame.html")]
    for url in refused:
        resource = settled.resource(url)
        assert resource["status"] is None and resource["error"] == "net::ERR_CONNECTION_REFUSED"
    hop = settled.resource(unfinished.url(f"/redirect?to={refused[1]}"))
    assert hop["status"] == 302 and "error" not in hop, hop
    assert settled.resource(refused[2])["type"] == "Document"
    assert settled.manifest.status == "partial"
    assert sorted(settled.manifest.reasons) == sorted(
        f"not loaded: {url} (net::ERR_CONNECTION_REFUSED)" for url in refused
    )


async def test_a_host_that_does_not_resolve_is_finished_wherever_it_is_asked_for(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    """Directly, on a redirect, as a preload, as a frame's document, from an
    out-of-process iframe (directly and on a redirect), and from a service worker,
    which must run, not wait for the recorder (its fetches are recorded too)."""
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/unresolvable")
    assert_settled_at_once(settled)
    paths = (
        "/preload.woff2",
        "/direct.png",
        "/redirected.png",
        "/frame.html",
        "/in-frame.png",
        "/in-frame-redirected.png",
        "/sw-install.json",
    )
    unresolved = [UNRESOLVABLE + p for p in paths]
    for url in unresolved:
        resource = settled.resource(url)
        assert resource["status"] is None and resource["error"] == "net::ERR_NAME_NOT_RESOLVED"
    assert settled.resource(UNRESOLVABLE + "/preload.woff2")["type"] == "Font"
    assert settled.resource(UNRESOLVABLE + "/sw-install.json")["type"] == "Fetch"
    in_frame = settled.resource(unfinished.other_site + "/frame")
    assert in_frame["status"] == 200 and in_frame["type"] == "Document"
    assert SERVICE_WORKER_MARKER in settled.text
    for path in ("/sw.js", "/sw-install.json", "/sw-ready.json"):
        assert settled.resource(unfinished.url(path))["status"] == 200, path
    assert settled.manifest.status == "partial"
    assert sorted(settled.manifest.reasons) == sorted(
        f"not loaded: {url} (net::ERR_NAME_NOT_RESOLVED)" for url in unresolved
    )


# -- frames and workers that close with a request in flight -------------------------------


async def test_requests_of_a_frame_or_worker_that_closed_are_finished_and_named(
    unfinished: UnfinishedSite, resolving_nothing: Browser, tmp_path: Path
) -> None:
    """An out-of-process iframe removed, one navigated away to the page's own site, a
    worker terminated, each with a response in flight that will never end: the browser
    reports their end on no session the recorder hears, so they are finished when
    their target goes, with what arrived and why the rest did not."""
    settled = await settle(unfinished, resolving_nothing, tmp_path, "/gone")
    assert_settled_at_once(settled)
    for marker in GONE_MARKERS:
        assert marker in settled.text, marker
    origins = {
        "removed": unfinished.other_site,
        "navigated": unfinished.other_site,
        "worker": unfinished.origin,
    }
    hanging = [f"{origin}/hang?by={by}" for by, origin in origins.items()]
    # Full Chromium reports no end for these at all: the recorder finishes them when
    # their target goes. The headless shell reports a frame's cancellation itself (not a
    # loss, as for any request the page cancels), a worker's not.
    cancelled = "net::ERR_ABORTED (canceled)"
    gone = []
    for url in hanging:
        resource = settled.resource(url)
        assert resource["status"] == 200, resource
        assert resource["error"] in (TARGET_GONE, cancelled), resource
        if resource["error"] == TARGET_GONE:
            gone.append(url)
    if not is_headless_shell(resolving_nothing):
        assert gone == hanging
    # The navigation that took the second frame out of its process is no casualty.
    plain = settled.resource(unfinished.url("/plain"))
    assert plain["status"] == 200 and plain["body"] == "complete" and "error" not in plain
    assert gone, "no request was left for the recorder to finish"
    assert settled.manifest.status == "partial"
    assert len(settled.manifest.reasons) == len(gone), settled.manifest.reasons
    for url in gone:
        # The body is cut where it stood, or unavailable if the browser had handed over
        # none of it by then.
        cut = rf"body (truncated|unavailable): {re.escape(url)} \((body cut at \d+ bytes: )?"
        said = cut + re.escape(TARGET_GONE) + r"\)"
        assert any(re.fullmatch(said, r) for r in settled.manifest.reasons), (url, settled.manifest)
