"""Legal hold on a case: recorded in the catalog and in custody, refused twice, released."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from archive.catalog import CaseHold, ObjectVersion
from archive.datadir import Archive
from archive.fsck import UNHELD
from archive.hashing import sha256_bytes
from archive.holds import hold_case
from archive.objectstore import HoldState
from capture.browser import Browser
from capture.cli import main
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.seaweed import Seaweed, use_bucket
from tests.site import TestSite


@pytest.fixture(params=["embedded", "postgresql", "team"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The file custody log; per-case chains in a PostgreSQL catalog; and those with an
    S3 bucket with Object Lock as the store."""
    if request.param != "embedded":
        monkeypatch.setenv("OSINT_CAPTURE_CATALOG", request.getfixturevalue("postgres_url"))
    if request.param == "team":
        use_bucket(monkeypatch, request.getfixturevalue("seaweed"))
    return str(request.param)


async def test_a_case_is_held_and_released_through_the_cli_and_custody_says_so(
    tmp_path: Path, site: TestSite, browser: Browser, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    data = tmp_path / "data"
    sealed = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention", operator="amal"), data, browser=browser
    )
    hold = ["case", "hold", "detention", "--reason", "court order 12/2026", "--data", str(data)]
    assert main([*hold, "--operator", "lina", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["captures"] == [sealed.id] and done["held"]
    if mode == "team":
        assert done["stored_objects"] >= len(sealed.artifacts) + 1  # and the manifest
        with Archive.open(data, create=False) as archive:
            states = archive.store.legal_holds(sealed.id)
        assert states and all(state.on for state in states)
    else:
        assert done["stored_objects"] is None, "a file store has no object lock of its own"
    with Archive.open(data, create=False) as archive:
        held = archive.catalog.case_hold("detention")
        assert held is not None and (held.held_by, held.reason) == ("lina", "court order 12/2026")
        [event] = [e for e in archive.custody.events() if e.action == "held"]
        assert (event.actor, event.captures) == ("lina", (sealed.id,))
        assert event.details["case_sha256"] == sha256_bytes(b"detention")
        assert "detention" not in json.dumps(event.details), "no case names in custody"
        assert (event.seq, event.hash) == (done["custody_seq"], done["custody_hash"])

    assert main([*hold, "--operator", "lina"]) == 1, "holding twice is refused"
    assert "already on hold" in capsys.readouterr().err
    release = ["case", "release", "detention", "--reason", "order lifted", "--data", str(data)]
    assert main(release) == 0
    assert "released from legal hold: 1 sealed capture(s)" in capsys.readouterr().out
    assert main(release) == 1
    with Archive.open(data, create=False) as archive:
        assert archive.catalog.case_hold("detention") is None
        actions = [e.action for e in archive.custody.events() if e.action in ("held", "released")]
        assert actions == ["held", "released"], "a refused request writes no event"
        assert archive.custody.verify().ok
        if mode == "team":
            assert not any(state.on for state in archive.store.legal_holds(sealed.id))


def test_holding_an_unknown_case_or_without_a_reason_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Archive.open(data).close()
    assert main(["case", "hold", "nosuch", "--reason", "x", "--data", str(data)]) == 2
    assert "no case 'nosuch'" in capsys.readouterr().err
    with Archive.open(data) as archive:
        archive.catalog.start_capture(
            "c1", "https://example.org/", case="real", note=None, operator=None, started_at="x"
        )
    assert main(["case", "hold", "real", "--reason", " ", "--data", str(data)]) == 2
    assert "needs a reason" in capsys.readouterr().err


# -- team mode: what is sealed into a held case is held from its upload on ------------------


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch, postgres_url: str, seaweed: Seaweed) -> str:
    """A PostgreSQL catalog and a GOVERNANCE-locked bucket: a bypass could delete an
    object, its legal hold cannot be bypassed. The bucket's name."""
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", postgres_url)
    return use_bucket(monkeypatch, seaweed).split("/")[2]


def _delete(s3: Any, bucket: str, key: str, version_id: str) -> str:
    """A delete of one version with the governance bypass; S3's error code, or 'deleted'."""
    try:
        s3.delete_object(
            Bucket=bucket, Key=key, VersionId=version_id, BypassGovernanceRetention=True
        )
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "deleted"


def _seal(archive: Archive, capture_id: str, name: str, data: bytes) -> ObjectVersion:
    with archive.store.create(capture_id, name, "x") as out:
        out.write(data)
    return archive.store.sealed_version(capture_id, name)


def _running(archive: Archive, capture_id: str, case: str) -> None:
    archive.catalog.start_capture(
        capture_id, "https://example.org/", case=case, note=None, operator=None, started_at="x"
    )
    archive.store.create_capture_dir(capture_id)


async def test_a_capture_sealed_into_a_held_case_is_held_and_cannot_be_deleted(
    tmp_path: Path,
    site: TestSite,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
    seaweed: Seaweed,
    team: str,
) -> None:
    data = tmp_path / "data"
    first = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention"), data, browser=browser
    )
    hold = ["case", "hold", "detention", "--reason", "court order", "--data", str(data)]
    assert main(hold) == 0
    capsys.readouterr()
    later = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention"), data, browser=browser
    )
    free = await capture_into(CaptureRequest(site.url("/rich"), case="open"), data, browser=browser)
    with Archive.open(data, create=False) as archive:
        states = archive.store.legal_holds(later.id)
        assert len(states) >= len(later.artifacts) + 2, "every file, the manifest and signature"
        assert all(state.on for state in states), states
        assert not any(state.on for state in archive.store.legal_holds(free.id))
        assert [e.action for e in archive.custody.events() if e.action == "held"] == ["held"]
    s3 = seaweed.client()
    for state in states:
        assert _delete(s3, team, state.key, state.version_id) == "AccessDenied"
    assert all(state.on for state in archive_holds(data, later.id))
    kept = archive_holds(data, free.id)[0]
    assert _delete(s3, team, kept.key, kept.version_id) == "deleted", "the bypass works unheld"

    code, body = fsck(data, capsys)
    assert [p["kind"] for p in body["problems"]] == ["row without an object"], body
    lifted = archive_holds(data, first.id)[0]
    s3.put_object_legal_hold(
        Bucket=team, Key=lifted.key, VersionId=lifted.version_id, LegalHold={"Status": "OFF"}
    )
    code, body = fsck(data, capsys)
    unheld = [p for p in body["problems"] if p["kind"] == UNHELD]
    assert code == 1 and [p["where"] for p in unheld] == [lifted.key], body
    assert "'detention' is on hold" in unheld[0]["detail"]
    assert main(hold) == 1, "the case is held already"
    assert "hold was set again on its" in capsys.readouterr().err
    code, body = fsck(data, capsys)
    assert not [p for p in body["problems"] if p["kind"] == UNHELD], "running hold again repairs"


