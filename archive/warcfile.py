"""Writing one WARC 1.1 file: records flow in, each gzipped as its own member.

Records are built with warcio (:mod:`archive.records`) and written here through
warcio's ``WARCWriter``. Two choices differ from warcio's defaults:

* digests are SHA-256 in hex (``sha256:<64 hex digits>``), the same digest that
  ``sha256sum`` prints, so anyone can compare a payload without our tools;
* each record is its own gzip member at a moderate compression level, so any
  record can be read from its offset and large media do not crawl through
  level-9 deflate;
* audio and video records are stored in their member without deflate (level 0):
  encoded media do not shrink, and deflating them was three quarters of the time
  a large video took to reach the WARC (``make bench ONLY=hashing``). The member
  is still ordinary gzip; the captured bytes are the same either way.

Writes are blocking file I/O; :meth:`WarcFile.write_async` runs them in order on
one worker thread so an event loop never stalls and records never interleave.
"""

from __future__ import annotations

import asyncio
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from archive.records import Sha256Digester

GZIP_LEVEL = 6
#: Level for payloads that are already compressed: stored blocks, no deflate.
STORED_LEVEL = 0
#: Media types whose payloads deflate cannot shrink (encoded audio and video).
COMPRESSED_MEDIA = ("video/", "audio/")


class Sink(Protocol):
    def write(self, data: bytes) -> int: ...
    def flush(self) -> None: ...
    def tell(self) -> int: ...


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record landed: what a catalog or an index needs."""

    record_id: str
    record_type: str
    target_uri: str | None
    offset: int
    length: int


class _GzipMember:
    """One gzip member around one record; ``flush`` (called once by warcio) ends it."""

    def __init__(self, out: Sink, level: int) -> None:
        self._out = out
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._ended = False

    def write(self, data: bytes) -> int:
        if self._ended:
            raise RuntimeError("gzip member already ended")
        compressed = self._compressor.compress(data)
        if compressed:
            self._out.write(compressed)
        return len(data)

    def flush(self) -> None:
        if not self._ended:
            self._out.write(self._compressor.flush())
            self._ended = True
        self._out.flush()


class _Sha256WARCWriter(WARCWriter):
    """warcio's writer, with SHA-256 for the block digests it computes."""

    @staticmethod
    def _create_digester() -> Sha256Digester:  # type: ignore[override]
        return Sha256Digester()


class WarcFile:
    """Append records to one WARC file (any sink with write/flush/tell)."""

    def __init__(self, sink: Sink, *, gzip_level: int = GZIP_LEVEL) -> None:
        self._sink = sink
        self._gzip_level = gzip_level
        self._executor: ThreadPoolExecutor | None = None
        self.records: list[WrittenRecord] = []

    def write(self, record: ArcWarcRecord) -> WrittenRecord:
        """Write one record as one gzip member; return its offset and length."""
        offset = self._sink.tell()
        level = STORED_LEVEL if already_compressed(record) else self._gzip_level
        member = _GzipMember(self._sink, level)
        _Sha256WARCWriter(member, gzip=False, warc_version="1.1").write_record(record)
        headers = record.rec_headers
        written = WrittenRecord(
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=record.rec_type,
            target_uri=headers.get_header("WARC-Target-URI"),
            offset=offset,
            length=self._sink.tell() - offset,
        )
        self.records.append(written)
        return written

    async def write_async(self, record: ArcWarcRecord) -> WrittenRecord:
        """:meth:`write` on this file's single writer thread, in submission order."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.write, record)

    def close(self) -> None:
        """Wait for queued writes; the sink itself is sealed by its owner."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def already_compressed(record: ArcWarcRecord) -> bool:
    """Whether the record carries encoded audio or video, which deflate cannot shrink.

    A ``resource`` record's type is its WARC Content-Type; a ``response`` record's
    is the HTTP Content-Type the server sent.
    """
    if record.rec_type == "resource":
        kind = record.content_type or ""
    elif record.rec_type == "response" and record.http_headers is not None:
        kind = record.http_headers.get_header("Content-Type") or ""
    else:
        return False
    return kind.strip().lower().startswith(COMPRESSED_MEDIA)
