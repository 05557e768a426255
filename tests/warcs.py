"""Reading WARC files back in tests, with warcio's own reader."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

#: Payloads above this are hashed while read, not kept.
KEEP_LIMIT = 16 * 1024 * 1024


@dataclass
class Record:
    type: str
    uri: str | None
    headers: dict[str, list[str]]
    http_status: int | None
    http_headers: list[tuple[str, str]]
    payload: bytes | None  # None when larger than KEEP_LIMIT
    payload_sha256: str
    payload_size: int

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def http_header(self, name: str) -> str | None:
        for key, value in self.http_headers:
            if key.lower() == name.lower():
                return value
        return None


def read_records(path: Path) -> list[Record]:
    records = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            headers: dict[str, list[str]] = {}
            for name, value in rec.rec_headers.headers:
                headers.setdefault(name.lower(), []).append(value)
            status = None
            http_headers: list[tuple[str, str]] = []
            if rec.http_headers is not None:
                http_headers = list(rec.http_headers.headers)
                if rec.rec_type == "response":
                    status = int(rec.http_headers.get_statuscode())
            digest = hashlib.sha256()
            kept = bytearray()
            size = 0
            stream = rec.raw_stream  # the payload exactly as stored: no decoding
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
                if size <= KEEP_LIMIT:
                    kept.extend(chunk)
            records.append(
                Record(
                    type=rec.rec_type,
                    uri=rec.rec_headers.get_header("WARC-Target-URI"),
                    headers=headers,
                    http_status=status,
                    http_headers=http_headers,
                    payload=bytes(kept) if size <= KEEP_LIMIT else None,
                    payload_sha256=digest.hexdigest(),
                    payload_size=size,
                )
            )
    return records


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    """``warcio check`` as a user would run it (digests of every record)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("warcio")), "check", "-v", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