def archive_holds(data: Path, capture_id: str) -> list[HoldState]:
    with Archive.open(data, create=False) as archive:
        return archive.store.legal_holds(capture_id)


def fsck(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["fsck", "--data", str(data), "--json"])
    return code, json.loads(capsys.readouterr().out)


class _HoldsDuringUpload:
    """The catalog as the store's hold book, with ``case hold`` run (to its end) right
    after the store's first look at the hold: the look said no, the upload goes unheld,
    and the hold command's listings run before the upload exists."""

    def __init__(self, archive: Archive, case: str) -> None:
        self.archive, self.case, self.looks = archive, case, 0

    def capture_hold(self, capture_id: str) -> CaseHold | None:
        self.looks += 1
        found = self.archive.catalog.capture_hold(capture_id)
        if self.looks == 1:
            hold_case(self.archive, self.case, operator="lina", reason="set mid-upload")
        return found


def test_a_hold_set_while_a_file_uploads_reaches_it_by_the_stores_second_look(
    tmp_path: Path, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Archive.open(tmp_path / "data") as archive:
        _running(archive, "c1", "detention")
        monkeypatch.setattr(archive.store, "holds", _HoldsDuringUpload(archive, "detention"))
        sealed = _seal(archive, "c1", "page.warc", b"sealed while the hold was set")
        assert archive.store.holds.looks == 2
        assert archive.catalog.case_hold("detention") is not None
        [state] = archive.store.legal_holds("c1")
        assert (state.key, state.version_id, state.on) == (sealed.key, sealed.version_id, True)
        held = [e for e in archive.custody.events() if e.action == "held"]
        assert [e.details["stored_objects"] for e in held] == [0], "the hold reached nothing"


def test_a_file_sealed_between_the_holds_first_pass_and_its_commit_is_held_after_it(
    tmp_path: Path, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Archive.open(tmp_path / "data") as archive:
        _running(archive, "c1", "detention")
        early = _seal(archive, "c1", "early.png", b"before the hold")
        setting = archive.catalog.set_case_hold

        def upload_then_commit(*args: Any, **kwargs: Any) -> CaseHold | None:
            # Uploaded and recorded before the hold commits: neither of the store's looks
            # sees it, and the bucket pass has already listed the capture.
            late.append(_seal(archive, "c1", "late.png", b"during the hold"))
            return setting(*args, **kwargs)

        late: list[ObjectVersion] = []
        monkeypatch.setattr(archive.catalog, "set_case_hold", upload_then_commit)
        done = hold_case(archive, "detention", operator="lina", reason="r")
        assert done.objects == 2 and done.captures == (), "c1 is running: not sealed"
        states = {s.key: s.on for s in archive.store.legal_holds("c1")}
        assert states == {early.key: True, late[0].key: True}
        held = [e for e in archive.custody.events() if e.action == "held"]
        # The first names no sealed capture (the installation chain's), the second c1.
        assert sorted((e.details.get("after_commit", False), e.captures) for e in held) == [
            (False, ()),
            (True, ("c1",)),
        ]
        assert [e.details["stored_objects"] for e in held] == [1, 1]
