"""What a sealed capture showed, read back from its sealed files.

Comparing two runs of a watched target (:mod:`archive.watch.compare`) and indexing a
capture's text need the same few facts: the HTTP status, where the browser ended
up, the title, the visible text, the full-page screenshot and the hashes of the
images and media. They are all in the sealed files, so that is where they are read
from, never from the catalog's copy or a browser's memory: a comparison then says
what the evidence says.

Every file is opened through the archive's store and checked on the way:

- ``manifest.json``: its SHA-256 must equal the one the catalog recorded when the
  capture was sealed (when the data directory has a catalog);
- the screenshot: its SHA-256 must equal the manifest's;
- the WARC: read as a stream with warcio, stopping as soon as the derived text
  and page-info records have passed (they come before the media, which can be
  gigabytes); the text record's payload must match its ``WARC-Payload-Digest``.

The whole WARC is not re-hashed here (that is ``osint-capture verify``'s job on an
export); a snapshot only promises that what it read is what was sealed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive.catalog import CATALOG_NAME, Catalog, CatalogError
from archive.errors import Failed, Tampered
from archive.hashing import CHUNK_SIZE
from archive.manifest import MANIFEST_NAME, Manifest
from archive.sealed_store import SealedStore
from archive.store import Artifact, FileStore, StoreError

#: Statuses of a capture with sealed files to read.
SEALED_STATUSES = ("complete", "partial")
#: Derived records (:mod:`capture.derived` names them so): the visible text and the
#: page info with the redirect chain. Reading stops once both have been seen.
TEXT_PREFIX = "urn:text:"
PAGEINFO_PREFIX = "urn:pageinfo:"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class SnapshotError(Failed):
    """A capture cannot be read back: the message names the capture and the file."""


class SnapshotTampered(SnapshotError, Tampered):
    """A file of the capture no longer has the hash it was sealed with."""


@dataclass(frozen=True)
class Hop:
    """One step of the top-level navigation: a URL and the status it answered."""

    url: str
    status: int | None


@dataclass(frozen=True)
class Snapshot:
    """The facts of one sealed capture that a comparison looks at."""

    capture_id: str
    status: str  # complete | partial
    url: str  # what was asked for
    final_url: str | None  # where the browser ended up
    http_status: int | None
    title: str | None
    text: str  # visible text from the WARC's urn:text: record ("" if none)
    screenshot: Path | None  # the sealed full-page screenshot, if any
    media: dict[str, str]  # sha256 -> url of every manifest item of kind "media"
    images: dict[str, str]  # sha256 -> url of every manifest item of kind "image"
    #: The top-level navigation hop by hop (from the page info record): a redirect
    #: to a login page shows here as ``200 <- 302``. Empty when there was no record.
    redirect_chain: tuple[Hop, ...] = ()
    captured_at: str | None = None  # when the capture started (manifest)

    @classmethod
    def load(
        cls,
        data_dir: Path,
        capture_id: str,
        *,
        catalog: Catalog | None = None,
        store: SealedStore | None = None,
    ) -> Snapshot:
        """Read capture ``capture_id`` of the data directory ``data_dir``.

        ``catalog`` is the data directory's catalog when the caller has it open;
        otherwise it is opened here, if the data directory has one, to check the
        manifest's hash. ``store`` is the archive's store (an S3 bucket in team mode);
        without one the capture is read from the data directory's files. Raises
        :class:`SnapshotError` naming the capture and the file when anything is
        missing, unreadable or not what was sealed.
        """
        if not _SAFE_ID.fullmatch(capture_id or ""):
            raise SnapshotError(f"capture id {capture_id!r} cannot name a capture directory")
        store = store if store is not None else FileStore(Path(data_dir))
        manifest_bytes = _read_small(store, capture_id, MANIFEST_NAME)
        _check_against_catalog(Path(data_dir), capture_id, manifest_bytes, catalog)
        manifest = _parse_manifest(capture_id, manifest_bytes)
        if manifest.status not in SEALED_STATUSES:
            raise SnapshotError(
                f"capture {capture_id} is {manifest.status}: it sealed no page to compare"
            )
        if not manifest.warc:
            raise SnapshotError(f"capture {capture_id}: {MANIFEST_NAME} names no WARC file")
        _require_artifact(capture_id, manifest, manifest.warc)
        text, hops = _read_warc(store, capture_id, manifest.warc)
        return cls(
            capture_id=capture_id,
            status=manifest.status,
            url=manifest.url,
            final_url=manifest.final_url,
            http_status=manifest.http_status,
            title=manifest.title,
            text=text,
            screenshot=_checked_screenshot(store, capture_id, manifest),
            media=_items(manifest, "media"),
            images=_items(manifest, "image"),
            redirect_chain=hops,
            captured_at=manifest.started_at,
        )


def _read_small(store: SealedStore, capture_id: str, name: str) -> bytes:
    """A small sealed file (the manifest) whole, or an error naming it."""
    try:
        with store.open_sealed(capture_id, name) as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise SnapshotError(
            f"capture {capture_id}: {name} is missing from {store.capture_dir(capture_id)};"
            " the capture is unknown here or was never sealed"
        ) from exc
    except (OSError, StoreError) as exc:
        raise SnapshotError(f"capture {capture_id}: cannot read {name}: {exc}") from exc


def _check_against_catalog(
    data_dir: Path, capture_id: str, manifest_bytes: bytes, catalog: Catalog | None
) -> None:
    """The manifest must be the one whose hash the catalog recorded at sealing."""
    if catalog is None:
        path = data_dir / CATALOG_NAME
        if not path.is_file():
            return  # captures copied without their catalog: only the files vouch for them
        try:
            with Catalog.open(path) as opened:
                _check_against_catalog(data_dir, capture_id, manifest_bytes, opened)
        except CatalogError as exc:
            raise SnapshotError(f"capture {capture_id}: cannot read the catalog: {exc}") from exc
        return
    row = catalog.get_capture(capture_id)
    if row is None:
        raise SnapshotError(
            f"capture {capture_id}: the catalog {catalog.path} has no such capture,"
            f" so its {MANIFEST_NAME} cannot be checked; is this the right data directory?"
        )
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if row.manifest_sha256 and row.manifest_sha256 != actual:
        raise SnapshotTampered(
            f"capture {capture_id}: {MANIFEST_NAME} has SHA-256 {actual}, but the catalog"
            f" recorded {row.manifest_sha256} when it was sealed; the file changed since"
            " and must not be used as this capture"
        )


def _parse_manifest(capture_id: str, data: bytes) -> Manifest:
    try:
        return Manifest.from_dict(json.loads(data))
    except (ValueError, TypeError) as exc:
        raise SnapshotError(
            f"capture {capture_id}: {MANIFEST_NAME} is not readable: {exc}"
        ) from exc


def _require_artifact(capture_id: str, manifest: Manifest, name: str) -> Artifact:
    found = next((a for a in manifest.artifacts if a.path == name), None)
    if found is None:
        raise SnapshotError(
            f"capture {capture_id}: {MANIFEST_NAME} does not list {name} among its sealed files"
        )
    return found


def _read_warc(store: SealedStore, capture_id: str, name: str) -> tuple[str, tuple[Hop, ...]]:
    """The visible text and the redirect chain, read up to the derived records only."""
    text: str | None = None
    hops: tuple[Hop, ...] = ()
    seen_pageinfo = False
    try:
        with store.open_sealed(capture_id, name) as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "resource":
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if text is None and uri.startswith(TEXT_PREFIX):
                    text = _text_payload(capture_id, name, record)
                elif not seen_pageinfo and uri.startswith(PAGEINFO_PREFIX):
                    hops = _redirect_chain(record.content_stream().read())
                    seen_pageinfo = True
                if text is not None and seen_pageinfo:
                    break
    except FileNotFoundError as exc:
        raise SnapshotError(
            f"capture {capture_id}: its WARC {name} is missing from {store.capture_dir(capture_id)}"
        ) from exc
    except SnapshotError:
        raise
    except Exception as exc:  # warcio raises plain exceptions on a damaged file
        raise SnapshotError(f"capture {capture_id}: cannot read its WARC {name}: {exc}") from exc
    return text or "", hops


def _text_payload(capture_id: str, name: str, record: Any) -> str:
    """The text record's payload, checked against the digest written with it."""
    payload = record.content_stream().read()
    declared = record.rec_headers.get_header("WARC-Payload-Digest") or ""
    if declared.startswith("sha256:"):
        actual = hashlib.sha256(payload).hexdigest()
        if declared.removeprefix("sha256:") != actual:
            raise SnapshotTampered(
                f"capture {capture_id}: the visible-text record in {name} does not match"
                f" its WARC-Payload-Digest ({declared}, read sha256:{actual})"
            )
    return payload.decode("utf-8", errors="replace")


