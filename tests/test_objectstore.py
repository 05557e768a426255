"""The object store's own promises, against a real SeaweedFS (``tests.seaweed``) with a
real catalog as its version book (a SQLite file; PostgreSQL too where ``catalog_url``).

Object Lock as the bucket enforces it (no delete, even with bypass; no overwrite of a
sealed version; legal hold), reads by the recorded version id, tampering detected,
fsck's findings, the filer port's refusal with the documented JWT keys, the bucket's
configuration and the private event loop's rules. The store over a catalog of either
database (a refused row, a capture interrupted and retried under its id) is in
test_objectstore_catalog.py, a large file's memory in test_objectstore_large.py, the URL
and credentials in test_objectstore_config.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from archive.catalog import Catalog, ObjectVersion
from archive.hashing import sha256_bytes
from archive.objectstore import (
    BucketNotLocked,
    ObjectMissing,
    ObjectStore,
    ObjectTampered,
    Problem,
    RetentionMode,
    StoreClosed,
    StoreUnreachable,
    WrongThread,
    load_credentials,
    parse_location,
)
from archive.store import AlreadySealed
from tests.seaweed import Seaweed

pytest_plugins = ["tests.seaweed"]


def _catalog(data: Path) -> Catalog:
    """The data directory's own SQLite catalog: the store's version book."""
    return Catalog.open(data / "catalog.sqlite3")


@contextmanager
def _open(
    seaweed: Seaweed, data: Path, bucket: str | None = None, **kw: str
) -> Iterator[ObjectStore]:
    location = seaweed.location(bucket or seaweed.make_bucket(), prefix="team", **kw)
    with _catalog(data) as book, ObjectStore(data, location, seaweed.credentials, book) as store:
        yield store


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Catalog]:
    with _catalog(tmp_path) as opened:
        yield opened


@pytest.fixture
def store(seaweed: Seaweed, tmp_path: Path) -> Iterator[ObjectStore]:
    with _open(seaweed, tmp_path) as opened:
        yield opened


def _seal(store: ObjectStore, capture_id: str, name: str, data: bytes) -> ObjectVersion:
    with store.create(capture_id, name, "x") as out:
        out.write(data)
    recorded = store.versions.object_version(store.location.capture_key(capture_id, name))
    assert recorded is not None and store.sealed_version(capture_id, name) == recorded
    return recorded


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- what an upload leaves in the bucket ------------------------------------------------


def test_an_upload_is_locked_and_carries_its_sha256(store: ObjectStore, seaweed: Seaweed) -> None:
    store.create_capture_dir("c1")
    before = datetime.now(UTC)
    recorded = _seal(store, "c1", "page.html", b"<html>evidence</html>")
    head = seaweed.client().head_object(
        Bucket=store.location.bucket,
        Key=recorded.key,
        VersionId=recorded.version_id,
        ChecksumMode="ENABLED",
    )
    digest = hashlib.sha256(b"<html>evidence</html>").digest()
    assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()
    assert recorded.key == "team/captures/c1/page.html" and recorded.sha256 == digest.hex()
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=1) - timedelta(seconds=2) <= until
    assert until <= datetime.now(UTC) + timedelta(days=1, seconds=2)


def test_a_locked_object_cannot_be_deleted_even_with_bypass(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    store.create_capture_dir("c1")
    recorded = _seal(store, "c1", "a.bin", b"evidence")
    s3 = seaweed.client()
    for bypass in (False, True):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(
                Bucket=store.location.bucket,
                Key=recorded.key,
                VersionId=recorded.version_id,
                BypassGovernanceRetention=bypass,
            )
        assert _code(refused) == "AccessDenied"
    with store.open_sealed("c1", "a.bin") as fh:
        assert fh.read() == b"evidence"


def test_a_sealed_version_is_never_replaced_and_reads_ignore_newer_ones(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    """Someone with write access puts other bytes at the key: S3 keeps both versions, the
    store goes on reading the sealed one, and fsck names the stranger."""
    store.create_capture_dir("c1")
    recorded = _seal(store, "c1", "a.bin", b"the sealed bytes")
    s3 = seaweed.client()
    put = s3.put_object(Bucket=store.location.bucket, Key=recorded.key, Body=b"forged")
    assert put["VersionId"] != recorded.version_id
    old = s3.get_object(
        Bucket=store.location.bucket, Key=recorded.key, VersionId=recorded.version_id
    )
    assert old["Body"].read() == b"the sealed bytes"
    with store.open_sealed("c1", "a.bin") as fh:
        assert fh.read() == b"the sealed bytes"
    assert store.local_path("c1", "a.bin").read_bytes() == b"the sealed bytes"
    foreign = store.fsck().of(Problem.FOREIGN_VERSION)
    assert [(f.key, f.version_id) for f in foreign] == [(recorded.key, put["VersionId"])]


def test_the_store_itself_refuses_to_put_over_an_existing_key(
    seaweed: Seaweed, tmp_path: Path
) -> None:
    """A second machine whose book does not know the key still cannot overwrite it."""
    bucket = seaweed.make_bucket()
    with _open(seaweed, tmp_path / "one", bucket) as one:
        one.create_capture_dir("c1")
        _seal(one, "c1", "a.bin", b"first")
    with _open(seaweed, tmp_path / "two", bucket) as two:
        with pytest.raises(AlreadySealed):
            two.create_capture_dir("c1")
        writer = two.create("c1", "a.bin", "x")
        writer.write(b"second")
        with pytest.raises(AlreadySealed, match="already exists in the bucket"):
            writer.seal()
        assert writer.sealed is None
        assert two.quarantine("c1") is not None, "the refused file is kept, set aside"


def test_a_tampered_record_or_object_is_detected_on_read(
    store: ObjectStore, seaweed: Seaweed, tmp_path: Path
) -> None:
    """The book pointed at a version put by someone else (bytes that differ from the
    sealed hash): the read fails at its end, and no local copy is kept."""
    store.create_capture_dir("c1")
    recorded = _seal(store, "c1", "a.bin", b"sealed" * 1000)
    forged = seaweed.client().put_object(
        Bucket=store.location.bucket, Key=recorded.key, Body=b"forged" * 1000
    )
    other_data = tmp_path / "other"
    with _catalog(other_data) as book:
        book.record_version(recorded.key, forged["VersionId"], recorded.sha256, recorded.size)
        with ObjectStore(other_data, store.location, seaweed.credentials, book) as other:
            with pytest.raises(ObjectTampered), other.open_sealed("c1", "a.bin") as fh:
                fh.read()
            with pytest.raises(ObjectTampered):
                other.local_path("c1", "a.bin")
    assert not list(other_data.rglob("a.bin*"))


def test_a_changed_cached_copy_is_fetched_again(store: ObjectStore) -> None:
    store.create_capture_dir("c1")
    _seal(store, "c1", "a.bin", b"sealed bytes")
    path = store.local_path("c1", "a.bin")
    path.chmod(0o644)
    path.write_bytes(b"edited bytes")
    assert store.local_path("c1", "a.bin").read_bytes() == b"sealed bytes"


def test_nothing_unsealed_or_unrecorded_is_read(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing):
        store.open_sealed("nope", "a.bin")
    with pytest.raises(FileNotFoundError):
        store.local_path("nope", "a.bin")


# -- legal hold -----------------------------------------------------------------------------


def test_legal_hold_blocks_deletes_until_released(seaweed: Seaweed, tmp_path: Path) -> None:
    """GOVERNANCE retention can be lifted by bypass; a legal hold cannot."""
    with _open(seaweed, tmp_path, mode="GOVERNANCE") as store:
        store.create_capture_dir("c1")
        held = _seal(store, "c1", "a.bin", b"held")
        _seal(store, "c1", "b.bin", b"also held")
        assert [h.on for h in store.legal_holds("c1")] == [False, False]
        assert {h.key for h in store.set_legal_hold(["c1"], on=True)} == {
            "team/captures/c1/a.bin",
            "team/captures/c1/b.bin",
        }
        assert [h.on for h in store.legal_holds("c1")] == [True, True]
        s3 = seaweed.client()
        with pytest.raises(ClientError) as refused:
            s3.delete_object(
                Bucket=store.location.bucket,
                Key=held.key,
                VersionId=held.version_id,
                BypassGovernanceRetention=True,
            )
        assert _code(refused) == "AccessDenied"
        store.set_legal_hold(["c1"], on=False)
        assert [h.on for h in store.legal_holds("c1")] == [False, False]
        with pytest.raises(ObjectMissing, match="nothing to hold"):
            store.set_legal_hold(["no-such-capture"], on=True)


# -- fsck -----------------------------------------------------------------------------------


def test_fsck_finds_an_orphan_and_a_missing_object_and_deletes_nothing(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    store.create_capture_dir("c1")
    kept = _seal(store, "c1", "a.bin", b"kept")
    s3 = seaweed.client()
    orphan = s3.put_object(
        Bucket=store.location.bucket, Key="team/captures/c2/lost.bin", Body=b"no row"
    )
    store.versions.record_version("team/captures/c3/gone.bin", "v-none", sha256_bytes(b""), 0)
    catalog = [("c1", "a.bin", sha256_bytes(b"something else")), ("c4", "x.bin", "00")]
    report = store.fsck(catalog)
    assert not report.ok and report.objects_checked == 1 and report.rows_read == 2
    assert [(f.key, f.version_id) for f in report.of(Problem.UNRECORDED_OBJECT)] == [
        ("team/captures/c2/lost.bin", orphan["VersionId"])
    ]
    assert [f.key for f in report.of(Problem.MISSING_OBJECT)] == ["team/captures/c3/gone.bin"]
    assert [f.key for f in report.of(Problem.CATALOG_MISMATCH)] == [kept.key]
    assert [f.key for f in report.of(Problem.CATALOG_UNRECORDED)] == ["team/captures/c4/x.bin"]
    listed = s3.list_object_versions(Bucket=store.location.bucket, Prefix="team/")
    assert len(listed["Versions"]) == 2, "fsck deletes nothing"
    assert store.fsck(deep=True).of(Problem.CHECKSUM_MISMATCH) == []


def test_fsck_of_a_sound_store_passes_and_of_an_empty_one_does_not(store: ObjectStore) -> None:
    assert not store.fsck().ok, "nothing checked is no pass"
    store.create_capture_dir("c1")
    _seal(store, "c1", "a.bin", b"one")
    report = store.fsck(deep=True)
    assert report.ok and report.objects_checked == 1 and report.deep


# -- the bucket's configuration -------------------------------------------------------------


def test_a_bucket_without_object_lock_is_refused_unless_allowed(
    seaweed: Seaweed, tmp_path: Path, book: Catalog
) -> None:
    bucket = seaweed.make_bucket(locked=False)
    location = seaweed.location(bucket)
    with pytest.raises(BucketNotLocked, match="allow-unlocked"):
        ObjectStore(tmp_path, location, seaweed.credentials, book)
    with ObjectStore(tmp_path, location, seaweed.credentials, book, allow_unlocked=True) as st:
        st.create_capture_dir("c0")
        writer = st.create("c0", "a.bin", "x")
        writer.write(b"no versions")
        with pytest.raises(BucketNotLocked, match="without a version id"):
            writer.seal()  # reads go by version id: an unversioned bucket is never usable
    s3 = seaweed.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with ObjectStore(tmp_path, location, seaweed.credentials, book, allow_unlocked=True) as st:
        found = st.describe()
        assert (found.versioning, found.object_lock, found.locked) == ("Enabled", False, False)
        st.create_capture_dir("c1")
        recorded = _seal(st, "c1", "a.bin", b"unlocked")
    head = s3.head_object(Bucket=bucket, Key=recorded.key, VersionId=recorded.version_id)
    assert "ObjectLockMode" not in head


def test_describe_says_how_the_bucket_is_locked(store: ObjectStore, seaweed: Seaweed) -> None:
    found = store.describe()
    assert found.locked and found.versioning == "Enabled" and found.object_lock
    assert found.default_retention is None and not found.locks_unlocked_puts
    assert found.endpoint == seaweed.endpoint and found.retention.mode is RetentionMode.COMPLIANCE
    seaweed.client().put_object_lock_configuration(
        Bucket=store.location.bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 7}},
        },
    )
    found = store.describe()
    assert found.locks_unlocked_puts and found.default_retention is not None
    assert (found.default_retention.mode, found.default_retention.days) == ("GOVERNANCE", 7)
    assert json.dumps(found.to_dict())


# -- SeaweedFS's filer port -----------------------------------------------------------------


def test_the_filer_port_refuses_to_delete_a_locked_object(
    store: ObjectStore, seaweed: Seaweed
) -> None:
    """Object Lock lives in the S3 gateway; the filer port would delete the version file
    behind it, unless the JWT signing keys of tests.seaweed's security.toml are set."""
    store.create_capture_dir("c1")
    recorded = _seal(store, "c1", "a.bin", b"locked")
    folder = f"{seaweed.filer}/buckets/{store.location.bucket}/{recorded.key}.versions"
    with urllib.request.urlopen(
        urllib.request.Request(folder + "/", headers={"Accept": "application/json"}), timeout=10
    ) as answer:
        names = [e["FullPath"].rsplit("/", 1)[1] for e in json.load(answer)["Entries"]]
    assert names == [f"v_{recorded.version_id}"], "the version file the filer would delete"
    for target in (f"{folder}/v_{recorded.version_id}", f"{folder}?recursive=true"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(target, method="DELETE"), timeout=10)
        assert refused.value.code == 401
    with store.open_sealed("c1", "a.bin") as fh:
        assert fh.read() == b"locked"


