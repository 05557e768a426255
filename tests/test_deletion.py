"""Deleting a capture: refused under legal hold and under a bucket's retention; otherwise
every file gone, a ``deleted`` custody event naming each with its SHA-256 and the person,
and the row kept as a tombstone that listing, export, fsck and custody verify read
honestly. Real captures (Chromium, the test site), on SQLite, PostgreSQL and SeaweedFS."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.catalog import open_catalog
from archive.datadir import Archive
from archive.deletion import delete_capture
from archive.errors import Denied
from archive.fsck import fsck_archive
from archive.hashing import sha256_bytes
from archive.holds import hold_case, release_case
from archive.manifest import MANIFEST_NAME
from archive.objectstore import ObjectStore
from archive.people import COMMAND_LINE, Directory, Role
from archive.people.owner import owner_name
from archive.settings import load_settings
from archive.wacz.replay import NoReplay, ensure_replay_wacz
from capture.browser import Browser
from capture.cli import main
from capture.pipeline import capture_page
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.seaweed import Seaweed, use_bucket
from tests.site import TestSite

REASON = "consent withdrawn by the person filmed (ticket 41)"


@pytest.fixture(params=["embedded", "postgresql"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The file custody log and file store; per-case chains in a PostgreSQL catalog."""
    if request.param == "postgresql":
        monkeypatch.setenv("OSINT_CAPTURE_CATALOG", request.getfixturevalue("postgres_url"))
    return str(request.param)


def deleted_events(archive: Archive) -> list:
    return [e for e in archive.custody.events() if e.action == "deleted"]


