"""The object store over the catalog, its version book, on SQLite and on PostgreSQL
(``catalog_url``), against a real SeaweedFS.

A row the catalog refuses is the store's AlreadySealed. A capture interrupted and
retried under its id, in a bucket where nothing can be moved or deleted
(capture/recovery.py's path: quarantine, then ``create_capture_dir`` again): the first
attempt's objects stay uploaded, locked and recorded; quarantine seals a listing of them
and the retry writes under new keys; reads by ``(capture_id, name)`` are the retry's;
fsck lists the earlier objects as set aside, never as orphans, and still names what the
listing does not explain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.catalog import ObjectVersion, StateConflict, open_catalog
from archive.errors import Conflict
from archive.hashing import sha256_bytes, sha256_file
from archive.objectstore import ObjectMissing, ObjectStore, Problem, StoreLocation
from archive.store import AlreadySealed
from tests.seaweed import Seaweed

pytest_plugins = ["tests.seaweed"]

LISTING_1 = "team/captures/c1/set-aside/attempt-1.json"


@pytest.fixture
def location(seaweed: Seaweed) -> StoreLocation:
    return seaweed.location(seaweed.make_bucket(), prefix="team")


@pytest.fixture
def store(
    seaweed: Seaweed, location: StoreLocation, tmp_path: Path, catalog_url: str
) -> Iterator[ObjectStore]:
    with (
        open_catalog(catalog_url) as book,
        ObjectStore(tmp_path / "one", location, seaweed.credentials, book) as opened,
    ):
        yield opened


def _seal(store: ObjectStore, capture_id: str, name: str, data: bytes) -> ObjectVersion:
    with store.create(capture_id, name, "x") as out:
        out.write(data)
    return store.sealed_version(capture_id, name)


def _read(store: ObjectStore, capture_id: str, name: str) -> bytes:
    with store.open_sealed(capture_id, name) as fh:
        return fh.read()


# -- a row the catalog refuses ------------------------------------------------------------


def test_a_version_the_book_refuses_is_already_sealed(store: ObjectStore, seaweed: Seaweed) -> None:
    """Another machine recorded a version for the key between this store's create() and
    its seal(): the upload is made and verified, the catalog refuses its row (its own
    StateConflict), and the store says AlreadySealed, as for a key the bucket refuses.
    The recorded row stays; fsck names the new version; the file waits on scratch."""
    key = store.location.capture_key("c1", "a.bin")
    store.create_capture_dir("c1")
    writer = store.create("c1", "a.bin", "x")
    writer.write(b"this machine's bytes")
    store.versions.record_version(key, "v-elsewhere", sha256_bytes(b"other"), 5)
    kept = store.versions.object_version(key)
    with pytest.raises(AlreadySealed, match="version book refused it") as refused:
        writer.seal()
    assert isinstance(refused.value, Conflict)
    assert isinstance(refused.value.__cause__, StateConflict)
    assert writer.sealed is None and store.versions.object_version(key) == kept
    listed = seaweed.client().list_object_versions(Bucket=store.location.bucket, Prefix=key)
    [uploaded] = listed["Versions"]
    foreign = store.fsck().of(Problem.FOREIGN_VERSION)
    assert [(f.key, f.version_id) for f in foreign] == [(key, uploaded["VersionId"])]
    with pytest.raises(ObjectMissing):  # read by the recorded version, never the latest
        store.local_path("c1", "a.bin")
    moved = store.quarantine("c1")
    assert moved is not None and (moved / "a.bin").read_bytes() == b"this machine's bytes"


# -- a capture interrupted and retried -----------------------------------------------------


def _interrupted_then_retried(store: ObjectStore) -> tuple[list[ObjectVersion], Path]:
    """Attempt 1 seals two files and is cut while writing a third; quarantine; the same
    id again, and the retry seals its own. The first attempt's rows, and where its
    leftovers went."""
    store.create_capture_dir("c1")
    # .warc.bin: these bytes are no WARC, and the run checks every .warc.gz it wrote.
    first = [_seal(store, "c1", "c1.warc.bin", b"first warc"), _seal(store, "c1", "shot.png", b"p")]
    cut = store.create("c1", "manifest.json", "manifest")
    cut.write(b'{"half')
    cut.close()  # the server stopped here
    moved = store.quarantine("c1")
    assert moved is not None and moved.parent == store.quarantine_root
    assert store.attempt("c1") == 2
    assert store.quarantine("c1") is None and store.attempt("c1") == 2, "nothing more to set aside"
    store.create_capture_dir("c1")  # the retry, same id
    _seal(store, "c1", "c1.warc.bin", b"second warc")
    _seal(store, "c1", "manifest.json", b"{}")
    return first, moved


def test_a_retry_reads_back_its_own_files_and_overwrites_nothing(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    first, moved = _interrupted_then_retried(store)
    assert (moved / ".manifest.json.partial").read_bytes() == b'{"half'
    copy = moved / "set-aside-attempt-1.json"
    listing = json.loads(copy.read_text())
    assert (listing["capture_id"], listing["attempt"], listing["unrecorded"]) == ("c1", 1, [])
    assert listing["set_aside_at"].endswith("Z")
    assert [(o["key"], o["version_id"], o["sha256"], o["size"]) for o in listing["objects"]] == [
        (r.key, r.version_id, r.sha256, r.size) for r in first
    ]
    sealed_listing = store.versions.object_version(LISTING_1)
    assert sealed_listing is not None
    assert sha256_file(copy) == (sealed_listing.sha256, sealed_listing.size)

    assert [store.sealed_version("c1", n).key for n in ("c1.warc.bin", "manifest.json")] == [
        "team/captures/c1/attempt-2/c1.warc.bin",
        "team/captures/c1/attempt-2/manifest.json",
    ]
    assert _read(store, "c1", "c1.warc.bin") == b"second warc"
    assert store.local_path("c1", "manifest.json").read_bytes() == b"{}"
    assert sorted(p.name for p in store.capture_dir("c1").iterdir()) == [
        "c1.warc.bin",
        "manifest.json",
    ]
    with pytest.raises(FileNotFoundError):
        _read(store, "c1", "shot.png")  # the first attempt's, set aside
    with pytest.raises(AlreadySealed, match="attempt 2"):
        store.create_capture_dir("c1")
    # Each first-attempt version is still there, locked, its row the row it always was.
    s3 = seaweed.client()
    for row in first:
        assert store.versions.object_version(row.key) == row
        kept = s3.get_object(Bucket=store.location.bucket, Key=row.key, VersionId=row.version_id)
        assert hashlib.sha256(kept["Body"].read()).hexdigest() == row.sha256
        head = s3.head_object(Bucket=store.location.bucket, Key=row.key, VersionId=row.version_id)
        assert head["ObjectLockMode"] == "COMPLIANCE"


def test_fsck_lists_the_set_aside_attempt_without_calling_it_orphaned(
    store: ObjectStore,
) -> None:
    first, _moved = _interrupted_then_retried(store)
    second = [store.sealed_version("c1", n) for n in ("c1.warc.bin", "manifest.json")]
    catalog = [("c1", "c1.warc.bin", second[0].sha256), ("c1", "manifest.json", second[1].sha256)]
    report = store.fsck(catalog, deep=True)
    assert report.ok, report.findings
    assert report.of(Problem.UNRECORDED_OBJECT) == [] and report.objects_checked == 5
    assert [
        (a.key, a.version_id, a.capture_id, a.attempt, a.recorded) for a in report.set_aside
    ] == [(r.key, r.version_id, "c1", 1, True) for r in first]
    assert {a.listing for a in report.set_aside} == {LISTING_1}
    stale = store.fsck([("c1", "c1.warc.bin", first[0].sha256)])
    assert [f.key for f in stale.of(Problem.CATALOG_MISMATCH)] == [second[0].key]
    held = store.set_legal_hold(["c1"], on=True)  # a case's hold covers every attempt
    assert {h.key for h in held} == {r.key for r in first + second} | {LISTING_1}


def test_an_upload_whose_row_was_lost_is_set_aside_with_its_attempt(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    """The machine died between the bucket's answer and the catalog's row: the retry is not
    refused, and fsck explains that object by the listing instead of calling it lost."""
    store.create_capture_dir("c1")
    shot = _seal(store, "c1", "shot.png", b"png")
    lost = seaweed.client().put_object(
        Bucket=store.location.bucket, Key="team/captures/c1/c1.warc.bin", Body=b"never recorded"
    )
    assert [f.key for f in store.fsck().of(Problem.UNRECORDED_OBJECT)] == [
        "team/captures/c1/c1.warc.bin"
    ]
    moved = store.quarantine("c1")
    assert moved is not None
    listing = json.loads((moved / "set-aside-attempt-1.json").read_text())
    assert listing["unrecorded"] == [
        {"key": "team/captures/c1/c1.warc.bin", "version_id": lost["VersionId"], "size": 14}
    ]
    store.create_capture_dir("c1")
    _seal(store, "c1", "c1.warc.bin", b"the retry's warc")
    assert _read(store, "c1", "c1.warc.bin") == b"the retry's warc"
    report = store.fsck()
    assert report.ok, report.findings
    assert sorted((a.key, a.version_id, a.recorded) for a in report.set_aside) == [
        ("team/captures/c1/c1.warc.bin", lost["VersionId"], False),
        (shot.key, shot.version_id, True),
    ]


def test_a_file_sealed_into_an_attempt_after_it_was_set_aside_is_a_finding(
    store: ObjectStore, seaweed: Seaweed, location: StoreLocation, tmp_path: Path
) -> None:
    """A worker on another machine that has not noticed its capture was taken from it
    seals one more file into the first attempt: it is kept and recorded, never read as
    the capture's, and fsck names it, because the listing does not explain it."""
    store.create_capture_dir("c1")
    kept = _seal(store, "c1", "a.bin", b"a")
    with ObjectStore(tmp_path / "two", location, seaweed.credentials, store.versions) as stale:
        late = stale.create("c1", "late.bin", "x")
        late.write(b"late bytes")
        assert store.quarantine("c1") is not None
        late.seal()
    assert store.versions.object_version("team/captures/c1/late.bin") is not None
    with pytest.raises(FileNotFoundError):
        _read(store, "c1", "late.bin")
    report = store.fsck()
    assert not report.ok
    assert [f.key for f in report.findings] == ["team/captures/c1/late.bin"]
    assert report.of(Problem.SEALED_AFTER_SET_ASIDE)[0].detail.endswith(
        f"which {LISTING_1} set aside without it"
    )
    assert [a.key for a in report.set_aside] == [kept.key]
