"""Hostile input: each ends in a clear error within its limits, never a crash or a hang.

Three fronts, each against the real component:

- the API, fuzzed from its own OpenAPI document (schemathesis) on the real server;
- hostile pages (tests/hostile_site.py) captured by the real pipeline in the real
  browser: endless redirects, a 10 GB body, a response that never ends, a quarter of
  a megabyte of headers, a script that never yields, popups and downloads;
- malformed and malicious packages given to ``osint-capture verify`` as a user runs
  it (a subprocess, with a time limit, its memory sampled, in an empty working
  directory with its own empty HOME and TMPDIR that must stay empty).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import json
import os
import socket
import struct
import subprocess
import tempfile
import time
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest
import pytest_asyncio

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.export import export_wacz
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.cli.exits import ExitCode
from capture.pipeline import CaptureFailed
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.hostile_site import (
    DOWNLOAD_MARKER,
    DOWNLOAD_NAME,
    HUGE_SIZE,
    HostileSite,
    download_body,
)
from tests.server import CLI, RunningServer
from tests.site import TestSite
from tests.warcs import Record, read_records

#: Examples schemathesis draws per API operation; fixed seed, so CI sees the same ones.
FUZZ_EXAMPLES = 25
#: ``verify`` of any hostile package must end within this (seconds) ...
VERIFY_TIME_LIMIT = 60.0
#: ... and its resident memory stay under this, while bombs expand to far more.
VERIFY_MEMORY_LIMIT = 300 * 1024**2
#: Bytes a ZIP or gzip bomb in these tests expands to.
BOMB_SIZE = 512 * 1024**2
#: A capture may overrun its budget by this much (closing the page, sealing).
OVERRUN = 5.0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hostile() -> AsyncIterator[HostileSite]:
    async with HostileSite() as running:
        yield running


def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the API, fuzzed from its OpenAPI document --------------------------------------------------


def _fuzz(base: str, token: str, refused: str, statuses: collections.Counter[int]) -> list[str]:
    """Every operation of the served OpenAPI document, FUZZ_EXAMPLES cases each.

    A URL in a generated body is pointed at ``refused`` (a closed local port), path
    and all, so no generated capture reaches past 127.0.0.1 and each one fails fast.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", headers=auth)
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=FUZZ_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def one(case: Any) -> None:
            if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
                case.body["url"] = refused + quote(case.body["url"][:200], safe="")
            response = case.call(base_url=base, headers=auth, timeout=15)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
            )
            statuses[response.status_code] += 1
            # Every other check stands (no 5xx; status, content type, headers and body as
            # documented). Schema-valid data may still be refused, with a 400 or 422 the
            # document declares, for what a schema cannot say: a screenshot that is not a
            # PNG, a URL that is not http(s), an interval's grammar, a case name's letters.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        one()
        tried.append(f"{operation.method.upper()} {operation.path}")
    return tried


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    server = RunningServer(tmp_path_factory.mktemp("hostile-api") / "data", workers=1)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(kill=True)


async def test_the_api_survives_fuzzing_from_its_openapi_document(api: RunningServer) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/"
    statuses: collections.Counter[int] = collections.Counter()
    tried = await asyncio.to_thread(_fuzz, api.base, api.token, refused, statuses)
    print(f"\nfuzzed {len(tried)} operations, {statuses.total()} requests: {dict(statuses)}")
    assert {200, 202} <= set(statuses) and {400, 404} <= set(statuses), statuses
    assert {"POST /api/v1/captures", "POST /api/v1/targets", "GET /api/v1/alerts"} <= set(tried), (
        tried
    )
    assert api.process is not None and api.process.returncode is None
    status, _, health = await api.request("GET", "/api/v1/health")
    assert status == 200, health
    status, _, listed = await api.request("GET", "/api/v1/captures")
    assert status == 200 and isinstance(listed["captures"], list)


