"""The product's own server as a benchmark drives it: ``osint-capture serve`` (and team
``worker`` processes) as subprocesses on a loopback port, captures submitted and
followed through the HTTP API with the data directory's token.

Shared by the benchmarks that measure captures end to end (``team``, ``capture``), so
each measures the same thing: what an API client sees, from its first ``POST`` to the
API listing the capture as ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.runner import PRODUCT_ENV
from tests.server import CLI, free_port

#: Seconds a page may take in the product (the capture request's own timeout).
CAPTURE_TIMEOUT = 60.0
#: Seconds for a whole configuration's captures to end before the run is abandoned.
RUN_TIMEOUT = 1800.0
START_TIMEOUT = 60.0
#: Seconds between two listings of the captures while waiting for them to end.
POLL = 0.25
ENDED = ("complete", "partial", "failed")
_TEAM_SETTINGS = ("OSINT_CAPTURE_CATALOG", "OSINT_CAPTURE_STORE", "OSINT_CAPTURE_QUEUE")


def embedded_env() -> dict[str, str]:
    """The product's environment with no team setting: SQLite, local files, in-process."""
    return {k: v for k, v in PRODUCT_ENV.items() if k not in _TEAM_SETTINGS}


class Processes:
    """A ``serve`` and any ``worker`` processes on one data directory, logs beside it."""

    def __init__(self, data: Path, env: dict[str, str], config: Path | None = None) -> None:
        self.data, self.env = data, env
        self.config = ("--config", str(config)) if config else ()
        self.port = free_port()
        self.children: list[asyncio.subprocess.Process] = []
        self.token = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _spawn(self, name: str, *args: str) -> asyncio.subprocess.Process:
        with open(self.data.parent / f"{name}.log", "ab") as log:
            child = await asyncio.create_subprocess_exec(
                CLI, *args, "--data", str(self.data), *self.config,
                stdout=log, stderr=log, env=self.env,
            )  # fmt: skip
        self.children.append(child)
        return child

    async def serve(self, workers: int | None) -> None:
        """``serve`` (with ``--workers`` when given: embedded), answering its API."""
        self.data.mkdir(parents=True, exist_ok=True)
        more = ("--workers", str(workers)) if workers else ()
        server = await self._spawn("serve", "serve", "--port", str(self.port), *more)
        token = await asyncio.create_subprocess_exec(
            CLI, "token", "--data", str(self.data), *self.config,
            stdout=asyncio.subprocess.PIPE, env=self.env,
        )  # fmt: skip
        self.token = (await token.communicate())[0].decode().strip()
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if server.returncode is not None:
                    raise RuntimeError(f"serve exited with {server.returncode}: {self.logs()}")
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"{self.base}/health", headers=self.auth) as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"serve did not answer within {START_TIMEOUT:g} s: {self.logs()}")

    async def worker(self, n: int, concurrency: int) -> None:
        """A team ``worker`` process running ``concurrency`` captures at once."""
        await self._spawn(f"worker-{n}", "worker", "--concurrency", str(concurrency))

    def logs(self) -> str:
        """The last lines of every log, for an error that says what the processes said."""
        tails = []
        for log in sorted(self.data.parent.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-5:]
            tails.append(f"{log.name}: " + " | ".join(lines))
        return "; ".join(tails)

    async def stop(self) -> None:
        """SIGTERM to each child (workers finish or set aside their captures), then kill."""
        for child in reversed(self.children):
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                await asyncio.wait_for(child.wait(), 60)
            except TimeoutError:
                child.kill()
                await child.wait()


async def submit(http: aiohttp.ClientSession, run: Processes, urls: list[str]) -> list[str]:
    """``POST /captures`` for every URL at once; the capture ids, in the URLs' order."""

    async def one(url: str) -> str:
        body = {"url": url, "timeout": CAPTURE_TIMEOUT}
        async with http.post(f"{run.base}/captures", json=body, headers=run.auth) as answer:
            payload = await answer.json()
            if answer.status != 202:
                raise RuntimeError(f"POST /captures {url}: HTTP {answer.status} {payload}")
            return str(payload["id"])

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def ended(
    http: aiohttp.ClientSession, run: Processes, ids: list[str], poll: float = POLL
) -> dict[str, dict[str, Any]]:
    """Each capture's summary (as ``GET /captures`` lists it) once every one of ``ids``
    has ended; polled every ``poll`` seconds."""
    deadline = time.monotonic() + RUN_TIMEOUT
    wanted = set(ids)
    while time.monotonic() < deadline:
        async with http.get(f"{run.base}/captures", headers=run.auth) as answer:
            listed = (await answer.json())["captures"]
        found = {c["id"]: c for c in listed if c["id"] in wanted}
        if len(found) == len(wanted) and all(c["status"] in ENDED for c in found.values()):
            return found
        await asyncio.sleep(poll)
    raise RuntimeError(f"captures still running after {RUN_TIMEOUT:g} s: {run.logs()}")


async def capture_detail(
    http: aiohttp.ClientSession, run: Processes, capture_id: str
) -> dict[str, Any]:
    """``GET /captures/{id}``: the summary with its manifest and sealed files."""
    async with http.get(f"{run.base}/captures/{capture_id}", headers=run.auth) as answer:
        body = await answer.json()
        if answer.status != 200:
            raise RuntimeError(f"GET /captures/{capture_id}: HTTP {answer.status} {body}")
        return dict(body)
