"""A loopback relay in front of an S3 gateway that can stop one capture between two uploads.

Killing a worker "in the middle of sealing" by timing alone is a race: a capture's seal
stage uploads its files within a fraction of a second. :class:`S3Gate` makes the moment
exact. Processes are given the gate's address as their S3 endpoint; it relays bytes both
ways unchanged, and once told :meth:`hold_after_first_upload` of a capture it lets that
capture's first ``PUT`` through, then holds any later request naming the capture's keys
(the upload's verification, the next file) until :meth:`release`. :attr:`holding` is set
when it holds one: the first object is in the bucket, its catalog row not yet written,
and the process that sent it can be killed there. A held request is never sent on: its
connection is closed when the gate is released (its sender is dead by then).

It reads only the first bytes of each chunk a client sends (a request line names its
key in the path: ``PUT /BUCKET/PREFIX/captures/ID/NAME``); bodies pass untouched.
"""

from __future__ import annotations

import asyncio
import contextlib

#: The bytes read from one side before they are passed on.
CHUNK = 64 * 1024


class S3Gate:
    """A TCP relay from a free loopback port to ``upstream`` (``host``, ``port``)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.holding = asyncio.Event()
        self._released = asyncio.Event()
        self._marker: bytes | None = None
        self._uploaded = False
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen; the endpoint URL to give the processes."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def hold_after_first_upload(self, capture_id: str) -> None:
        self._marker = f"/captures/{capture_id}/".encode()

    def release(self) -> None:
        self._marker = None
        self._released.set()

    async def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.close()
            return
        up = asyncio.ensure_future(self._pump(client_in, server_out, requests=True))
        down = asyncio.ensure_future(self._pump(server_in, client_out, requests=False))
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (server_out, client_out):
            writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, requests: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while chunk := await source.read(CHUNK):
                if requests and not await self._gate(chunk):
                    return
                sink.write(chunk)
                await sink.drain()

    async def _gate(self, chunk: bytes) -> bool:
        """False (after the release) for a request naming the capture once its first
        upload has gone through; True for anything to pass on."""
        head = chunk[:2048].split(b"\r\n", 1)[0]
        if self._marker is None or self._marker not in head:
            return True
        if not self._uploaded:
            self._uploaded = head.startswith(b"PUT ")
            return True
        self.holding.set()
        await self._released.wait()
        return False
