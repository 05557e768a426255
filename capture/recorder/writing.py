"""Records into the WARC file, one writer at a time.

:class:`RecordWriter` is the recorder's only way to the WARC file: it owns the file
and the lock that keeps one exchange's records (or one metadata record) together,
however many CDP event tasks finish at once. It writes an exchange once, releases
its spooled body, and reports progress.
"""

from __future__ import annotations

import asyncio

from warcio.recordloader import ArcWarcRecord

from archive.warcfile import WarcFile
from capture.exchange import Exchange, to_records
from capture.progress_events import Progress, ResourceRecorded
from capture.recorder.bodies import Bodies
from capture.recorder.ledger import Ledger


class RecordWriter:
    """Writes exchanges and metadata records to the WARC, under one lock."""

    def __init__(
        self,
        warc: WarcFile,
        ledger: Ledger,
        bodies: Bodies,
        *,
        redact_cookies: bool,
        on_progress: Progress,
    ) -> None:
        self.warc = warc
        self.redact_cookies = redact_cookies
        self.on_progress = on_progress
        self.records_written = 0
        self._ledger = ledger
        self._bodies = bodies
        self._write_lock = asyncio.Lock()

    async def write(self, exchange: Exchange) -> None:
        """An exchange's records, once; it is no longer pending from the first line on."""
        if exchange.written:
            return
        exchange.written = True
        exchange.live = False  # chunks arriving after this are not part of the record
        self._ledger.settle(exchange)
        async with self._write_lock:
            for record in to_records(exchange, redact_cookies=self.redact_cookies):
                await self.warc.write_async(record)
        if exchange.body is not None:
            exchange.body.close()
        self.records_written += 1
        self.on_progress(
            ResourceRecorded(
                url=exchange.url,
                status=exchange.status,
                recorded=self.records_written,
                bytes=self._bodies.bytes_recorded,
            )
        )

    async def write_record(self, record: ArcWarcRecord) -> None:
        """One record that belongs to no exchange (a metadata record)."""
        async with self._write_lock:
            await self.warc.write_async(record)

    async def drain(self) -> None:
        """Return once every write begun so far has reached the file."""
        async with self._write_lock:
            # A handler that began writing an exchange just before (a response finishing
            # as the capture stops) is queued on this lock: its records reach the file
            # before the owner closes it, never after.
            pass