async def test_deletion_is_refused_under_hold_then_leaves_a_tombstone_and_its_record(
    tmp_path: Path,
    site: TestSite,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    data = tmp_path / "data"
    gone = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention", operator="amal"), data, browser=browser
    )
    kept = await capture_into(
        CaptureRequest(site.url("/"), case="detention", operator="amal"), data, browser=browser
    )
    with Archive.open(data, create=False) as archive:
        ensure_replay_wacz(archive, gone.id)  # a copy made from it, which must go too
        hold_case(archive, "detention", operator="lina", reason="court order")
    delete = ["delete", gone.id, "--reason", REASON, "--data", str(data)]
    assert main(delete) == 1
    assert "on legal hold" in capsys.readouterr().err
    with Archive.open(data, create=False) as archive:
        assert (
            deleted_events(archive) == []
            and archive.catalog.get_capture(gone.id).deleted_at is None
        )
        assert (data / "captures" / gone.id).is_dir()
        release_case(archive, "detention", operator="lina", reason="order lifted")
        artifacts = archive.catalog.artifacts(gone.id)
        manifest_sha256 = archive.catalog.get_capture(gone.id).manifest_sha256

    assert main([*delete, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["deleted_by"] == owner_name() and not done["resumed"]
    assert not (data / "captures" / gone.id).exists()
    assert not (data / "replay" / f"{gone.id}.wacz").exists()
    assert (data / "captures" / kept.id).is_dir()

    with Archive.open(data, create=False) as archive:
        row = archive.catalog.get_capture(gone.id)
        assert (row.deleted_by, row.deletion_reason, row.shown_status) == (
            owner_name(),
            REASON,
            "deleted",
        )
        assert row.status == "complete" and row.manifest_sha256 == manifest_sha256  # as sealed
        assert archive.catalog.artifacts(gone.id) == artifacts  # the tombstone lists them
        (event,) = deleted_events(archive)
        assert (event.actor, event.captures) == (owner_name(), (gone.id,))
        assert (event.seq, event.hash) == (done["custody_seq"], done["custody_hash"])
        assert event.details["device"] == COMMAND_LINE
        assert event.details["reason_sha256"] == sha256_bytes(REASON.encode())
        assert REASON not in json.dumps(event.details)
        files = {f["name"]: (f["sha256"], f["size"]) for f in event.details["files"]}
        for artifact in artifacts:
            assert files[f"captures/{gone.id}/{artifact.path}"] == (artifact.sha256, artifact.size)
        assert files[f"captures/{gone.id}/{MANIFEST_NAME}"][0] == manifest_sha256
        assert event.details["bytes"] == sum(size for _sha, size in files.values())
        copies = [c["name"] for c in event.details["copies"]]
        assert copies == [f"replay/{gone.id}.wacz"]
        # Custody still holds, and the archive's check reads the tombstone as one.
        assert archive.custody.verify().ok, archive.custody.verify().summary()
        check = fsck_archive(archive)
        assert check.ok and check.problems == [], check.to_dict()
        assert check.files_checked == len(archive.catalog.artifacts(kept.id))
        assert gone.id not in {r.id for r in archive.catalog.unindexed_captures()}
        with pytest.raises(NoReplay, match="was deleted"):
            ensure_replay_wacz(archive, gone.id)

    assert main(["list", "--data", str(data)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if gone.id in line]
    assert len(listed) == 1 and " deleted " in listed[0]
    export = ["export", gone.id, "--out", str(tmp_path / "x.wacz"), "--data", str(data)]
    assert await asyncio.to_thread(main, export) == 1  # export runs its own event loop
    assert f"capture {gone.id} was deleted at" in capsys.readouterr().err
    assert not (tmp_path / "x.wacz").exists()
    assert main(delete) == 1
    assert "nothing of it is left" in capsys.readouterr().err


async def test_a_deletion_that_left_a_file_is_reported_and_finished_by_running_it_again(
    tmp_path: Path, site: TestSite, browser: Browser
) -> None:
    data = tmp_path / "data"
    sealed = await capture_into(CaptureRequest(site.url("/")), data, browser=browser)
    with Archive.open(data, create=False) as archive:
        admin = Directory(archive.catalog).add_user("dana", Role.ADMIN)
        who = Directory(archive.catalog).principal(admin.name, COMMAND_LINE)
        first = delete_capture(archive, sealed.id, who=who, reason=REASON)
        # What a deletion stopped half-way leaves: a file of the capture still there.
        left = data / "captures" / sealed.id / "page.html"
        left.parent.mkdir(parents=True)
        left.write_bytes(b"still here")
        check = fsck_archive(archive)
        assert [p.kind for p in check.problems] == ["left after deletion"], check.to_dict()
        assert f"delete {sealed.id}" in check.problems[0].detail
        again = delete_capture(archive, sealed.id, who=who, reason=REASON)
        assert again.resumed and [r.name for r in again.removed] == [
            f"captures/{sealed.id}/page.html"
        ]
        assert again.removed[0].sha256 == sha256_bytes(b"still here")
        assert not left.parent.exists()
        assert [e.seq for e in deleted_events(archive)] == [first.event.seq, again.event.seq]
        assert archive.custody.verify().ok


def test_only_an_admin_deletes_and_always_with_a_reason(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "data") as archive:
        directory = Directory(archive.catalog)
        directory.add_user("ina", Role.INVESTIGATOR)
        directory.add_user("dana", Role.ADMIN)
        ina = directory.principal("ina", COMMAND_LINE)
        with pytest.raises(Denied, match="'delete' permission") as denied:
            delete_capture(archive, "c-1", who=ina, reason=REASON)
        assert denied.value.permission == "delete"
        with pytest.raises(Exception, match="needs a reason"):
            delete_capture(archive, "c-1", who=directory.principal("dana", "x"), reason=" ")


async def test_deletion_is_refused_while_the_bucket_retains_the_objects(
    tmp_path: Path,
    site: TestSite,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    seaweed: Seaweed,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", postgres_url)
    use_bucket(monkeypatch, seaweed, days=1)
    data = tmp_path / "data"
    sealed = await capture_into(
        CaptureRequest(site.url("/"), case="detention"), data, browser=browser
    )
    assert main(["delete", sealed.id, "--reason", REASON, "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "kept by the bucket" in err and "locked (GOVERNANCE) until" in err, err
    with Archive.open(data, create=False) as archive:
        assert archive.catalog.get_capture(sealed.id).deleted_at is None
        assert deleted_events(archive) == []
        assert all(v.retain_until is not None for v in archive.store.capture_versions(sealed.id))
        assert fsck_archive(archive).ok


async def test_an_object_store_capture_is_deleted_version_by_version(
    tmp_path: Path, site: TestSite, browser: Browser, seaweed: Seaweed, postgres_url: str
) -> None:
    """A bucket without retention (allowed explicitly): each version and its row go."""
    bucket = seaweed.make_bucket(locked=False)
    seaweed.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    location = seaweed.location(bucket, prefix="unit")
    data = tmp_path / "data"
    env = {"OSINT_CAPTURE_CATALOG": postgres_url, "OSINT_CAPTURE_STORE": location.url()}
    settings = load_settings(data, environ=env)
    catalog = open_catalog(settings.catalog)
    store = ObjectStore(data, location, seaweed.credentials, catalog, allow_unlocked=True)
    with Archive(data, catalog, store=store, settings=settings) as archive:
        request = CaptureRequest(site.url("/"), case="detention")
        sealed = await capture_page(request, archive, browser=browser)
        versions = archive.store.capture_versions(sealed.id)
        recorded = {r.key: r for r in catalog.recorded_versions(location.capture_prefix(sealed.id))}
        assert versions and len(recorded) == len(versions)
        cache = data / "cache" / "objects" / "captures" / sealed.id
        archive.store.capture_dir(sealed.id)  # the read cache filled
        assert any(cache.iterdir())
        Directory(catalog).add_user("dana", Role.ADMIN)
        who = Directory(catalog).principal("dana", COMMAND_LINE)
        done = await asyncio.to_thread(delete_capture, archive, sealed.id, who=who, reason=REASON)
        assert archive.store.capture_versions(sealed.id) == []
        assert catalog.recorded_versions(location.capture_prefix(sealed.id)) == []
        assert not cache.exists()
        (event,) = deleted_events(archive)
        assert event.details["store"] == "s3" and event.actor == who.user
        named = {(f["name"], f["version_id"]): f["sha256"] for f in event.details["files"]}
        assert named == {(k, r.version_id): r.sha256 for k, r in recorded.items()}
        copies = [r.name for r in done.removed if not r.sealed]
        assert copies and all(n.startswith(f"cache/objects/captures/{sealed.id}/") for n in copies)
        check = fsck_archive(archive)
        assert check.problems == [], check.to_dict()
        assert archive.custody.verify().ok


def test_a_version_is_kept_until_its_retention_date_then_deleted_for_good(
    tmp_path: Path, seaweed: Seaweed
) -> None:
    """The bucket's own lock, read version by version: kept while it lasts, then gone."""
    bucket = seaweed.make_bucket()
    location = seaweed.location(bucket)
    client = seaweed.client()
    until = datetime.now(UTC) + timedelta(seconds=3)
    key = location.capture_key("c-9", "page.warc.gz")
    put = client.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"evidence",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    with open_catalog(f"sqlite://{tmp_path / 'catalog.sqlite3'}") as book:
        store = ObjectStore(tmp_path, location, seaweed.credentials, book)
        with store:
            (version,) = store.capture_versions("c-9")
            assert version.version_id == put["VersionId"] and version.size == len(b"evidence")
            assert "locked (COMPLIANCE) until" in (version.kept(datetime.now(UTC)) or "")
            deleted, errors = store.delete_versions([version])
            assert deleted == [] and len(errors) == 1  # the bucket refuses it too
            time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)
            assert version.kept(datetime.now(UTC)) is None
            deleted, errors = store.delete_versions([version])
            assert deleted == [version] and errors == []
            assert store.capture_versions("c-9") == []
