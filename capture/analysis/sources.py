"""What there is to read in a sealed capture, each source checked against its hash.

Sources come from the sealed files only, never from a browser's memory or the
catalog's copy: the manifest must have the SHA-256 the catalog recorded at sealing,
the screenshot and every media file the SHA-256 the manifest lists, and every
image the ``WARC-Payload-Digest`` of its response record. A source that fails its
check is not read; the run names it in its reasons.

Images are read from the WARC as a stream, one at a time (a page may have loaded
hundreds); the screenshot and media are files of their own.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from warcio.archiveiterator import ArchiveIterator

from archive.catalog import CaptureRow
from archive.errors import Failed
from archive.hashing import CHUNK_SIZE
from archive.manifest import MANIFEST_NAME, Manifest
from archive.readings import Source
from archive.sealed_store import SealedStore
from capture.analysis.ocr import worth_reading

#: The largest image body decoded for OCR; a bigger "image" is skipped and said so.
MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: Image types worth reading (vector and icon formats are not).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")
FULL_PAGE_PREFIX = "urn:fullPage:"
SCREENSHOT_FILE = "screenshot.png"


class SourceError(Failed):
    """The capture cannot be read as sealed: the message names the file and why."""


@dataclass
class CaptureSources:
    """A sealed capture opened for reading, and what a scan of its WARC found."""

    row: CaptureRow
    manifest: Manifest
    manifest_sha256: str
    store: SealedStore
    #: ``sha256 -> (record id, target URI)`` of resource records (screenshot, media).
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Sources seen in the WARC and not read, each with why.
    skipped: list[str] = field(default_factory=list)
    #: Whether the WARC was read through (resources noted, its hash checked).
    scanned: bool = False

    @classmethod
    def open(cls, store: SealedStore, row: CaptureRow) -> CaptureSources:
        if row.status not in ("complete", "partial") or not row.manifest_sha256:
            raise SourceError(f"capture {row.id} is {row.status}: only sealed captures are read")
        with store.open_sealed(row.id, MANIFEST_NAME) as fh:
            data = fh.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != row.manifest_sha256:
            raise SourceError(
                f"capture {row.id}: {MANIFEST_NAME} has SHA-256 {actual}, not the"
                f" {row.manifest_sha256} recorded when it was sealed; it will not be analysed"
            )
        manifest = Manifest.from_dict(json.loads(data))
        return cls(row, manifest, actual, store)

    def images(self, *, decode: bool = True) -> Iterator[tuple[Source, Image.Image]]:
        """Every image the page loaded that is large enough to hold text, as the WARC has it.

        Also notes the resource records (screenshot, media) for :meth:`screenshot` and
        :meth:`media`, and checks the whole WARC against its manifest hash, so the WARC
        is read once. ``decode=False`` only notes and checks (a run without OCR).
        """
        if not self.manifest.warc:
            raise SourceError(f"capture {self.row.id}: its manifest names no WARC file")
        expected = self._listed(self.manifest.warc)
        with self.store.open_sealed(self.row.id, self.manifest.warc) as raw:
            hashing = _HashingReader(raw)
            for record in ArchiveIterator(hashing):
                image = self._note(record, decode)
                if image is not None:
                    yield image
            hashing.drain()
        self.scanned = True
        if hashing.sha256() != expected:
            raise SourceError(
                f"capture {self.row.id}: {self.manifest.warc} no longer has the SHA-256 its"
                " manifest lists; nothing read from it can be trusted"
            )

    def screenshot(self) -> tuple[Source, Path] | None:
        """The sealed full-page screenshot, checked against the manifest."""
        if not any(a.path == SCREENSHOT_FILE for a in self.manifest.artifacts):
            return None
        sha256 = self._checked_file(SCREENSHOT_FILE)
        record_id, uri = self.resources.get(sha256, (None, f"{FULL_PAGE_PREFIX}{self.row.url}"))
        source = Source("screenshot", uri, sha256, record_id, file=SCREENSHOT_FILE)
        return source, self.store.local_path(self.row.id, SCREENSHOT_FILE)

    def media(self) -> list[tuple[Source, Path]]:
        """Every downloaded audio or video file, checked against the manifest."""
        if not self.scanned:  # for the media's record ids, and the WARC's own check
            for _ in self.images(decode=False):
                pass
        found = []
        for artifact in self.manifest.artifacts:
            if artifact.kind != "media":
                continue
            sha256 = self._checked_file(artifact.path)
            record_id, uri = self.resources.get(sha256, (None, _item_url(self.manifest, sha256)))
            found.append(
                (
                    Source("media", uri, sha256, record_id, file=artifact.path),
                    self.store.local_path(self.row.id, artifact.path),
                )
            )
        return found

    def _note(self, record: Any, decode: bool) -> tuple[Source, Image.Image] | None:
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        digest = (record.rec_headers.get_header("WARC-Payload-Digest") or "").removeprefix(
            "sha256:"
        )
        if record.rec_type == "resource":
            # The viewport screenshot of a short page has the full page's very bytes:
            # the full-page record is the one the sealed screenshot.png copies.
            if uri.startswith(FULL_PAGE_PREFIX) or digest not in self.resources:
                self.resources[digest] = (record_id, uri)
            return None
        if record.rec_type != "response" or record.http_headers is None:
            return None
        if not decode:
            return None
        content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
        status = record.http_headers.get_statuscode()
        if content_type.strip().lower() not in IMAGE_TYPES or status != "200":
            return None
        if record.rec_headers.get_header("WARC-Truncated"):
            self.skipped.append(f"image {uri}: its body was not recorded whole; not read")
            return None
        return self._decode(record, uri, record_id, digest)

    def _decode(
        self, record: Any, uri: str, record_id: str, digest: str
    ) -> tuple[Source, Image.Image] | None:
        body = record.content_stream().read(MAX_IMAGE_BYTES + 1)
        if len(body) > MAX_IMAGE_BYTES:
            self.skipped.append(f"image {uri}: over {MAX_IMAGE_BYTES} bytes; not read")
            return None
        actual = hashlib.sha256(body).hexdigest()
        if actual != digest:
            self.skipped.append(
                f"image {uri}: its bytes do not match the record's WARC-Payload-Digest; not read"
            )
            return None
        try:
            image = Image.open(io.BytesIO(body))
            image.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            self.skipped.append(f"image {uri}: not decodable ({exc}); not read")
            return None
        if not worth_reading(*image.size):
            return None
        return Source("image", uri, actual, record_id), image

    def _listed(self, name: str) -> str:
        for artifact in self.manifest.artifacts:
            if artifact.path == name:
                return artifact.sha256
        raise SourceError(f"capture {self.row.id}: {name} is not listed in its manifest")

    def _checked_file(self, name: str) -> str:
        expected = self._listed(name)
        digest = hashlib.sha256()
        with self.store.open_sealed(self.row.id, name) as fh:
            while chunk := fh.read(CHUNK_SIZE):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise SourceError(
                f"capture {self.row.id}: {name} no longer has the SHA-256 its manifest lists;"
                " it will not be read"
            )
        return expected


class _HashingReader(io.RawIOBase):
    """A file read through while hashing every byte, so the WARC is checked in the same pass."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self._digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while chunk := self._raw.read(CHUNK_SIZE):
            self._digest.update(chunk)

    def sha256(self) -> str:
        return self._digest.hexdigest()


def _item_url(manifest: Manifest, sha256: str) -> str:
    for item in manifest.items:
        if item.get("sha256") == sha256 and item.get("url"):
            return str(item["url"])
    return f"urn:sha256:{sha256}"