async def _raw(server: RunningServer, head: bytes, body: bytes = b"") -> bytes:
    """One HTTP request written by hand (aiohttp would refuse to send the worst of these)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(64 * 1024), 15)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("nested", b"[" * 100_000 + b"]" * 100_000),
        ("huge-integer", b'{"url": "http://127.0.0.1:9/", "timeout": 1' + b"0" * 5000 + b"}"),
        ("not-a-number", b'{"url": "http://127.0.0.1:9/", "timeout": NaN}'),
        ("not-utf8", b'{"url": "http://127.0.0.1:9/", "note": "\xff\xfe"}'),
        ("truncated", b'{"url": "http://127.0.0.1:9/", "note": "'),
    ],
)
async def test_hostile_json_bodies_get_400(api: RunningServer, name: str, body: bytes) -> None:
    head = (
        f"POST /api/v1/captures HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
        f"Authorization: Bearer {api.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = await _raw(api, head, body)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), answer[:500]
    assert b'"error"' in rest and b'"detail"' in rest, answer[:500]
    status, _, _ = await api.request("GET", "/api/v1/health")
    assert status == 200


async def test_a_quarter_megabyte_of_request_headers_is_refused(api: RunningServer) -> None:
    flood = b"".join(b"X-Flood-%d: %s\r\n" % (n, b"v" * 1000) for n in range(256))
    head = (
        f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
        f"Authorization: Bearer {api.token}\r\n"
    ).encode()
    answer = await _raw(api, head + flood + b"Connection: close\r\n\r\n")
    assert answer.split(b" ", 2)[1] in (b"400", b"431"), answer[:300]
    long_line = b"X-Long: " + b"v" * 100_000 + b"\r\n"
    answer = await _raw(api, head + long_line + b"Connection: close\r\n\r\n")
    assert answer.split(b" ", 2)[1] in (b"400", b"431"), answer[:300]
    status, _, _ = await api.request("GET", "/api/v1/health")
    assert status == 200


# -- hostile pages ------------------------------------------------------------------------------


@dataclass
class Outcome:
    manifest: dict[str, Any]
    records: list[Record]
    elapsed: float
    failed: bool

    @property
    def reasons(self) -> str:
        return "\n".join(self.manifest["reasons"])

    def response(self, suffix: str) -> Record:
        found = [r for r in self.records if r.type == "response" and (r.uri or "").endswith(suffix)]
        assert found, f"no response record for {suffix}"
        return found[0]

    def page_info(self) -> dict[str, Any]:
        info = [r for r in self.records if (r.uri or "").startswith("urn:pageinfo:")]
        assert info and info[0].payload is not None
        return json.loads(info[0].payload)


async def capture(
    hostile: HostileSite, browser: Browser, data: Path, path: str, timeout: float
) -> Outcome:
    started = time.monotonic()
    try:
        manifest = await capture_into(
            CaptureRequest(hostile.url(path), timeout=timeout, media=None), data, browser=browser
        )
    except CaptureFailed as failure:
        elapsed = time.monotonic() - started
        assert elapsed < timeout + OVERRUN, f"{path}: failed after {elapsed:.1f} s"
        assert not (data / "captures" / failure.manifest.id).exists()
        return Outcome(failure.manifest.to_dict(), [], elapsed, True)
    elapsed = time.monotonic() - started
    assert elapsed < timeout + OVERRUN, f"{path}: took {elapsed:.1f} s for a {timeout} s budget"
    records = read_records(data / "captures" / manifest.id / str(manifest.warc))
    return Outcome(manifest.to_dict(), records, elapsed, False)


async def test_endless_redirects_end_in_a_clear_failure(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await capture(hostile, browser, tmp_path, "/redirect/0", timeout=15)
    assert outcome.failed and outcome.manifest["status"] == "failed"
    assert "ERR_TOO_MANY_REDIRECTS" in outcome.reasons and "/redirect/0" in outcome.reasons
    hops = sum(n for route, n in hostile.hits.items() if route.startswith("/redirect/"))
    assert hops <= 21, f"the browser followed {hops} redirects"
    assert outcome.elapsed < 5, "a redirect loop is refused at once, not at the budget"


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its children (Chromium is many processes)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


async def _peak_memory(
    run: Callable[[], Any], browser: Browser
) -> tuple[Any, int, int]:  # (result, peak of this process, peak of Chromium)
    me = psutil.Process()
    peaks = [0, 0]
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peaks[0] = max(peaks[0], me.memory_info().rss)
            peaks[1] = max(peaks[1], _tree_rss(browser.process.pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        result = await run()
    finally:
        done.set()
        await sampler
    return result, peaks[0], peaks[1]


async def test_a_10_gb_body_is_cut_at_the_budget_in_bounded_memory(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    # Baseline in the same run: the same browser capturing a page of a few bytes.
    _, small_py, small_chromium = await _peak_memory(
        lambda: capture(hostile, browser, tmp_path / "small", "/small-page", timeout=8), browser
    )
    outcome, huge_py, huge_chromium = await _peak_memory(
        lambda: capture(hostile, browser, tmp_path / "huge", "/huge", timeout=10), browser
    )
    assert outcome.manifest["status"] == "partial", outcome.reasons
    body = outcome.response("/huge")
    # Cut by the budget, or, on a machine fast enough to take 1 GiB in the budget,
    # by the per-response limit first; either way the record and reason say which.
    cut_by = body.header("WARC-Truncated")
    assert cut_by in ("time", "length"), cut_by
    assert 64 * 1024**2 < body.payload_size < HUGE_SIZE, body.payload_size
    assert f"body cut at {body.payload_size} bytes" in outcome.reasons
    assert ("time budget" if cut_by == "time" else "per-response limit") in outcome.reasons
    # The server stops sending once the capture is over: nobody reads on.
    sent = hostile.sent["/huge"]
    await asyncio.sleep(1.0)
    assert hostile.sent["/huge"] - sent < 64 * 1024**2
    assert sent < HUGE_SIZE / 4
    # Neither this process nor Chromium holds the body: both grow far less than it.
    print(
        f"\n10 GB body: {body.payload_size / 1e6:.0f} MB recorded in {outcome.elapsed:.1f} s;"
        f" peak RSS vs a tiny page: capture process {huge_py / 1e6:.0f} vs {small_py / 1e6:.0f}"
        f" MB, Chromium {huge_chromium / 1e6:.0f} vs {small_chromium / 1e6:.0f} MB"
    )
    assert huge_py - small_py < 64 * 1024**2
    assert huge_chromium - small_chromium < 256 * 1024**2


async def test_a_server_that_never_answers_fails_the_capture_with_the_reason(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await capture(hostile, browser, tmp_path, "/silent", timeout=10)
    assert outcome.failed and outcome.manifest["status"] == "failed"
    assert "never answered" in outcome.reasons and "/silent" in outcome.reasons
    assert outcome.elapsed < 10, "it fails when the page's part of the budget ends"
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        row = catalog.get_capture(outcome.manifest["id"])
        assert row is not None and row.status == "failed" and "never answered" in row.reasons[0]


async def test_a_response_that_never_ends_keeps_what_arrived(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await capture(hostile, browser, tmp_path, "/never-ends", timeout=8)
    assert outcome.manifest["status"] == "partial"
    document = outcome.response("/never-ends")
    assert document.header("WARC-Truncated") == "time"
    assert document.payload is not None and b"NEVER-ENDS-LINE-0" in document.payload
    assert "/never-ends" in outcome.reasons and "time budget" in outcome.reasons


async def test_a_quarter_megabyte_of_headers_is_refused_and_named(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    top = await capture(hostile, browser, tmp_path, "/huge-headers", timeout=10)
    assert top.failed and "ERR_RESPONSE_HEADERS_TOO_BIG" in top.reasons, top.reasons
    image = await capture(hostile, browser, tmp_path, "/with-big-headers", timeout=10)
    assert image.manifest["status"] == "partial"
    assert "big-headers-image" in image.reasons
    assert "ERR_RESPONSE_HEADERS_TOO_BIG" in image.reasons
    assert image.response("/with-big-headers").payload is not None


async def test_a_script_that_never_yields_cannot_hang_the_capture(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    outcome = await capture(hostile, browser, tmp_path, "/busy", timeout=10)
    assert outcome.manifest["status"] == "partial"
    assert "did not answer" in outcome.reasons
    info = outcome.page_info()
    scroll = next(b for b in info["behaviours"] if b["name"] == "scroll-page")
    assert not scroll["finished"] and "busy" in scroll["note"]
    assert b"BUSY-PAGE-MARKER" in (outcome.response("/busy").payload or b"")


def _files_holding(marker: bytes, roots: list[Path], since: float) -> list[Path]:
    """Files under ``roots`` changed since ``since`` that hold ``marker`` (or are named so)."""
    found = []
    size = len(download_body())
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", ".venv", "node_modules")]
            for name in files:
                path = Path(folder) / name
                try:
                    stat = path.lstat()
                    if stat.st_mtime < since or not path.is_file():
                        continue
                    if "hostile-download" in name:
                        found.append(path)
                    elif stat.st_size >= len(marker) and stat.st_size <= 2 * size:
                        with open(path, "rb") as fh:
                            if marker in fh.read():
                                found.append(path)
                except OSError:
                    continue
    return found


async def test_popups_and_downloads_write_nothing_and_are_named(
    hostile: HostileSite, browser: Browser, tmp_path: Path
) -> None:
    since = time.time() - 1
    data = tmp_path / "data"
    outcome = await capture(hostile, browser, data, "/popups", timeout=15)
    # The popup blocker holds: no window.open without a user's gesture reached the server.
    assert not [r for r in hostile.hits if r.startswith("/popup/")], dict(hostile.hits)
    # Three downloads were started; each was refused; the one the recorder could not see
    # (an <a download> is fetched by the browser itself) is named, so the capture is partial.
    assert outcome.manifest["status"] == "partial", outcome.reasons
    assert f"{hostile.url('/file.bin')}" in outcome.reasons
    assert DOWNLOAD_NAME in outcome.reasons and "not recorded" in outcome.reasons
    refused = {d["url"]: d for d in outcome.page_info()["downloads_refused"]}
    assert refused[hostile.url("/file.bin")]["recorded"] is False
    assert refused[hostile.url("/attachment?navigation")]["recorded"] is True
    # An attachment the page navigated to is kept, byte for byte, in the WARC.
    kept = outcome.response("/attachment?navigation")
    assert kept.payload == download_body()
    # Nothing holding the download is written anywhere but inside the WARC (compressed).
    roots = [Path.home(), Path.cwd(), Path(tempfile.gettempdir()), browser.profile, data]
    leaked = _files_holding(DOWNLOAD_MARKER, roots, since)
    assert not leaked, f"download bytes written to {leaked}"


# -- hostile packages for `osint-capture verify` -----------------------------------------------


@dataclass
class Verified:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def package(
    site: TestSite, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A real export of a real capture, to damage copies of."""
    data = tmp_path_factory.mktemp("hostile-data")
    captured = await capture_into(
        CaptureRequest(site.url("/gzip"), timeout=30, media=None), data, browser=browser
    )
    out = tmp_path_factory.mktemp("hostile-out") / "case.wacz"
    with Archive.open(data) as archive:
        await asyncio.to_thread(export_wacz, archive, [captured.id], out, actor="tester")
    return out


