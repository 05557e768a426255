"""Where a Chromium writes: one scratch directory per browser, removed when it closes,
swept at the next start when its owner was killed before it could remove it.

Chromium writes more than its profile (``--user-data-dir``): its process-singleton
socket under ``$TMPDIR/org.chromium.Chromium.*``, its crash database under
``$CHROME_CONFIG_HOME`` (else ``~/.config/chromium/Crash Reports``), GLib's dconf
marker under ``$XDG_RUNTIME_DIR`` (else ``~/.cache/dconf``), anonymous shared memory
files in ``$TMPDIR`` (``--disable-dev-shm-usage``); and Playwright keeps its
``playwright-artifacts-*`` in its own ``$TMPDIR``. Each is pointed into the scratch,
so nothing of a capture outlives it elsewhere, and the scratch is one directory to
remove. A program that has a data directory (the CLI, ``serve``, ``worker``) keeps
the scratch under the data directory's work area
(:data:`archive.datadir.BROWSER_SCRATCH_DIR`, set with :func:`kept_under`), where the
next start finds what a ``kill -9`` left; without one it is in the system's temporary
directory.

The socket's path must fit in 107 bytes: when the scratch is too deep for that,
Chromium's ``$TMPDIR`` is a private directory in the system's temporary directory
instead, named in the scratch's owner file so that it is removed and swept with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import psutil

from archive.errors import Unavailable

#: How every browser scratch directory's name starts (Chromium's command line shows it).
SCRATCH_PREFIX = "osint-capture-profile-"
#: How a ``$TMPDIR`` moved out of a too-deep scratch is named, in the system's temp.
TMP_PREFIX = "osint-capture-tmp-"
#: Who made a scratch directory: host and process-id namespace, process id, that
#: process's start time (a process id alone may have been given to another since).
OWNER_FILE = "owner.json"
#: A scratch with no owner file was cut short while it was made; older than this
#: (seconds), no one will write it any more, and it is swept.
UNOWNED_GRACE = 600.0
#: The longest path a Unix socket can have (``sun_path`` less its closing NUL).
SOCKET_PATH_MAX = 107
#: What Chromium adds to ``$TMPDIR`` for its singleton socket.
SINGLETON_SOCKET = "/org.chromium.Chromium.XXXXXX/SingletonSocket"
#: A process start time read twice may differ by a clock tick or a rounding.
START_TIME_SLACK = 1.0

_root: ContextVar[Path | None] = ContextVar("browser_scratch_root", default=None)


class ScratchError(Unavailable):
    """A browser's scratch directory could not be made where it must be."""


@dataclass(frozen=True)
class Scratch:
    """One browser's scratch: its profile, its temp, its crash database, its runtime dir."""

    path: Path
    #: Chromium's ``$TMPDIR``: ``path/tmp``, or a private directory in the system's temp.
    tmp: Path

    @property
    def profile(self) -> Path:
        return self.path / "profile"

    @property
    def log(self) -> Path:
        return self.path / "chromium.log"

    @property
    def artifacts(self) -> Path:
        """Playwright's place for a browser's downloads and traces (else its own
        ``$TMPDIR/playwright-artifacts-*``, which a killed driver may leave behind)."""
        return self.path / "playwright"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment Chromium runs in: ``base`` (ours) with every place it would
        write outside its profile pointed into the scratch.

        ``HOME`` and the XDG config and data homes stay: fontconfig finds the user's
        fonts through them, and a page must render with the fonts the investigator sees.
        ``XDG_RUNTIME_DIR`` is only set where there is none (no desktop session): a
        session's own is where GLib's dconf marker already lives.
        """
        env = dict(os.environ if base is None else base)
        env["TMPDIR"] = str(self.tmp)
        env["CHROME_CONFIG_HOME"] = str(self.path / "config")
        if not env.get("XDG_RUNTIME_DIR"):
            env["XDG_RUNTIME_DIR"] = str(self.path / "runtime")
        return env

    def remove(self) -> None:
        """The scratch gone, and Chromium's ``$TMPDIR`` with it if that was moved out."""
        remove_scratch(self.path)


def make_scratch(root: Path | None = None) -> Scratch:
    """A new scratch under ``root``, else where :func:`kept_under` says, else the
    system's temp; its owner file is written before anything else goes in."""
    root = root if root is not None else _root.get()
    if root is not None:
        root = root.absolute()  # Chromium is told where its profile is, from any directory
        root.mkdir(parents=True, exist_ok=True)
    try:
        path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))
    except OSError as exc:
        raise ScratchError(
            f"cannot make a browser scratch directory in {root or tempfile.gettempdir()}: "
            f"{exc}; free space or fix its permissions"
        ) from exc
    try:
        return _furnish(path)
    except BaseException:
        remove_scratch(path)
        raise


