"""The WARC records of a package, read as they stream past: every digest required and checked.

Each record of ours carries ``WARC-Block-Digest``, and, where it has a payload
(request, response, resource, revisit), ``WARC-Payload-Digest``: a record without
them proves nothing about its content, so their absence is a failure, not "nothing
to check". Both are recomputed here as ``warcio check`` does; the payload of an
HTTP record is what follows its header block.

While the records stream past, the facts an index points at are kept
(:class:`RecordFacts`): offset and length of the record in the file, type, URI,
date, payload digest, HTTP status. :mod:`archive.wacz.index_check` holds the CDXJ index
and the page list to them, so replay cannot be pointed at a record other than the
one that answers its URL.

warcio reads a header line until its newline, growing one buffer (quadratic in time,
unbounded in memory): lines here stop at :data:`MAX_WARC_LINE`, a record's header at
:data:`MAX_HTTP_HEADERS`, and all content decompressed at :data:`MAX_WARC_BYTES`
(gzip expands about a thousandfold, past any bound the ZIP's sizes set).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

from archive.errors import Failed
from archive.hashing import CHUNK_SIZE

#: WARC content read in all, once decompressed, across every WARC of a package.
MAX_WARC_BYTES = 64 * 1024**3
#: An HTTP header block in a WARC record longer than this is not parsed for the payload.
MAX_HTTP_HEADERS = 1024**2
#: A line of a WARC record's header longer than this is refused.
MAX_WARC_LINE = 64 * 1024
#: What a failure quotes of an error message (warcio's quote the bytes they choked on).
MAX_QUOTE = 300

#: Records whose payload has its own digest; the others (warcinfo, metadata) have a block.
PAYLOAD_TYPES = ("request", "response", "resource", "revisit")
_DIGEST = re.compile(r"sha256:(?P<hex>[0-9a-f]{64})")
_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")


class OverBudget(Failed):
    """The package's WARCs expand past :data:`MAX_WARC_BYTES` in all: reading stops.

    Raised by :class:`Budget` and caught in this module, where it becomes the check's
    problem (a gzip bomb?); it never reaches a caller."""


@dataclass
class Budget:
    """Decompressed WARC bytes still allowed, across every WARC of the package."""

    left: int = field(default_factory=lambda: MAX_WARC_BYTES)

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise OverBudget


@dataclass(frozen=True)
class RecordFacts:
    """What an index line can point at: one record, where it is and what it holds."""

    offset: int
    length: int
    type: str
    uri: str
    #: ``WARC-Date`` as the 14 digits CDXJ uses.
    timestamp: str
    payload_digest: str | None
    http_status: str | None


@dataclass
class WarcResult:
    """One WARC of a package: how many records, the problems, the facts of each record."""

    count: int = 0
    problems: list[str] = field(default_factory=list)
    records: dict[int, RecordFacts] = field(default_factory=dict)


class _BoundedReader(DecompressingBufferedReader):
    """warcio's reader, with header lines bounded (see the module docstring)."""

    head_bytes = 0

    def readline(self, length: int | None = None) -> bytes:
        limit = MAX_WARC_LINE if length is None else min(length, MAX_WARC_LINE)
        line = super().readline(limit)
        self.head_bytes += len(line)
        if len(line) >= MAX_WARC_LINE and not line.endswith(b"\n"):
            raise ValueError(f"a header line longer than {MAX_WARC_LINE} bytes (not a WARC?)")
        if self.head_bytes > MAX_HTTP_HEADERS:
            raise ValueError(f"a record header longer than {MAX_HTTP_HEADERS} bytes")
        return line


class _Records(ArchiveIterator):
    """warcio's iterator over :class:`_BoundedReader`."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(stream, no_record_parse=True)
        self.reader = _BoundedReader(self.fh)


def check_warc(stream: IO[bytes], budget: Budget) -> WarcResult:
    """Read every record of a WARC stream; return what was found."""
    result = WarcResult()
    try:
        records = _Records(stream)
        for record in records:
            records.reader.head_bytes = 0
            result.count += 1
            facts, problem = _check_record(record, budget)
            if problem:
                result.problems.append(f"record {result.count}: {problem}")
            offset, length = records.get_record_offset(), records.get_record_length()
            result.records[offset] = RecordFacts(offset, length, *facts)
    except OverBudget:
        result.problems.append(
            f"record {result.count}: the WARC content expands past {MAX_WARC_BYTES} bytes in"
            " all; refusing to read further (gzip bomb?)"
        )
    except Exception as exc:
        message = str(exc)
        if len(message) > MAX_QUOTE:
            message = message[:MAX_QUOTE] + f"... ({len(message)} characters)"
        result.problems.append(f"unreadable after record {result.count}: {message}")
    if not result.count and not result.problems:
        result.problems.append("no WARC records")
    return result


def _check_record(record: Any, budget: Budget) -> tuple[tuple[Any, ...], str | None]:
    """The record's facts (after offset and length) and what is wrong with it, if anything."""
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID") or "?"
    record_type = headers.get_header("WARC-Type") or "?"
    block_expected = headers.get_header("WARC-Block-Digest")
    payload_expected = headers.get_header("WARC-Payload-Digest")
    is_http = (headers.get_header("Content-Type") or "").startswith("application/http")
    block, payload, head, ended = _digests(record.raw_stream, budget, is_http)
    found = []
    if block_expected is None:
        found.append("no WARC-Block-Digest: nothing proves its content")
    if payload_expected is None and record_type in PAYLOAD_TYPES:
        found.append("no WARC-Payload-Digest: nothing proves its payload")
    checks = [("WARC-Block-Digest", block_expected, block)]
    if record_type != "revisit":  # a revisit's payload digest names the record it revisits
        checks.append(("WARC-Payload-Digest", payload_expected, payload))
    for label, expected, actual in checks:
        if expected is None:
            continue
        match = _DIGEST.fullmatch(expected.strip())
        if match is None:
            found.append(f"{label} {expected!r} is not sha256:<hex>")
        elif label == "WARC-Payload-Digest" and not ended:
            found.append(f"{label}: the HTTP header block never ends")
        elif match["hex"] != actual:
            found.append(f"{label} says {match['hex']}, content hashes to {actual}")
    status = _STATUS.match(head)
    facts = (
        record_type,
        headers.get_header("WARC-Target-URI") or "",
        re.sub(r"\D", "", headers.get_header("WARC-Date") or "")[:14],
        payload_expected.strip() if payload_expected else None,
        status.group(1).decode() if status and record_type == "response" else None,
    )
    return facts, (f"{record_type} {record_id}: " + "; ".join(found)) if found else None


def _digests(stream: Any, budget: Budget, is_http: bool) -> tuple[str, str, bytes, bool]:
    """(block SHA-256, payload SHA-256, HTTP header block, whether that block ended)."""
    block, payload = hashlib.sha256(), hashlib.sha256()
    head = b""
    in_head = is_http
    for chunk in _chunks(stream):
        budget.spend(len(chunk))
        block.update(chunk)
        if not in_head:
            payload.update(chunk)
            continue
        if len(head) > MAX_HTTP_HEADERS:
            continue  # a header block that never ends within bounds: reported by the caller
        head += chunk
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            payload.update(head[end + 4 :])
            head, in_head = head[:end], False
    return block.hexdigest(), payload.hexdigest(), head[:MAX_HTTP_HEADERS], not in_head


def _chunks(stream: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk
