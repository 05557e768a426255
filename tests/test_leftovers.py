"""Nothing of a capture outlives it outside ``DATA/``: no file in the temp directory or the
home directory, and no browser process, after a capture ends, or after a kill -9 and the
next start.

Each run gets a fresh, empty ``$TMPDIR`` and ``$HOME`` (the XDG variables unset, so
every place a program writes for its user is under that ``$HOME``), and the real CLI or
server as a subprocess, against the local test site. What a browser may leave in
``$HOME`` is listed in :data:`ALLOWED_IN_HOME`, each with why (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from archive.datadir import BROWSER_SCRATCH_DIR
from capture.browser import Browser
from capture.browser_scratch import (
    OWNER_FILE,
    SCRATCH_PREFIX,
    TMP_PREFIX,
    make_scratch,
    sweep_stale,
)
from tests.server import RunningServer
from tests.site import TestSite

CLI = str(Path(sys.executable).with_name("osint-capture"))

#: What a browser may leave in ``$HOME``, and why it may: none of it holds anything of
#: a capture, and each is shared with every other program of the user.
ALLOWED_IN_HOME = {
    # fontconfig's cache of the fonts it found: written only when the system's cache
    # is stale or the user has fonts of their own; a page must render with those fonts.
    ".cache/fontconfig": "fontconfig's font cache",
    # The user's NSS certificate store, made empty on the first HTTPS page if missing
    # (Debian's Chromium keeps it under XDG_DATA_HOME, others under ~/.pki); kept so
    # that an authority the user trusts there is trusted by captures too.
    ".local/share/pki/nssdb": "the user's certificate store",
    ".pki/nssdb": "the user's certificate store",
}
#: Environment variables that would point a program's writes outside the given $HOME.
ELSEWHERE = (
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "CHROME_CONFIG_HOME",
    "OSINT_CAPTURE_DATA",
)
#: How long a killed process's children may take to notice and go (seconds).
SETTLE = 15.0


@dataclass(frozen=True)
class Place:
    """A run's data directory and the fresh temp and home directories it is given."""

    data: Path
    tmp: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ELSEWHERE}
        # A Chromium downloaded by Playwright is found under the real home, not this one.
        env.setdefault("PLAYWRIGHT_BROWSERS_PATH", str(Path.home() / ".cache/ms-playwright"))
        return {**env, "TMPDIR": str(self.tmp), "HOME": str(self.home)}

    @property
    def scratch_root(self) -> Path:
        return self.data / BROWSER_SCRATCH_DIR

    def scratches(self) -> list[Path]:
        return sorted(self.scratch_root.glob(SCRATCH_PREFIX + "*"))


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    # $TMPDIR is short, as a system's is: Chromium's socket path must fit in 107 bytes,
    # and pytest's own directories are too deep for it.
    tmp = Path(tempfile.mkdtemp(prefix="leftovers-", dir="/tmp"))
    home = tmp_path / "home"
    home.mkdir()
    yield Place(tmp_path / "data", tmp, home)
    shutil.rmtree(tmp, ignore_errors=True)


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def not_allowed_in_home(home: Path) -> list[str]:
    """What is in ``home`` that is neither an allowed place, inside one, nor on the way to one."""

    def allowed(path: str) -> bool:
        return any(
            path == place or path.startswith(place + "/") or place.startswith(path + "/")
            for place in ALLOWED_IN_HOME
        )

    return [path for path in everything_under(home) if not allowed(path)]


def processes_naming(path: Path) -> list[str]:
    """Live processes whose command line names ``path`` (each as ``pid: command``)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        arguments = process.info.get("cmdline") or ()
        if process.info.get("status") != psutil.STATUS_ZOMBIE and any(
            str(path) in argument for argument in arguments
        ):
            found.append(f"{process.pid}: {' '.join(arguments)[:200]}")
    return found


async def until(
    check: Callable[[], object], what: str | Callable[[], str], timeout: float = SETTLE
) -> None:
    """Wait for ``check``; fail saying ``what`` (worked out then, if it is a function)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g} s: {said}")
        await asyncio.sleep(0.1)