def _furnish(path: Path) -> Scratch:
    tmp = path / "tmp"
    moved = len(str(tmp)) + len(SINGLETON_SOCKET) > SOCKET_PATH_MAX
    if moved:
        tmp = _short_tmp(path)
    _write_owner(path, tmp if moved else None)
    for name in ("profile", "config", "runtime", "playwright"):
        (path / name).mkdir(mode=0o700)
    if not moved:
        tmp.mkdir(mode=0o700)
    return Scratch(path, tmp)


def _short_tmp(scratch: Path) -> Path:
    """A private ``$TMPDIR`` in the system's temp, for a scratch too deep for the socket."""
    system = tempfile.gettempdir()
    if len(system) + len("/" + TMP_PREFIX + "xxxxxxxx") + len(SINGLETON_SOCKET) > SOCKET_PATH_MAX:
        raise ScratchError(
            f"the browser scratch {scratch} and the temporary directory {system} are both too "
            "deep for Chromium's socket path (107 bytes): use a data directory with a "
            "shorter path, or set TMPDIR to a short one (e.g. /tmp)"
        )
    return Path(tempfile.mkdtemp(prefix=TMP_PREFIX))


def _write_owner(path: Path, moved_tmp: Path | None) -> None:
    me = psutil.Process()
    owner = {
        "host": socket.gethostname(),
        "pid_namespace": _pid_namespace(),
        "pid": me.pid,
        "started": me.create_time(),
        "tmp": str(moved_tmp) if moved_tmp is not None else None,
    }
    (path / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")


def _pid_namespace() -> str | None:
    """Which process ids we see (a container has its own), where the system says."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def remove_scratch(path: Path) -> None:
    """Remove a scratch and the moved ``$TMPDIR`` its owner file names (only one of ours),
    once no process that names it is left (:func:`end_processes_naming`)."""
    end_processes_naming(path)
    moved = _owner(path).get("tmp")
    if isinstance(moved, str) and Path(moved).name.startswith(TMP_PREFIX):
        shutil.rmtree(moved, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def end_processes_naming(path: Path) -> list[int]:
    """Kill every process whose command line names ``path`` (each Chromium process names
    its profile, the crash handlers their database): what outlived the browser's main
    process, which is the only one we start and wait for. Returns their ids."""
    inside = str(path) + os.sep
    ended = []
    for process in psutil.process_iter(["cmdline"]):
        arguments = process.info.get("cmdline") or ()
        if any(inside in argument for argument in arguments):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                process.kill()
                ended.append(process.pid)
    return ended


def _owner(path: Path) -> dict[str, object]:
    try:
        found = json.loads((path / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def sweep_stale(root: Path) -> list[Path]:
    """Remove every scratch under ``root`` whose owner process is gone (killed before it
    could remove it); a live owner's, or another host's or container's, stays.
    Returns what was removed."""
    try:
        entries = sorted(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    swept = []
    for path in entries:
        if path.name.startswith(SCRATCH_PREFIX) and path.is_dir() and _stale(path):
            remove_scratch(path)
            swept.append(path)
    return swept


def _stale(path: Path) -> bool:
    """Whether no one will remove ``path``: its owner is gone, or it never had one and
    is too old to be still in the making."""
    owner = _owner(path)
    pid, started = owner.get("pid"), owner.get("started")
    if not isinstance(pid, int) or not isinstance(started, int | float):
        with contextlib.suppress(FileNotFoundError):
            return time.time() - path.stat().st_mtime > UNOWNED_GRACE
        return False
    if owner.get("host") != socket.gethostname() or owner.get("pid_namespace") != _pid_namespace():
        return False  # a data directory shared with another host or container: not ours to see
    try:
        return abs(psutil.Process(pid).create_time() - started) > START_TIME_SLACK
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


@contextlib.contextmanager
def kept_under(root: Path) -> Iterator[list[Path]]:
    """Browsers launched inside keep their scratch under ``root``; what killed owners left
    there is swept first (the list yielded). "Inside" is this thread's context: the
    event loops it runs, their tasks, and what they hand to ``asyncio.to_thread``."""
    swept = sweep_stale(root)
    token = _root.set(root)
    try:
        yield swept
    finally:
        _root.reset(token)
