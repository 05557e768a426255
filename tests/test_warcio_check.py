"""The end-of-run check (tests/conftest.py) finds what ``warcio check`` finds, names the
file and the record, and lets a WARC damaged on purpose pass only while it is damaged.

Its bad files are made in a directory of its own, outside the run's temporary
directory, so the real end-of-run check never meets them.
"""

from __future__ import annotations

import io
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.warcs import check_every_warc, damage


@pytest.fixture
def outside() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="osint-capture-warcio-check-") as name:
        yield Path(name)


def request_warc(path: Path, uri: str) -> Path:
    """One request record for ``uri``, written by warcio itself (gzip per record)."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
        record = writer.create_warc_record(uri, "request", payload=io.BytesIO(), http_headers=http)
        writer.write_record(record)
    return path


def flip_the_end(data: bytes) -> bytes:
    """Flip the last 20 bytes: the gzip member's checksum and length no longer match.
    (Cutting a file short is no way to damage it here: warcio check passes a WARC cut
    inside its last gzip member.)"""
    return data[:-20] + bytes(b ^ 0xFF for b in data[-20:])


def test_a_request_record_for_a_blob_url_is_named_with_its_record(outside: Path) -> None:
    """The fault of issue 11: an HTTP request record for a URL that is not HTTP."""
    request_warc(outside / "sound.warc.gz", "https://example.org/")
    bad = request_warc(outside / "blob.warc.gz", "blob:https://example.org/1")
    count, unsound = check_every_warc(outside)
    assert count == 2 and len(unsound) == 1
    assert unsound[0].startswith(str(bad)) and "request" in unsound[0]
    assert "payload digest failed" in unsound[0]


def test_a_warc_damaged_on_purpose_passes_only_while_damaged(outside: Path) -> None:
    flipped = request_warc(outside / "flipped.warc.gz", "https://example.org/")
    damage(flipped, flip_the_end)
    untouched = request_warc(outside / "untouched.warc.gz", "https://example.org/")
    damage(untouched, lambda data: data)
    count, unsound = check_every_warc(outside)
    assert count == 2
    assert unsound == [f"{untouched}: damaged on purpose, yet it passes warcio check"]


def test_a_sealed_warc_damaged_on_purpose_stays_read_only(outside: Path) -> None:
    sealed = request_warc(outside / "sealed.warc.gz", "https://example.org/")
    sealed.chmod(0o444)
    damage(sealed, flip_the_end)
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o444
    assert check_every_warc(outside) == (1, [])


def test_only_a_sound_warc_may_be_damaged_on_purpose(outside: Path) -> None:
    """Marking a file that was already unsound would hide a fault of ours."""
    bad = request_warc(outside / "blob.warc.gz", "blob:https://example.org/1")
    with pytest.raises(AssertionError, match="was unsound before it was damaged"):
        damage(bad, lambda data: data[:10])
