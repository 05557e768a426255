"""A capture as a plain WACZ for replay in the dashboard: a view, never evidence.

ReplayWeb.page reads WACZ files with HTTP range requests. The dashboard hands it
one capture at a time, packaged here from the capture's sealed WARC: the WARC
copied byte for byte (stored, not deflated, so ranges into it work), a CDXJ index,
a page list and a ``datapackage.json``. Nothing is signed and no custody event is
written: this is what the investigator looks at, not what leaves the machine (that
is :mod:`archive.wacz.export`).

The package is kept under ``DATA/replay/<capture-id>.wacz``, outside
``DATA/captures/``, so the evidence folder only ever holds sealed files. It is
written under a temporary name and renamed, so a half-built file is never served,
and rebuilt whenever it is missing. While copying, the WARC's SHA-256 is compared
with the one the catalog recorded at sealing: a WARC that changed since is not
replayed as if it were the capture.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from archive.datadir import Archive
from archive.errors import Failed, NotFound, Tampered
from archive.hashing import CHUNK_SIZE
from archive.timeutil import now_rfc3339
from archive.wacz.indexing import write_index
from archive.wacz.layout import (
    ARCHIVE_DIR,
    DATAPACKAGE,
    INDEX_PATH,
    PAGES_HEADER,
    PAGES_PATH,
    SOFTWARE,
    WACZ_VERSION,
)

#: Captures with a sealed WARC; failed ones have nothing to replay.
REPLAYABLE_STATUSES = ("complete", "partial")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ReplayError(Failed):
    """The capture cannot be replayed (unknown, unsealed, or its WARC changed)."""


class NoReplay(ReplayError, NotFound):
    """There is nothing to replay under that id: unknown, unsealed, or no sealed WARC."""


class ReplayTampered(ReplayError, Tampered):
    """The capture's WARC no longer has the hash it was sealed with: never replayed."""


def replay_path(archive: Archive, capture_id: str) -> Path:
    """Where the replay package of ``capture_id`` is kept."""
    if not _SAFE_ID.fullmatch(capture_id):
        raise NoReplay(f"capture id {capture_id!r} cannot name a file")
    return archive.replay_dir / f"{capture_id}.wacz"


def ensure_replay_wacz(archive: Archive, capture_id: str) -> Path:
    """The replay package of a sealed capture, built first if it is not there yet.

    Blocking (reads the whole WARC once): run it in a thread from async code.
    """
    out = replay_path(archive, capture_id)
    catalog, store = archive.catalog, archive.store
    row = catalog.get_capture(capture_id)
    if row is None:
        raise NoReplay(f"no capture {capture_id}")
    if row.deleted_at is not None:  # asked first: a view left behind is never served
        raise NoReplay(
            f"capture {capture_id} was deleted at {row.deleted_at} by {row.deleted_by}:"
            " nothing of it is left to replay"
        )
    if out.is_file():
        return out
    if row.status not in REPLAYABLE_STATUSES or not row.warc:
        raise NoReplay(f"capture {capture_id} is {row.status}: it has no sealed WARC to replay")
    warc = next((a for a in catalog.artifacts(capture_id) if a.path == row.warc), None)
    if warc is None:
        raise NoReplay(f"capture {capture_id}: the catalog lists no sealed file {row.warc}")
    source = store.local_path(capture_id, warc.path)  # the indexer reads by path
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    try:
        with tempfile.TemporaryDirectory(prefix="osint-capture-replay-") as work:
            index = Path(work) / "index.cdxj"
            write_index([source], index)  # as the export builds it
            page = {
                "id": capture_id,
                "url": row.final_url or row.url,
                "ts": _whole_seconds(row.started_at or row.created_at),
                "title": row.url,
            }
            pages = json.dumps(PAGES_HEADER) + "\n" + json.dumps(page, ensure_ascii=False) + "\n"
            with zipfile.ZipFile(partial, "x", allowZip64=True) as package:
                warc_path = f"{ARCHIVE_DIR}/{warc.path}"
                with store.open_sealed(capture_id, warc.path) as sealed:
                    digest = _copy_warc(package, sealed, warc_path, warc.size)
                if digest != warc.sha256:
                    raise ReplayTampered(
                        f"capture {capture_id}: {warc.path} has SHA-256 {digest}, not the"
                        f" {warc.sha256} recorded when it was sealed; it will not be replayed"
                    )
                listed = [(warc_path, digest, warc.size)]
                for name, data in (
                    (INDEX_PATH, index.read_bytes()),
                    (PAGES_PATH, pages.encode("utf-8")),
                ):
                    package.writestr(name, data, zipfile.ZIP_DEFLATED)
                    listed.append((name, hashlib.sha256(data).hexdigest(), len(data)))
                package.writestr(
                    DATAPACKAGE, _datapackage(capture_id, listed), zipfile.ZIP_DEFLATED
                )
        os.replace(partial, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return out


def _copy_warc(package: zipfile.ZipFile, source: BinaryIO, name: str, size: int) -> str:
    """Copy the WARC into the package (stored, so ranges reach into it); its SHA-256.

    The size is given up front so that zipfile writes ZIP64 headers only for a
    WARC that needs them: ReplayWeb.page's reader misplaces an entry whose local
    header carries a ZIP64 field it does not need.
    """
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    with package.open(info, "w") as dst:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _datapackage(capture_id: str, listed: list[tuple[str, str, int]]) -> str:
    """What replay tools read first: the package's files, found through ``resources``."""
    resources = [
        {"name": path.rsplit("/", 1)[-1], "path": path, "hash": f"sha256:{sha}", "bytes": size}
        for path, sha, size in listed
    ]
    return json.dumps(
        {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": f"replay of capture {capture_id} (a view; not an export)",
            "created": now_rfc3339(),
            "software": SOFTWARE,
            "resources": resources,
        },
        indent=2,
    )


def _whole_seconds(rfc3339: str) -> str:
    return rfc3339.split(".")[0].rstrip("Z") + "Z"