def _redirect_chain(data: bytes) -> tuple[Hop, ...]:
    """Hops from the page info JSON; an unreadable record gives none (it is a hint only)."""
    try:
        chain = json.loads(data).get("redirect_chain") or []
        return tuple(
            Hop(str(hop["url"]), hop.get("status") if isinstance(hop.get("status"), int) else None)
            for hop in chain
            if isinstance(hop, dict) and hop.get("url")
        )
    except (ValueError, AttributeError):
        return ()


def _checked_screenshot(store: SealedStore, capture_id: str, manifest: Manifest) -> Path | None:
    """The sealed full-page screenshot, once its bytes are shown to be the sealed ones."""
    artifact = next((a for a in manifest.artifacts if a.kind == "screenshot"), None)
    if artifact is None:
        return None
    digest = hashlib.sha256()
    try:
        with store.open_sealed(capture_id, artifact.path) as fh:
            while chunk := fh.read(CHUNK_SIZE):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise SnapshotError(
            f"capture {capture_id}: its screenshot {artifact.path} is listed in"
            f" {MANIFEST_NAME} but missing from {store.capture_dir(capture_id)}"
        ) from exc
    except (OSError, StoreError) as exc:
        raise SnapshotError(
            f"capture {capture_id}: cannot read its screenshot {artifact.path}: {exc}"
        ) from exc
    if digest.hexdigest() != artifact.sha256:
        raise SnapshotTampered(
            f"capture {capture_id}: {artifact.path} has SHA-256 {digest.hexdigest()}, but"
            f" {MANIFEST_NAME} sealed it as {artifact.sha256}; the file changed since"
        )
    return store.local_path(capture_id, artifact.path)


def _items(manifest: Manifest, kind: str) -> dict[str, str]:
    return {
        str(item["sha256"]): str(item.get("url") or "")
        for item in manifest.items
        if item.get("kind") == kind and item.get("sha256")
    }
