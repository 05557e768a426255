"""The browser: one Chromium process, driven by Playwright, recorded over CDP.

We start Chromium ourselves with a DevTools port on the loopback and connect two
clients to it: Playwright (navigation, screenshots, scripts) and our own
:class:`~capture.cdp.CDPConnection` (the recorder). Starting it ourselves also
means we see it die, and can say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright

from archive.errors import Unavailable
from capture.browser_scratch import Scratch, make_scratch
from capture.cdp import CDPConnection

#: Flags that make Chromium quiet and usable headless on a machine with no network
#: other than the page's: no sync, no component updates, no background fetches.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    # No page opens a window, by window.open or a link with a target: what Chrome's
    # popup blocker does for a page with no user's gesture (a capture makes none),
    # which the headless shell does not have. Full Chromium ignores the switch.
    "--block-new-web-contents",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# The binary itself: Debian's /usr/bin/chromium-headless-shell is a script that runs it
# as a child (not exec), so a signal to what we started would not reach the browser.
DEBIAN_HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
LAUNCH_TIMEOUT = 30.0
DEFAULT_VIEWPORT = {"width": 1280, "height": 800}
PR_SET_PDEATHSIG = 1


class BrowserError(Unavailable):
    """Chromium could not be found, started, or kept running."""


@dataclass(frozen=True)
class BrowserInfo:
    executable: str
    product: str  # e.g. "Chrome/156.0.8078.108"
    user_agent: str
    protocol_version: str

    @property
    def version(self) -> str:
        return self.product.partition("/")[2] or self.product


def find_chromium(*, extensions: bool = False) -> Path:
    """Where Chromium is: ``$CHROMIUM_PATH``, else Debian's headless shell, else Debian's
    Chromium, else Playwright's own download.

    The headless shell (Chromium's content layer without the browser around it) is
    preferred for captures: a fresh context and page cost it a third of the CPU that
    full Chromium's headless mode needs (docs/performance.md, section 8), and a
    capture gets a fresh one every time. It has no extensions and no built-in PDF
    viewer; ``extensions=True`` (the browser extension's own tests) skips it.
    """
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserError(
                f"CHROMIUM_PATH={configured} is not an executable file; "
                "point it at a Chromium or Chrome binary, or unset it"
            )
        return path
    candidates = [DEBIAN_CHROMIUM] if extensions else [DEBIAN_HEADLESS_SHELL, DEBIAN_CHROMIUM]
    for path in candidates:
        if path.exists():
            return path
    bundled = _playwright_chromium(extensions)
    if bundled is not None:
        return bundled
    raise BrowserError(
        "no Chromium found: install one (`apt-get install chromium-headless-shell chromium`,"
        " or `.venv/bin/playwright install chromium`) or set CHROMIUM_PATH to its binary"
    )


def _playwright_chromium(extensions: bool) -> Path | None:
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache/ms-playwright"))
    patterns = ["chromium-*/chrome-linux*/chrome"]
    if not extensions:
        patterns.insert(0, "chromium_headless_shell-*/chrome-linux*/headless_shell")
    for pattern in patterns:
        for candidate in sorted(root.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


class Browser:
    """A running Chromium with a Playwright client and a recording CDP client."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        scratch: Scratch,
        playwright: Playwright,
        browser: PlaywrightBrowser,
        ws_url: str,
        info: BrowserInfo,
    ) -> None:
        self.process = process
        #: Everything this Chromium writes (profile, temp, crash database), removed on close.
        self.scratch = scratch
        self.playwright = playwright
        self.browser = browser
        self.ws_url = ws_url
        self.info = info
        self._before_close: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def launch(
        cls,
        executable: Path | None = None,
        extra_args: tuple[str, ...] = (),
        *,
        scratch_root: Path | None = None,
    ) -> Browser:
        """Start Chromium and connect to it; its scratch goes under ``scratch_root``, else
        where :func:`capture.browser_scratch.kept_under` says, else the system's temp, and
        is removed when the browser closes (or fails to start)."""
        executable = executable or find_chromium()
        scratch = make_scratch(scratch_root)
        try:
            process = await _start(executable, extra_args, scratch)
        except BaseException:
            scratch.remove()
            raise
        try:
            ws_url = await _wait_for_devtools(process, scratch.profile, scratch.log)
            playwright = await async_playwright().start()
        except BaseException:
            await _terminate(process)
            scratch.remove()
            raise
        try:
            browser = await playwright.chromium.connect_over_cdp(
                ws_url, artifacts_dir=scratch.artifacts
            )
            info = await _browser_info(ws_url, executable)
        except BaseException:
            await playwright.stop()
            await _terminate(process)
            scratch.remove()
            raise
        return cls(process, scratch, playwright, browser, ws_url, info)

    @property
    def profile(self) -> Path:
        """Chromium's ``--user-data-dir``, inside the scratch."""
        return self.scratch.profile

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and self.browser.is_connected()

    async def new_context(self, **options: Any) -> BrowserContext:
        """A fresh, isolated browser context (own cookies and cache) for one capture."""
        options.setdefault("viewport", DEFAULT_VIEWPORT)
        options.setdefault("user_agent", self.info.user_agent)
        options.setdefault("accept_downloads", False)
        return await self.browser.new_context(**options)

    async def connect_recorder(self) -> CDPConnection:
        """A separate CDP connection for recording, so Playwright's traffic never mixes in."""
        return await CDPConnection.connect(self.ws_url)

    def before_close(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Have ``callback`` run when the browser closes, before it goes (once)."""
        if callback not in self._before_close:
            self._before_close.append(callback)

    async def close(self) -> None:
        callbacks, self._before_close = self._before_close, []
        for callback in callbacks:
            with contextlib.suppress(Exception):
                await callback()
        with contextlib.suppress(Exception):
            await self.browser.close()
        with contextlib.suppress(Exception):
            await self.playwright.stop()
        await _terminate(self.process)
        self.scratch.remove()


async def target_id_of(page: Page) -> str:
    """The CDP target id of a Playwright page, so the recorder can attach to it."""
    session = await page.context.new_cdp_session(page)
    try:
        result = await session.send("Target.getTargetInfo")
    finally:
        await session.detach()
    return result["targetInfo"]["targetId"]


async def _start(
    executable: Path, extra_args: tuple[str, ...], scratch: Scratch
) -> asyncio.subprocess.Process:
    """Chromium in its own session, its output in the scratch's log, its environment
    pointing every place it writes into the scratch."""
    args = [str(executable), *CHROMIUM_FLAGS, *extra_args, f"--user-data-dir={scratch.profile}"]
    with open(scratch.log, "wb") as log_file:
        return await asyncio.create_subprocess_exec(
            *args,
            "about:blank",
            stdout=log_file,
            stderr=log_file,
            env=scratch.environment(),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


async def _wait_for_devtools(
    process: asyncio.subprocess.Process, profile: Path, log_path: Path
) -> str:
    """Chromium writes its DevTools port and path to DevToolsActivePort once it listens."""
    marker = profile / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LAUNCH_TIMEOUT
    while loop.time() < deadline:
        if process.returncode is not None:
            raise BrowserError(
                f"Chromium exited at start (code {process.returncode}): {_tail(log_path)}"
            )
        if marker.exists():
            lines = marker.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    raise BrowserError(
        f"Chromium did not open its DevTools port within {LAUNCH_TIMEOUT:g} s: {_tail(log_path)}"
    )


async def _browser_info(ws_url: str, executable: Path) -> BrowserInfo:
    connection = await CDPConnection.connect(ws_url)
    try:
        version = await connection.send("Browser.getVersion")
    finally:
        await connection.close()
    user_agent = version["userAgent"].replace("HeadlessChrome/", "Chrome/")
    return BrowserInfo(
        executable=str(executable),
        product=version["product"].replace("HeadlessChrome/", "Chrome/"),
        user_agent=user_agent,
        protocol_version=version["protocolVersion"],
    )


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _die_with_parent() -> None:
    """In the child before exec: if we are killed (even kill -9), Chromium goes too."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-limit:] or "(empty log)"
