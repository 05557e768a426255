"""Running the real server as a separate process, as a user does (`osint-capture serve`)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from capture.browser import find_chromium

CLI = str(Path(sys.executable).with_name("osint-capture"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """`osint-capture serve` on a free loopback port with its own data directory."""

    def __init__(
        self,
        data: Path,
        *,
        workers: int = 2,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        file_size_limit: int | None = None,
    ) -> None:
        self.data = data
        self.workers = workers
        self.extra_args = extra_args  # more `serve` options, e.g. --tsa URL --tsa-trust FILE
        #: ``ulimit -f`` for the server (not its Chromium): a write that would make a
        #: file larger fails with EFBIG, a real write error from the kernel, no mount.
        self.file_size_limit = file_size_limit
        self.port = port or free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.token = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _limit_file_size(self) -> None:
        """Only the soft limit: Chromium's wrapper (:meth:`_unlimited_chromium`) lifts it
        again, since the browser keeps its screenshots in shared-memory files."""
        assert self.file_size_limit is not None
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_size_limit, hard))

    def _unlimited_chromium(self) -> dict[str, str]:
        """The server's environment with CHROMIUM_PATH set to a wrapper that lifts the
        file-size limit before starting the real Chromium."""
        wrapper = self.data.parent / f"chromium-unlimited-{self.port}"
        wrapper.write_text(f'#!/bin/sh\nulimit -f unlimited\nexec "{find_chromium()}" "$@"\n')
        wrapper.chmod(0o755)
        return {**os.environ, "CHROMIUM_PATH": str(wrapper)}

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop(kill=True)  # never leave a half-started server behind
            raise

    async def _start(self) -> None:
        log = open(self.data.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.data.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            CLI,
            "serve",
            "--port",
            str(self.port),
            "--data",
            str(self.data),
            "--workers",
            str(self.workers),
            *self.extra_args,
            stdout=log,
            stderr=log,
            preexec_fn=self._limit_file_size if self.file_size_limit else None,
            env=self._unlimited_chromium() if self.file_size_limit else None,
        )
        log.close()
        token = await asyncio.create_subprocess_exec(
            CLI, "token", "--data", str(self.data), stdout=asyncio.subprocess.PIPE
        )
        self.token = (await token.communicate())[0].decode().strip()
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if self.process.returncode is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}")
                try:
                    async with http.get(self.base + "/api/v1/health", headers=self.auth) as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not answer within 30 s")

    async def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, str], Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method, self.base + path, headers={**self.auth, **(headers or {})}, **kwargs
            ) as r,
        ):
            body = await r.read()
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body
            return r.status, dict(r.headers), parsed

    async def reach_stage(self, capture_id: str, stage: str) -> None:
        """Wait until the capture's events say it has reached ``stage``."""
        async for kind, data in self.events(capture_id):
            if kind == "state" and data.get("stage") == stage:
                return
            assert kind not in ("done", "failed"), f"{capture_id} ended before {stage}: {data}"

    async def events(
        self, capture_id: str, *, analysis: int | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The capture's server-sent events (or those of its ``analysis`` run), parsed,
        until the stream ends."""
        path = f"/api/v1/captures/{capture_id}"
        path += f"/analyses/{analysis}/events" if analysis is not None else "/events"
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                self.base + path,
                headers=self.auth,
                timeout=aiohttp.ClientTimeout(total=300),
            ) as r,
        ):
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            kind, data = "message", ""
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line and data:
                    yield kind, json.loads(data)
                    kind, data = "message", ""

    async def wait_done(self, capture_id: str, *, analysis: int | None = None) -> dict[str, Any]:
        async for kind, data in self.events(capture_id, analysis=analysis):
            if kind in ("done", "failed"):
                return {"event": kind, **data}
        raise AssertionError("event stream ended without done or failed")
