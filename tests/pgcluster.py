"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary directory, the server on a
free loopback port, stopped and removed at the end. The tests' fixtures
(:mod:`tests.postgres`) and the catalog benchmark (:mod:`bench.team_catalog`) both
start theirs here, so the two never drift apart.

``initdb`` and ``pg_ctl`` run as the ``postgres`` user when we are root (PostgreSQL
refuses to run as root); the server listens on 127.0.0.1 only, on a port found free
(never a fixed one: two runs may share the machine), with its socket in the
cluster's directory and ``fsync`` off (the data is thrown away). PostgreSQL's
programs are found in ``OSINT_CAPTURE_PG_BIN``, or the newest
``/usr/lib/postgresql/*/bin`` (Debian's layout).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from archive.errors import Unavailable

#: How long the server may take to start or stop.
START_TIMEOUT_S = 30
#: Tries at a free port (another process may take the one we found before we bind it).
PORT_TRIES = 5

_numbers = itertools.count(1)


class ClusterUnavailable(Unavailable):
    """PostgreSQL's programs are missing, or initdb or the server failed to start."""


def pg_bin() -> Path:
    """The directory holding initdb and pg_ctl, or :class:`ClusterUnavailable` saying
    where we looked."""
    named = os.environ.get("OSINT_CAPTURE_PG_BIN")
    candidates = (
        [Path(named)]
        if named
        else sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
    )
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise ClusterUnavailable(
        "PostgreSQL's initdb and pg_ctl were not found in "
        + (named or "/usr/lib/postgresql/*/bin")
        + ": install PostgreSQL (apt install postgresql) or set OSINT_CAPTURE_PG_BIN"
    )


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    """A loopback port free now (the caller binds it soon, or tries again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_postgres(command), capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
    )


class PostgresCluster:
    """One initdb'd directory and the server running on it.

    ``settings``: extra ``-c name=value`` server settings (a benchmark's memory sizes).
    """

    def __init__(self, root: Path, bin_dir: Path, settings: dict[str, str] | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.bin = bin_dir
        self.port = 0
        self.settings = dict(settings or {})

    def init(self) -> None:
        done = _run(
            [
                str(self.bin / "initdb"),
                "-D", str(self.data),
                "-A", "trust",
                "-U", "postgres",
                "-E", "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )  # fmt: skip
        if done.returncode != 0:
            raise ClusterUnavailable(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> str:
        """Start on a free loopback port; the URL of the ``postgres`` database."""
        extra = "".join(f" -c {name}={value}" for name, value in self.settings.items())
        for _ in range(PORT_TRIES):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port}"
                f" -c unix_socket_directories={self.root} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            ) + extra
            started = _run(
                [str(self.bin / "pg_ctl"), "start", "-w", "-t", str(START_TIMEOUT_S),
                 "-D", str(self.data), "-l", str(self.log), "-o", options]
            )  # fmt: skip
            if started.returncode == 0:
                return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise ClusterUnavailable(f"PostgreSQL did not start ({PORT_TRIES} ports tried):\n{log}")

    def stop(self) -> None:
        """Stop at once (the data is thrown away), and kill the server if it lingers."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        with contextlib.suppress(subprocess.TimeoutExpired):
            _run([str(self.bin / "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", str(self.data)])
        if pid is not None and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + START_TIMEOUT_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def running_cluster(
    prefix: str = "osint-capture-pg-", settings: dict[str, str] | None = None
) -> Iterator[str]:
    """A cluster started in a new temporary directory; the URL of its ``postgres``
    database. Stopped and its directory removed on the way out, whatever happened."""
    bin_dir = pg_bin()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PostgresCluster(root, bin_dir, settings)
    try:
        cluster.init()
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database`, whoever is still connected to it."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
