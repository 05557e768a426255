"""Building WARC 1.1 records (writing them is :mod:`archive.warcfile`'s job).

Payloads are :class:`Payload` objects: bytes spill from memory to a temporary file
past a threshold, and their SHA-256 is computed as they arrive, so a 500 MB body is
never held in memory and its digest exists before it reaches the WARC.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders

from archive.hashing import CHUNK_SIZE
from archive.timeutil import rfc3339, utc_now

WARC_VERSION = "WARC/1.1"
SPOOL_IN_MEMORY = 1024 * 1024

#: warcio (and pywb, which reads WARCs with it) parses the HTTP header block of a
#: request or response record only when its target URI starts with one of these;
#: for any other scheme the header block would be read as payload, and the record's
#: payload digest would not match it.
HTTP_URI_PREFIXES = ("http:", "https:")
#: The HTTP versions warcio accepts on a status line. HTTP/2 and HTTP/3 have no
#: status line of their own: their messages are written in HTTP/1.1 form, and
#: ``WARC-Protocol`` says what was on the wire (IIPC warc-http2 proposal).
STATUS_LINE_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
#: Chromium writes ``HTTP/1.1`` on the request line of every HTTP/1.x request, to
#: HTTP/1.0 servers too; HTTP/2 and HTTP/3 requests are written in HTTP/1.1 form.
REQUEST_LINE_VERSION = "HTTP/1.1"

Headers = list[tuple[str, str]]


class Sha256Digester:
    """warcio digester interface, SHA-256 in hex: ``sha256:<hex>``."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._sha.update(data)

    def __str__(self) -> str:
        return "sha256:" + self._sha.hexdigest()


class _Builder(RecordBuilder):
    @staticmethod
    def _create_digester() -> Sha256Digester:  # type: ignore[override]
        return Sha256Digester()


_builder = _Builder(warc_version="1.1")