def assert_nothing_left(place: Place) -> None:
    """The temp directory is empty, the home holds only what is allowed, the data
    directory holds no browser scratch, and no process names the scratch area."""
    assert everything_under(place.tmp) == [], "left in $TMPDIR"
    assert not_allowed_in_home(place.home) == [], "left in $HOME"
    assert place.scratches() == [], "browser scratch left in the data directory"
    assert processes_naming(place.scratch_root) == [], "browser processes left running"


async def start_capture(place: Place, url: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        CLI, "capture", url, "--data", str(place.data), *extra,
        env=place.env, cwd=place.home, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def capture(place: Place, url: str, *extra: str) -> tuple[int, str]:
    """A whole CLI capture: its exit code, and what it printed (the manifest, the stages)."""
    process = await start_capture(place, url, *extra)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, (out + err).decode()


async def reach(process: asyncio.subprocess.Process, stage: str) -> str:
    """What the capture printed on stderr until it said it entered ``stage``."""
    assert process.stderr is not None
    said = ""
    while f"[{stage}]" not in said:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        assert line, f"the capture ended before {stage}: {said}"
        said += line.decode()
    return said


async def browser_running(place: Place) -> tuple[Path, psutil.Process]:
    """Once a capture's Chromium is up (listening): its scratch and its main process."""
    found: list[tuple[Path, psutil.Process]] = []

    def up() -> bool:
        found[:] = [
            (scratch, process)
            for scratch in place.scratches()
            if (scratch / "profile" / "DevToolsActivePort").exists()
            for process in psutil.process_iter(["cmdline"])
            if _is_main_chromium(process.info.get("cmdline") or (), scratch)
        ]
        return bool(found)

    await until(up, "a capture's Chromium started", timeout=60)
    return found[0]


def _is_main_chromium(arguments: Sequence[str], scratch: Path) -> bool:
    """The browser process itself (its helpers say their ``--type=``)."""
    return f"--user-data-dir={scratch / 'profile'}" in arguments and not any(
        argument.startswith("--type=") for argument in arguments
    )


# -- a capture, whole ------------------------------------------------------------------


async def test_a_cli_capture_leaves_nothing_outside_the_data_directory(
    site: TestSite, place: Place
) -> None:
    code, err = await capture(place, site.url("/rich"))
    assert code == 0, err
    assert_nothing_left(place)


async def test_an_https_capture_leaves_at_most_the_certificate_store(
    place: Place, tmp_path: Path
) -> None:
    """A self-signed page fails (its authority is trusted nowhere), but only after the
    browser has opened its certificate store: the one thing it may leave in $HOME."""
    from tests.test_tls import make_certificate  # the TLS tests' throwaway certificate

    cert, key, _ = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="TLS-LEFTOVERS")

    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    try:
        port = runner.addresses[0][1]
        code, err = await capture(place, f"https://127.0.0.1:{port}/", "--timeout", "20")
    finally:
        await runner.cleanup()
    assert code == 1 and "ERR_CERT_AUTHORITY_INVALID" in err, err
    assert_nothing_left(place)


# -- killed ---------------------------------------------------------------------------------


async def test_a_capture_whose_chromium_is_killed_leaves_nothing(
    site: TestSite, place: Place
) -> None:
    running = await start_capture(place, site.url("/never-finishes"), "--timeout", "20")
    said = await reach(running, "behaviours")
    scratch, chromium = await browser_running(place)
    chromium.send_signal(signal.SIGKILL)
    out, err = await asyncio.wait_for(running.communicate(), 60)
    said += (out + err).decode()
    assert running.returncode in (1, 3) and "the browser (Chromium) stopped" in said, said
    await until(lambda: not processes_naming(scratch), "Chromium's children gone")
    assert_nothing_left(place)


async def test_a_capture_killed_mid_way_leaves_scratch_the_next_start_sweeps(
    site: TestSite, place: Place
) -> None:
    running = await start_capture(place, site.url("/never-finishes"), "--timeout", "30")
    await reach(running, "behaviours")
    scratch, _ = await browser_running(place)
    moved_tmp = json.loads((scratch / OWNER_FILE).read_text())["tmp"]
    running.send_signal(signal.SIGKILL)
    await running.wait()
    # Chromium dies with its parent; what it wrote stays, in the data directory (and
    # its temp, whose path was too long for the data directory, in $TMPDIR).
    await until(lambda: not processes_naming(scratch), "Chromium gone with the capture")
    assert scratch.is_dir()
    if moved_tmp is not None:
        assert Path(moved_tmp).parent == place.tmp and Path(moved_tmp).is_dir()
        assert Path(moved_tmp).name.startswith(TMP_PREFIX)

    code, err = await capture(place, site.url("/rich?next-start=1"))
    assert code == 0, err
    assert not scratch.exists()
    assert_nothing_left(place)


# -- the server -------------------------------------------------------------------------


async def test_a_server_killed_and_started_again_leaves_nothing(
    site: TestSite, place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's shared Chromium lives as long as the server: killed -9 with it, its
    scratch is swept when the server starts again; a server stopped cleanly removes it."""
    server = RunningServer(place.data, workers=1)
    for name, value in place.env.items():
        monkeypatch.setenv(name, value)
    for name in ELSEWHERE:
        monkeypatch.delenv(name, raising=False)
    await server.start()  # the server and its Chromium inherit the fresh $TMPDIR and $HOME
    try:
        await _capture_through(server, site.url("/rich?served=1"))
        [scratch] = place.scratches()
    finally:
        await server.stop(kill=True)
    await until(lambda: not processes_naming(scratch), "Chromium gone with the server")
    assert scratch.is_dir()

    again = RunningServer(place.data, workers=1)
    await again.start()
    monkeypatch.undo()
    try:
        assert not scratch.exists(), "the killed server's scratch was not swept at start"
        await _capture_through(again, site.url("/rich?served=2"))
    finally:
        await again.stop()
    assert_nothing_left(place)


async def _capture_through(server: RunningServer, url: str) -> None:
    status, _, body = await server.request("POST", "/api/v1/captures", json={"url": url})
    assert status == 202, body
    outcome = await server.wait_done(body["id"])
    assert outcome.get("status") == "complete", outcome


# -- the sweep and the default ------------------------------------------------------------


def test_the_sweep_removes_only_scratch_whose_owner_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "browsers"
    mine = make_scratch(root)  # this process is alive: its scratch stays
    made = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path;"
         " from capture.browser_scratch import make_scratch;"
         " print(make_scratch(Path(sys.argv[1])).path)", str(root)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    orphan = Path(made.stdout.strip())  # its maker has exited without removing it
    elsewhere = make_scratch(root)
    owner = json.loads((elsewhere.path / OWNER_FILE).read_text())
    (elsewhere.path / OWNER_FILE).write_text(json.dumps({**owner, "host": "another-host"}))
    unowned = root / (SCRATCH_PREFIX + "cut-short")
    unowned.mkdir()  # a making cut short before its owner file: young, so it stays
    try:
        assert orphan.is_dir() and (orphan / "profile").is_dir()
        assert sweep_stale(root) == [orphan]
        assert not orphan.exists()
        assert sorted(root.iterdir()) == sorted([mine.path, elsewhere.path, unowned])
        os.utime(unowned, (0, 0))  # long past the grace: no one will ever write it
        assert sweep_stale(root) == [unowned]
    finally:
        mine.remove()
        elsewhere.remove()
    assert sweep_stale(tmp_path / "nothing-here") == []


async def test_a_browser_launched_without_a_place_removes_its_scratch_on_close() -> None:
    browser = await Browser.launch()
    scratch = browser.scratch
    assert scratch.path.parent == Path(tempfile.gettempdir())
    assert scratch.tmp.is_dir() and processes_naming(scratch.path)
    await browser.close()
    assert not scratch.path.exists() and not scratch.tmp.exists()
    assert processes_naming(scratch.path) == []