def run_verify(package: Path, workdir: Path) -> Verified:
    """``osint-capture verify`` as a user runs it, in an empty directory with its own empty
    HOME and TMPDIR; killed (and the test failed) past VERIFY_TIME_LIMIT. Every one of
    those directories must still be empty afterwards: verify writes nothing."""
    cwd, home, tmp = workdir / "cwd", workdir / "home", workdir / "tmp"
    for folder in (cwd, home, tmp):
        folder.mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp)}
    env.pop("OSINT_CAPTURE_DATA", None)
    before = package.read_bytes() if package.is_file() else None
    started = time.monotonic()
    with (
        open(workdir / "out", "w+") as out,
        open(workdir / "err", "w+") as err,
        subprocess.Popen(
            [CLI, "verify", str(package)], cwd=cwd, env=env, stdout=out, stderr=err
        ) as proc,
    ):
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            if time.monotonic() - started > VERIFY_TIME_LIMIT:
                proc.kill()
                proc.wait()
                pytest.fail(f"verify of {package.name} still running after {VERIFY_TIME_LIMIT} s")
            with contextlib.suppress(psutil.Error):
                peak = max(peak, watched.memory_info().rss)
            time.sleep(0.02)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        result = Verified(proc.returncode, out.read(), err.read(), seconds, peak)
    for folder in (cwd, home, tmp):
        assert not list(folder.iterdir()), f"verify wrote {list(folder.iterdir())}"
    if before is not None:
        assert package.read_bytes() == before, "verify changed the package"
    assert peak < VERIFY_MEMORY_LIMIT, f"verify peaked at {peak / 1e6:.0f} MB"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def rebuild(source: Path, target: Path, change: Callable[[zipfile.ZipFile, zipfile.ZipFile], None]):
    """Copy the package's members into a new ZIP, then let ``change`` add to it."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        change(zin, zout)
    return target


def _zeros_member(zout: zipfile.ZipFile, name: str, size: int) -> None:
    """A member that deflates ``size`` zero bytes to about a thousandth of that."""
    block = bytes(1024 * 1024)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zout.open(info, "w") as member:
        for _ in range(size // len(block)):
            member.write(block)


async def test_the_untouched_export_verifies_in_the_sandbox(package: Path, tmp_path: Path) -> None:
    result = await asyncio.to_thread(run_verify, package, tmp_path)
    # Nothing pinned and no TSA here: intact, not authenticated (exit 4), nothing failing.
    assert result.code == 4, result.stdout + result.stderr
    assert "INTACT, NOT AUTHENTICATED" in result.stdout.splitlines()[0]
    assert "FAIL " not in result.stdout


@pytest.mark.parametrize(
    "content",
    [b"", b"PK\x03\x04" + b"\x00" * 40, b"just some text, not a zip\n" * 50],
    ids=["empty", "zip-magic-only", "text"],
)
async def test_a_file_that_is_not_a_zip_exits_2(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "fake.wacz"
    fake.write_bytes(content)
    result = await asyncio.to_thread(run_verify, fake, tmp_path / "run")
    assert result.code == ExitCode.BAD_INPUT
    assert "fake.wacz is not a readable ZIP" in result.stderr


async def test_a_truncated_package_exits_2(package: Path, tmp_path: Path) -> None:
    data = package.read_bytes()
    cut = tmp_path / "cut.wacz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = await asyncio.to_thread(run_verify, cut, tmp_path / "run")
    assert result.code == ExitCode.BAD_INPUT
    assert "not a readable ZIP" in result.stderr


async def test_climbing_absolute_and_backslashed_names_are_refused_unread(
    package: Path, tmp_path: Path
) -> None:
    evil = ["../escape.txt", "/etc/escape.txt", "..\\..\\escape.txt", "C:\\escape.txt"]

    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        for name in evil:
            zout.writestr(name, b"escape\n")

    tampered = rebuild(package, tmp_path / "names.wacz", add)
    result = await asyncio.to_thread(run_verify, tampered, tmp_path / "run")
    assert result.code == ExitCode.FAILED, result.stdout
    line = next(x for x in result.stdout.splitlines() if "entry names" in x)
    assert line.lstrip().startswith("FAIL")
    for name in evil:
        assert repr(name) in line, line
    assert not list(tmp_path.rglob("escape.txt"))


async def test_duplicate_names_are_refused(package: Path, tmp_path: Path) -> None:
    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        zout.writestr("datapackage.json", b'{"resources": []}')

    with pytest.warns(UserWarning, match="Duplicate name"):
        tampered = rebuild(package, tmp_path / "dup.wacz", add)
    result = await asyncio.to_thread(run_verify, tampered, tmp_path / "run")
    assert result.code == ExitCode.FAILED
    assert "duplicate entries: 'datapackage.json'" in result.stdout


def _declare_size(path: Path, names: list[str], declared: int) -> None:
    """Rewrite the central directory entries of ``names`` to declare ``declared`` bytes each
    (the uncompressed-size field, 32 bits), leaving their data as it is."""
    raw = bytearray(path.read_bytes())
    patched = set()
    start = raw.rfind(b"PK\x01\x02")
    while start >= 0:
        name_len = struct.unpack_from("<H", raw, start + 28)[0]
        name = raw[start + 46 : start + 46 + name_len].decode()
        if name in names:
            struct.pack_into("<I", raw, start + 24, declared)
            patched.add(name)
        start = raw.rfind(b"PK\x01\x02", 0, start)
    assert patched == set(names)
    path.write_bytes(bytes(raw))


async def test_members_declaring_80_gb_are_refused_unread(package: Path, tmp_path: Path) -> None:
    names = [f"archive/bomb-{n}.warc" for n in range(20)]

    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        for name in names:
            _zeros_member(zout, name, 1024 * 1024)

    bomb = rebuild(package, tmp_path / "declared.wacz", add)
    _declare_size(bomb, names, 0xFFFFFFFE)  # 4 GiB each, 80 GiB in all
    result = await asyncio.to_thread(run_verify, bomb, tmp_path / "run")
    assert result.code == ExitCode.FAILED
    assert "ZIP bomb" in result.stdout and "refusing to read further" in result.stdout
    assert result.seconds < 10


async def test_a_zip_bomb_is_streamed_in_bounded_memory_and_named(
    package: Path, tmp_path: Path
) -> None:
    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        _zeros_member(zout, "archive/bomb.warc", BOMB_SIZE)

    bomb = rebuild(package, tmp_path / "bomb.wacz", add)
    assert bomb.stat().st_size < package.stat().st_size + BOMB_SIZE // 100
    result = await asyncio.to_thread(run_verify, bomb, tmp_path / "run")
    assert result.code == ExitCode.FAILED
    assert "archive/bomb.warc: in the package but not listed in datapackage.json" in result.stdout
    print(
        f"\nZIP bomb ({bomb.stat().st_size / 1e6:.1f} MB expanding to {BOMB_SIZE / 1e6:.0f} MB):"
        f" verify took {result.seconds:.1f} s, peak RSS {result.peak_rss / 1e6:.0f} MB"
    )


async def test_a_member_holding_more_than_it_declares_is_named(
    package: Path, tmp_path: Path
) -> None:
    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        _zeros_member(zout, "archive/liar.warc", 8 * 1024 * 1024)

    liar = rebuild(package, tmp_path / "liar.wacz", add)
    _declare_size(liar, ["archive/liar.warc"], 1024)
    result = await asyncio.to_thread(run_verify, liar, tmp_path / "run")
    assert result.code == ExitCode.FAILED, result.stdout + result.stderr
    assert "Bad CRC-32 for file 'archive/liar.warc'" in result.stdout


def _warc_name(package: Path) -> str:
    with zipfile.ZipFile(package) as zf:
        return next(n for n in zf.namelist() if n.startswith("archive/") and n.endswith(".gz"))


async def test_a_truncated_warc_record_inside_a_valid_zip_is_named(
    package: Path, tmp_path: Path
) -> None:
    warc = _warc_name(package)

    with zipfile.ZipFile(package) as zin, zipfile.ZipFile(tmp_path / "t.wacz", "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data[: len(data) * 2 // 3] if info.filename == warc else data)
    result = await asyncio.to_thread(run_verify, tmp_path / "t.wacz", tmp_path / "run")
    assert result.code == ExitCode.FAILED
    lines = [x for x in result.stdout.splitlines() if "WARC records" in x and warc in x]
    assert lines and all(x.lstrip().startswith("FAIL") for x in lines), result.stdout
    assert "datapackage" in result.stdout and f"{warc}: SHA-256" in result.stdout


def _warc_record(headers: dict[str, str], block: bytes) -> bytes:
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


async def test_a_record_claiming_a_huge_length_and_a_gzip_bomb_are_named(
    package: Path, tmp_path: Path
) -> None:
    liar = _warc_record(
        {
            "WARC-Type": "resource",
            "WARC-Record-ID": "<urn:uuid:00000000-0000-0000-0000-000000000001>",
            "Content-Type": "text/plain",
            "Content-Length": str(10**15),
            "WARC-Block-Digest": "sha256:" + "0" * 64,
        },
        b"only a few bytes",
    )
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    bomb_head = _warc_record(
        {
            "WARC-Type": "resource",
            "WARC-Record-ID": "<urn:uuid:00000000-0000-0000-0000-000000000002>",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(BOMB_SIZE),
            "WARC-Block-Digest": "sha256:" + "0" * 64,
        },
        b"",
    )[:-4]
    gz = io.BytesIO()
    gz.write(compressor.compress(bomb_head))
    block = bytes(1024 * 1024)
    for _ in range(BOMB_SIZE // len(block)):
        gz.write(compressor.compress(block))
    gz.write(compressor.compress(b"\r\n\r\n") + compressor.flush())

    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        zout.writestr("archive/liar.warc", liar)
        zout.writestr("archive/bomb.warc.gz", gz.getvalue())

    tampered = rebuild(package, tmp_path / "records.wacz", add)
    result = await asyncio.to_thread(run_verify, tampered, tmp_path / "run")
    assert result.code == ExitCode.FAILED
    out = result.stdout
    assert "archive/liar.warc: record 1: resource" in out and "WARC-Block-Digest" in out, out
    assert "archive/bomb.warc.gz: record 1: resource" in out, out
    print(
        f"\ngzip bomb ({len(gz.getvalue()) / 1e6:.1f} MB expanding to {BOMB_SIZE / 1e6:.0f} MB)"
        f" and a record claiming 10^15 bytes: verify took {result.seconds:.1f} s,"
        f" peak RSS {result.peak_rss / 1e6:.0f} MB"
    )


async def test_verify_in_process_stops_at_its_expansion_limit(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.wacz.warc_check

    monkeypatch.setattr(archive.wacz.warc_check, "MAX_WARC_BYTES", 1024 * 1024)

    def add(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        head = _warc_record(
            {
                "WARC-Type": "resource",
                "WARC-Record-ID": "<urn:uuid:00000000-0000-0000-0000-000000000003>",
                "Content-Type": "application/octet-stream",
                "Content-Length": str(64 * 1024 * 1024),
            },
            b"",
        )[:-4]
        data = compressor.compress(head)
        for _ in range(64):
            data += compressor.compress(bytes(1024 * 1024))
        data += compressor.compress(b"\r\n\r\n") + compressor.flush()
        zout.writestr("archive/expands.warc.gz", data)

    tampered = rebuild(package, tmp_path / "expands.wacz", add)
    report = await asyncio.to_thread(verify_package, tampered, trust=TrustStore.load([]))
    failing = [c for c in report.failures if c.name == "WARC records"]
    assert any("gzip bomb" in c.reason for c in failing), report.summary()
