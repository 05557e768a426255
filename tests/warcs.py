"""Reading WARC files back in tests, with warcio's own reader, and checking them with
warcio's own checker: every WARC a test run writes is checked at its end (conftest)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

#: Payloads above this are hashed while read, not kept.
KEEP_LIMIT = 16 * 1024 * 1024


@dataclass
class Record:
    type: str
    uri: str | None
    headers: dict[str, list[str]]
    http_status: int | None
    #: The HTTP block's first line as stored: ``HTTP/1.0 200 OK``, ``GET / HTTP/1.1``.
    http_line: str | None
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
            status = line = None
            http_headers: list[tuple[str, str]] = []
            if rec.http_headers is not None:
                http_headers = list(rec.http_headers.headers)
                line = f"{rec.http_headers.protocol} {rec.http_headers.statusline}"
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
                    http_line=line,
                    http_headers=http_headers,
                    payload=bytes(kept) if size <= KEEP_LIMIT else None,
                    payload_sha256=digest.hexdigest(),
                    payload_size=size,
                )
            )
    return records


@dataclass(frozen=True)
class Checked:
    """What ``warcio check`` said of one file: 0 when every digest passed."""

    returncode: int
    stdout: str  # the records that failed, as warcio prints them
    stderr: str = ""  # an error that stopped warcio reading the file


def warcio_check(path: Path) -> Checked:
    """``warcio check`` of ``path``, run in this process: the same checker the CLI runs,
    without a process to start for each of the hundreds of WARCs a test run writes."""
    out = io.StringIO()
    options = SimpleNamespace(inputs=[str(path)], verbose=False)
    try:
        with contextlib.redirect_stdout(out):
            code = Checker(options).process_all()
    except Exception as exc:  # the CLI would die with this (a cut gzip member, say)
        return Checked(1, out.getvalue(), f"{type(exc).__name__}: {exc}")
    return Checked(code, out.getvalue())


#: WARC files damaged on purpose (:func:`damage`): the end-of-run check expects each to fail.
DAMAGED: set[Path] = set()


def damage(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Rewrite the WARC at ``path`` with ``change`` to damage it on purpose (a sealed,
    read-only file too: its mode is put back).

    It must pass ``warcio check`` first, so the mark covers only the damage the test
    made, never a fault of ours; the end-of-run check then requires it to fail.
    """
    before = warcio_check(path)
    assert before.returncode == 0, f"{path} was unsound before it was damaged: {before}"
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IWUSR)
    path.write_bytes(change(path.read_bytes()))
    path.chmod(mode)
    DAMAGED.add(path.resolve())


def check_every_warc(root: Path) -> tuple[int, list[str]]:
    """``warcio check`` every ``*.warc`` and ``*.warc.gz`` under ``root``: how many there
    were, and what is wrong, one entry per file naming it and its failing records (a file
    that fails, or one damaged on purpose that passes)."""
    found = []
    paths = [
        Path(folder, name)
        for folder, _, names in os.walk(root)
        for name in sorted(names)
        if name.endswith((".warc", ".warc.gz"))
    ]
    for path in paths:
        checked = warcio_check(path)
        if path.resolve() in DAMAGED:
            if checked.returncode == 0:
                found.append(f"{path}: damaged on purpose, yet it passes warcio check")
        elif checked.returncode != 0:
            # warcio prints the file's name, then each failing record and why.
            said = "\n".join(filter(None, (checked.stdout.strip(), checked.stderr)))
            found.append(said if said.startswith(str(path)) else f"{path}\n{said}")
    return len(paths), found
