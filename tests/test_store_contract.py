"""The SealedStore contract, run on both stores: a local directory and an S3 bucket.

Whatever the store, a file is hashed as written, readable only once sealed, never
overwritten, an unsealed file is set aside, not presented as evidence, and a capture
set aside is retried under its id with only the retry's files read as its own. The
object store runs against a real SeaweedFS (``tests.seaweed``), a new Object-Locked
bucket per test, with a real catalog as its version book: a SQLite file, and a
PostgreSQL database (``tests.postgres``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive import records
from archive.catalog import open_catalog
from archive.hashing import sha256_bytes, sha256_file
from archive.objectstore import ObjectStore
from archive.sealed_store import SealedStore
from archive.store import AlreadySealed, FileStore, StoreError
from archive.warcfile import WarcFile
from tests.seaweed import Seaweed

pytest_plugins = ["tests.seaweed"]

WARC = os.urandom(300_000)  # not named .warc.gz: the run checks every WARC it wrote


@pytest.fixture(params=["file", "object-sqlite", "object-postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SealedStore]:
    if request.param == "file":
        yield FileStore(tmp_path)
        return
    if request.param == "object-sqlite":
        catalog_url = f"sqlite://{tmp_path / 'catalog.sqlite3'}"
    else:
        catalog_url = request.getfixturevalue("postgres_url")
    seaweed: Seaweed = request.getfixturevalue("seaweed")
    location = seaweed.location(seaweed.make_bucket(), prefix="unit")
    with (
        open_catalog(catalog_url) as book,
        ObjectStore(tmp_path, location, seaweed.credentials, book) as opened,
    ):
        yield opened


def _seal(store: SealedStore, capture_id: str, name: str, data: bytes) -> None:
    with store.create(capture_id, name, "warc") as out:
        for start in range(0, len(data), 65536):
            out.write(data[start : start + 65536])


def _read(store: SealedStore, capture_id: str, name: str) -> bytes:
    with store.open_sealed(capture_id, name) as fh:
        return fh.read()


def test_both_stores_are_sealed_stores(store: SealedStore) -> None:
    assert isinstance(store, SealedStore)


def test_a_sealed_file_reads_back_with_the_hash_it_was_sealed_with(store: SealedStore) -> None:
    store.create_capture_dir("c1")
    writer = store.create("c1", "c1.warc.bin", "warc")
    writer.write(WARC[:1000])
    writer.flush()
    assert writer.tell() == 1000
    writer.write(WARC[1000:])
    artifact = writer.seal()
    assert writer.seal() is artifact and writer.sealed is artifact
    assert (artifact.path, artifact.kind, artifact.size) == ("c1.warc.bin", "warc", len(WARC))
    assert artifact.sha256 == sha256_bytes(WARC)
    assert _read(store, "c1", "c1.warc.bin") == WARC
    assert sha256_file(store.local_path("c1", "c1.warc.bin")) == (artifact.sha256, len(WARC))
    assert (store.capture_dir("c1") / "c1.warc.bin").read_bytes() == WARC


def test_a_capture_id_is_never_used_twice(store: SealedStore) -> None:
    store.create_capture_dir("c1")
    _seal(store, "c1", "a.bin", b"evidence")
    with pytest.raises(AlreadySealed):
        store.create_capture_dir("c1")


def test_a_sealed_file_is_never_overwritten(store: SealedStore, tmp_path: Path) -> None:
    store.create_capture_dir("c1")
    _seal(store, "c1", "a.bin", b"evidence")
    with pytest.raises(AlreadySealed):
        store.create("c1", "a.bin", "x")
    other = store.work_dir("c1") / "other.bin"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another")
    with pytest.raises(AlreadySealed):
        store.adopt("c1", "a.bin", "media", other)
    assert other.read_bytes() == b"another", "a refused file is left where it was"
    assert _read(store, "c1", "a.bin") == b"evidence"


def test_names_that_are_not_plain_are_refused(store: SealedStore) -> None:
    store.create_capture_dir("c1")
    with pytest.raises(StoreError):
        store.create("c1", "../escape", "x")
    with pytest.raises(StoreError):
        store.open_sealed("c1", ".a.bin.partial")


def test_an_unsealed_file_is_never_readable_and_is_set_aside(store: SealedStore) -> None:
    store.create_capture_dir("c2")
    _seal(store, "c2", "screenshot.png", b"png bytes")
    with pytest.raises(RuntimeError), store.create("c2", "c2.warc.bin", "warc") as out:
        out.write(b"half a WARC")
        raise RuntimeError("the browser went away")
    assert out.sealed is None
    with pytest.raises(FileNotFoundError):
        _read(store, "c2", "c2.warc.bin")
    moved = store.quarantine("c2")
    assert moved is not None and moved.parent == store.quarantine_root
    assert (moved / ".c2.warc.bin.partial").read_bytes() == b"half a WARC"
    with pytest.raises(FileNotFoundError):
        _read(store, "c2", "c2.warc.bin")
    assert store.quarantine("c2") is None


def test_a_capture_set_aside_is_retried_under_its_id(store: SealedStore) -> None:
    """capture/recovery.py's path: files sealed, a crash, quarantine, the same id again.
    The first attempt's files are no longer the capture's (on disk they moved with the
    quarantine; in a bucket they stay, locked, listed as set aside); the retry's are."""
    store.create_capture_dir("c6")
    _seal(store, "c6", "a.bin", b"first attempt")
    _seal(store, "c6", "b.bin", b"first attempt's b")
    with pytest.raises(RuntimeError), store.create("c6", "c6.warc.bin", "warc") as out:
        out.write(b"half a WARC")
        raise RuntimeError("the server stopped")
    moved = store.quarantine("c6")
    assert moved is not None and moved.parent == store.quarantine_root
    assert (moved / ".c6.warc.bin.partial").read_bytes() == b"half a WARC"
    for name in ("a.bin", "b.bin"):
        with pytest.raises(FileNotFoundError):
            _read(store, "c6", name)
    store.create_capture_dir("c6")
    _seal(store, "c6", "a.bin", b"second attempt")
    _seal(store, "c6", "c6.warc.bin", WARC)
    assert _read(store, "c6", "a.bin") == b"second attempt"
    assert _read(store, "c6", "c6.warc.bin") == WARC
    assert store.local_path("c6", "a.bin").read_bytes() == b"second attempt"
    with pytest.raises(FileNotFoundError):
        _read(store, "c6", "b.bin")
    files = sorted(p.name for p in store.capture_dir("c6").iterdir() if p.is_file())
    assert files == ["a.bin", "c6.warc.bin"]
    with pytest.raises(AlreadySealed):
        store.create_capture_dir("c6")