class Payload:
    """Bytes of one record's payload, hashed as they arrive; spills to disk when large."""

    def __init__(self, data: bytes = b"", *, spool_dir: Path | None = None) -> None:
        """``spool_dir``: where the payload spills once past :data:`SPOOL_IN_MEMORY`.
        Give the data disk for anything that can be large: the system's temp directory
        may be a small disk or memory (tmpfs)."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_dir)  # noqa: SIM115
        self._file: BinaryIO = spool  # type: ignore[assignment]
        self._sha = hashlib.sha256()
        self._hex: str | None = None
        self.size = 0
        if data:
            self.write(data)

    @classmethod
    def of_sealed_file(cls, path: Path, sha256: str, size: int) -> Payload:
        """A sealed file as a payload, read from disk as it is written, never copied.

        Its hash was computed when it was sealed; the WARC's digest is that hash.
        """
        payload = cls.__new__(cls)
        # A large buffer (warcio reads 16 KiB at a time).
        payload._file = open(path, "rb", buffering=CHUNK_SIZE)  # noqa: SIM115 - closed by close()
        payload._sha = hashlib.sha256()
        payload._hex = sha256
        payload.size = size
        return payload

    def write(self, data: bytes) -> None:
        if self._hex is not None:
            raise ValueError("a sealed file's payload cannot be written to")
        self._file.write(data)
        self._sha.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._hex if self._hex is not None else self._sha.hexdigest()

    @property
    def digest(self) -> str:
        """WARC-labelled digest: ``sha256:<hex>``."""
        return "sha256:" + self.sha256

    def stream(self) -> BinaryIO:
        """The payload from its first byte (for the writer)."""
        self._file.seek(0)
        return self._file

    def read_all(self) -> bytes:
        """Whole payload in memory: only for small derived records and tests."""
        return self.stream().read()

    def close(self) -> None:
        self._file.close()


def is_http_uri(uri: str) -> bool:
    """Whether a record for ``uri`` can carry an HTTP header block (:data:`HTTP_URI_PREFIXES`)."""
    return uri.startswith(HTTP_URI_PREFIXES)


def _require_http(uri: str, record_type: str) -> None:
    """A request or response record for another scheme would be malformed: refuse it."""
    if not is_http_uri(uri):
        raise ValueError(
            f"a {record_type} record needs an http: or https: target URI, not {uri[:80]!r}"
        )


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime | None = None) -> str:
    """WARC 1.1 dates: UTC with fractional seconds (the same text as RFC 3339 here)."""
    return rfc3339(moment or utc_now())


def _warc_headers(
    record_type: str,
    uri: str | None,
    *,
    record_id: str,
    date: datetime | None,
    payload: Payload | None,
    extra: Iterable[tuple[str, str]] = (),
) -> StatusAndHeaders:
    headers: Headers = [
        ("WARC-Type", record_type),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", warc_date(date)),
    ]
    if uri is not None:
        headers.append(("WARC-Target-URI", uri))
    if payload is not None and record_type in ("response", "resource", "request"):
        headers.append(("WARC-Payload-Digest", payload.digest))
    if payload is not None and record_type == "resource":
        # No HTTP headers: the block is the payload, so its digest is known already
        # and a large file is not read a second time to compute it.
        headers.append(("WARC-Block-Digest", payload.digest))
    headers.extend(extra)
    return StatusAndHeaders("", headers, protocol=WARC_VERSION)


def _build(
    uri: str | None,
    record_type: str,
    warc_headers: StatusAndHeaders,
    payload: Payload | None,
    content_type: str,
    http_headers: StatusAndHeaders | None = None,
) -> ArcWarcRecord:
    body = payload if payload is not None else Payload()
    return _builder.create_warc_record(
        uri or "",
        record_type,
        payload=body.stream(),
        length=body.size,
        warc_content_type=content_type,
        warc_headers=warc_headers,
        http_headers=http_headers,
    )


def warcinfo_record(
    filename: str, fields: Iterable[tuple[str, str]], *, date: datetime | None = None
) -> ArcWarcRecord:
    """The first record of a file: who wrote it, with what, where (``application/warc-fields``)."""
    text = "".join(f"{name}: {_one_line(value)}\r\n" for name, value in fields)
    payload = Payload(text.encode("utf-8"))
    headers = _warc_headers(
        "warcinfo",
        None,
        record_id=new_record_id(),
        date=date,
        payload=None,
        extra=[("WARC-Filename", filename)],
    )
    return _build(None, "warcinfo", headers, payload, "application/warc-fields")


def request_record(
    uri: str,
    *,
    method: str,
    path: str,
    headers: Headers,
    body: Payload | None,
    record_id: str,
    date: datetime | None,
    concurrent_to: str | None,
    extra: Iterable[tuple[str, str]] = (),
) -> ArcWarcRecord:
    """An HTTP request as the browser sent it, linked to its response."""
    _require_http(uri, "request")
    more = list(extra)
    if concurrent_to:
        more.insert(0, ("WARC-Concurrent-To", concurrent_to))
    payload = body if body is not None else Payload()
    line = f"{method} {path} {REQUEST_LINE_VERSION}"
    http = StatusAndHeaders(line, headers, is_http_request=True)
    warc = _warc_headers(
        "request", uri, record_id=record_id, date=date, payload=payload, extra=more
    )
    return _build(uri, "request", warc, payload, "application/http; msgtype=request", http)


def response_record(
    uri: str,
    *,
    status: int,
    reason: str,
    headers: Headers,
    body: Payload,
    record_id: str,
    date: datetime | None,
    version: str,
    extra: Iterable[tuple[str, str]] = (),
) -> ArcWarcRecord:
    """An HTTP response: status line and headers as received, body as the browser got it.

    ``version`` is the status line's: one of :data:`STATUS_LINE_VERSIONS`.
    """
    _require_http(uri, "response")
    if version not in STATUS_LINE_VERSIONS:
        raise ValueError(f"status line version {version!r} is not one WARC readers accept")
    http = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol=version)
    warc = _warc_headers("response", uri, record_id=record_id, date=date, payload=body, extra=extra)
    return _build(uri, "response", warc, body, "application/http; msgtype=response", http)


def resource_record(
    uri: str,
    *,
    content_type: str,
    payload: Payload,
    date: datetime | None = None,
    record_id: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> ArcWarcRecord:
    """A whole resource with no HTTP wrapper (screenshots, text, DOM, media files)."""
    warc = _warc_headers(
        "resource",
        uri,
        record_id=record_id or new_record_id(),
        date=date,
        payload=payload,
        extra=extra,
    )
    return _build(uri, "resource", warc, payload, content_type)


def metadata_record(
    uri: str,
    *,
    content_type: str,
    payload: Payload,
    date: datetime | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> ArcWarcRecord:
    """Facts about other records (TLS details of an origin, for instance)."""
    warc = _warc_headers(
        "metadata", uri, record_id=new_record_id(), date=date, payload=None, extra=extra
    )
    return _build(uri, "metadata", warc, payload, content_type)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())