# -- the private event loop -----------------------------------------------------------------


async def test_calls_work_from_an_event_loop_and_worker_threads_at_once(
    store: ObjectStore,
) -> None:
    store.create_capture_dir("c1")

    def seal(n: int) -> str:
        return _seal(store, "c1", f"f{n}.bin", b"x" * n).version_id

    versions = await asyncio.gather(*(asyncio.to_thread(seal, n) for n in range(1, 9)))
    assert len(set(versions)) == 8
    with store.open_sealed("c1", "f3.bin") as fh:  # on the event loop's own thread
        assert fh.read() == b"xxx"


def test_a_call_on_the_stores_own_loop_is_refused_not_deadlocked(store: ObjectStore) -> None:
    loop = store._client.loop

    async def inside() -> None:
        store.create_capture_dir("c1")

    with pytest.raises(WrongThread, match="own event loop"):
        asyncio.run_coroutine_threadsafe(inside(), loop).result(timeout=10)


def test_an_endpoint_that_does_not_answer_is_unavailable(tmp_path: Path, book: Catalog) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    location = parse_location(f"s3://evidence?endpoint=http://127.0.0.1:{port}&days=1")
    credentials = load_credentials({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"})
    with pytest.raises(StoreUnreachable, match="could not be reached"):
        ObjectStore(tmp_path, location, credentials, book)


def test_a_closed_store_refuses_calls(seaweed: Seaweed, tmp_path: Path) -> None:
    with _open(seaweed, tmp_path) as store:
        store.close()
        store.close()
        with pytest.raises(StoreClosed):
            store.create_capture_dir("c1")


def test_the_secret_never_reaches_the_logs(
    store: ObjectStore, seaweed: Seaweed, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        store.create_capture_dir("c1")
        _seal(store, "c1", "a.bin", b"x")
        store.describe()
    assert caplog.records, "debug logging was captured"
    assert seaweed.secret_key not in caplog.text
    assert seaweed.secret_key not in repr(seaweed.credentials)


def test_a_staged_file_crosses_machines_unlocked_and_checked(
    seaweed: Seaweed, tmp_path: Path
) -> None:
    """Staged on one machine's disk and the bucket (unlocked, with its SHA-256), the
    local copy gone; fetched on another into its own DATA/incoming/, refused when the
    bucket's bytes are not the ones hashed at staging; every version deleted at the end."""
    bucket = seaweed.make_bucket()
    data = b"\x89PNG staged " * 1000
    with _open(seaweed, tmp_path / "server", bucket) as server:
        staged = server.incoming.stage("c1", "as-seen-view.png", data)
        assert not (tmp_path / "server" / "incoming" / "c1").exists()
    client = seaweed.client()
    key = "team/incoming/c1/as-seen-view.png"
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get("ObjectLockMode") is None, head  # not evidence: deletable
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == staged.sha256
    with _open(seaweed, tmp_path / "worker", bucket) as worker:
        path = worker.incoming.fetch("c1", "as-seen-view.png", staged.sha256, staged.size)
        assert path == tmp_path / "worker" / "incoming" / "c1" / "as-seen-view.png"
        assert path.read_bytes() == data
        report = worker.fsck()
        assert report.staged == 1 and not report.findings, report
        # Someone puts other bytes at the key: the fetch refuses them, keeps nothing.
        path.unlink()
        client.put_object(Bucket=bucket, Key=key, Body=b"other bytes")
        with pytest.raises(ObjectTampered):
            worker.incoming.fetch("c1", "as-seen-view.png", staged.sha256, staged.size)
        assert not path.exists()
        worker.incoming.discard("c1")
        listed = client.list_object_versions(Bucket=bucket, Prefix="team/incoming/")
        assert not listed.get("Versions") and not listed.get("DeleteMarkers"), listed
        with pytest.raises(ObjectMissing):
            worker.incoming.fetch("c1", "as-seen-view.png", staged.sha256, staged.size)


def test_staged_files_set_aside_by_another_machine_are_downloaded_first(
    seaweed: Seaweed, tmp_path: Path
) -> None:
    bucket = seaweed.make_bucket()
    with _open(seaweed, tmp_path / "server", bucket) as server:
        server.incoming.stage("c2", "as-seen-dom.html", b"<p>seen</p>")
    with _open(seaweed, tmp_path / "worker", bucket) as worker:
        moved = worker.incoming.set_aside("c2")
    assert moved is not None and moved.parent == tmp_path / "worker" / "quarantine"
    assert (moved / "as-seen-dom.html").read_bytes() == b"<p>seen</p>"
    listed = seaweed.client().list_object_versions(Bucket=bucket, Prefix="team/incoming/")
    assert not listed.get("Versions"), listed