def test_a_finished_download_is_adopted_and_hashed(store: SealedStore) -> None:
    store.create_capture_dir("c3")
    download = store.work_dir("c3") / "media-1" / "media.mp4"
    download.parent.mkdir(parents=True)
    download.write_bytes(b"video bytes" * 10000)
    artifact = store.adopt("c3", "media-1.mp4", "media", download)
    assert artifact.sha256 == sha256_bytes(b"video bytes" * 10000) and artifact.size == 110000
    assert not download.exists(), "the scratch copy is taken, not left behind"
    assert _read(store, "c3", "media-1.mp4") == b"video bytes" * 10000
    assert store.local_path("c3", "media-1.mp4").read_bytes() == b"video bytes" * 10000


def test_a_file_of_no_capture_is_sealed_once(store: SealedStore) -> None:
    with store.create_file("anchors", "0001.tsr", "timestamp-token") as token:
        token.write(b"token bytes")
    assert token.sealed is not None and token.sealed.sha256 == sha256_bytes(b"token bytes")
    with pytest.raises(AlreadySealed):
        store.create_file("anchors", "0001.tsr", "timestamp-token")


def test_scratch_is_local_and_cleared(store: SealedStore) -> None:
    spool = store.make_spool_dir("c4")
    (spool / "body").write_bytes(b"spooled")
    assert spool.is_relative_to(store.work_dir("c4"))
    assert store.make_spool_dir("c4") == spool and not any(spool.iterdir())
    store.clear_work("c4")
    assert not store.work_dir("c4").exists()
    assert store.keep_reserve() and store.release_reserve() and not store.release_reserve()


def test_a_warc_written_through_the_store_is_read_back_record_by_record(
    store: SealedStore,
) -> None:
    """The WARC writer writes to the store's writer, warcio reads the sealed stream: the
    pipeline's own path, with the stream's hash checked at its end."""
    store.create_capture_dir("c5")
    sink = store.create("c5", "c5.warc.gz", "warc")
    warc = WarcFile(sink)
    warc.write(records.warcinfo_record("c5.warc.gz", [("software", "test")]))
    for n in range(3):
        warc.write(
            records.response_record(
                f"https://example.org/{n}",
                status=200,
                reason="OK",
                headers=[("Content-Type", "text/plain")],
                body=records.Payload(f"body {n}".encode() * 5000),
                record_id=records.new_record_id(),
                date=None,
                version="HTTP/1.1",
            )
        )
    artifact = sink.seal()
    with store.open_sealed("c5", "c5.warc.gz") as fh:
        found = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                len(r.content_stream().read()),
            )
            for r in ArchiveIterator(fh)
        ]
    assert found == [("warcinfo", None, found[0][2])] + [
        ("response", f"https://example.org/{n}", len(f"body {n}") * 5000) for n in range(3)
    ]
    assert sha256_file(store.local_path("c5", "c5.warc.gz"))[0] == artifact.sha256


SCREENSHOT = os.urandom(20_000)


def test_a_staged_file_is_fetched_with_the_hash_taken_at_staging_then_discarded(
    store: SealedStore,
) -> None:
    staged = store.incoming.stage("c6", "as-seen-view.png", SCREENSHOT)
    assert (staged.sha256, staged.size) == (sha256_bytes(SCREENSHOT), len(SCREENSHOT))
    path = store.incoming.fetch("c6", "as-seen-view.png", staged.sha256, staged.size)
    assert path.read_bytes() == SCREENSHOT
    assert path.parent == store.quarantine_root.parent / "incoming" / "c6"
    # Staged is not sealed: no capture file, nothing for a reader of evidence.
    with pytest.raises(FileNotFoundError):
        _read(store, "c6", "as-seen-view.png")
    store.incoming.discard("c6")
    assert not path.exists() and not path.parent.exists()
    store.incoming.discard("c6")  # again: nothing left, nothing raised


def test_staged_files_of_a_capture_that_never_seals_are_set_aside_locally(
    store: SealedStore,
) -> None:
    store.incoming.stage("c7", "as-seen-dom.html", b"<p>AS-SEEN</p>")
    moved = store.incoming.set_aside("c7")
    assert moved is not None and moved.parent == store.quarantine_root
    assert moved.name.startswith("c7-as-seen-")
    assert (moved / "as-seen-dom.html").read_bytes() == b"<p>AS-SEEN</p>"
    assert store.incoming.set_aside("c7") is None  # nothing is left to set aside


def test_staged_names_that_are_not_plain_are_refused(store: SealedStore) -> None:
    for capture_id, name in (("c8", "../x"), ("c8", ".hidden"), ("../c8", "x"), ("c8", "")):
        with pytest.raises(StoreError):
            store.incoming.stage(capture_id, name, b"x")
