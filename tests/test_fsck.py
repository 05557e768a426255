"""``osint-capture fsck``: the catalog's sealed files against the store, on local files and
on an S3 bucket; what went missing, changed or appeared is named, and nothing is deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.datadir import Archive
from archive.manifest import Manifest
from capture.browser import Browser
from capture.cli import main
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.seaweed import Seaweed, use_bucket
from tests.site import TestSite


def fsck(data: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, dict]:
    code = main(["fsck", "--data", str(data), "--json", *more])
    return code, json.loads(capsys.readouterr().out)


async def capture(site: TestSite, browser: Browser, data: Path) -> Manifest:
    return await capture_into(CaptureRequest(site.url("/rich"), case="c"), data, browser=browser)


async def test_a_file_store_that_lost_changed_or_gained_files_is_reported(
    tmp_path: Path, site: TestSite, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Archive.open(data).close()
    code, body = fsck(data, capsys)
    assert code == 1 and body["files_checked"] == 0, "nothing compared is not a pass"
    manifest = await capture(site, browser, data)
    code, body = fsck(data, capsys, "--deep")
    # The manifest and its signature are sealed files of the capture too.
    assert code == 0 and body["ok"] and body["files_checked"] == len(manifest.artifacts) + 2

    folder = data / "captures" / manifest.id
    screenshot = folder / "screenshot.png"
    screenshot.chmod(0o644)
    raw = bytearray(screenshot.read_bytes())
    raw[100] ^= 0xFF  # same size: only reading it back can tell
    screenshot.write_bytes(bytes(raw))
    (folder / manifest.warc).unlink()
    (folder / "planted.txt").write_text("not evidence")
    code, body = fsck(data, capsys)
    assert code == 1
    assert {(p["kind"], p["where"]) for p in body["problems"]} == {
        ("missing file", f"{manifest.id}/{manifest.warc}"),
        ("file without a row", f"{manifest.id}/planted.txt"),
    }
    code, body = fsck(data, capsys, "--deep")
    kinds = {p["kind"]: p["where"] for p in body["problems"]}
    assert kinds["checksum mismatch"] == f"{manifest.id}/screenshot.png"
    assert (folder / "planted.txt").exists(), "fsck never deletes"
    with Archive.open(data, create=False) as archive:
        runs = [e.details for e in archive.custody.events() if e.action == "verified"]
    assert [(r["check"], r["ok"]) for r in runs] == [
        ("fsck", False),
        ("fsck", True),
        ("fsck", False),
        ("fsck", False),
    ]


async def test_an_object_put_behind_the_catalogs_back_is_reported_and_kept(
    tmp_path: Path,
    site: TestSite,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    seaweed: Seaweed,
) -> None:
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", postgres_url)
    url = use_bucket(monkeypatch, seaweed)
    data = tmp_path / "data"
    manifest = await capture(site, browser, data)
    code, body = fsck(data, capsys, "--deep")
    assert code == 0 and body["files_checked"] == len(manifest.artifacts) + 2, body
    bucket = url.split("/")[2]
    s3 = seaweed.client()
    s3.put_object(Bucket=bucket, Key=f"unit/captures/{manifest.id}/planted.txt", Body=b"x")
    code, body = fsck(data, capsys)
    assert code == 1
    [problem] = body["problems"]
    assert problem["where"] == f"unit/captures/{manifest.id}/planted.txt"
    assert "without a row" in problem["kind"]
    listed = s3.list_object_versions(Bucket=bucket, Prefix=f"unit/captures/{manifest.id}/planted")
    assert len(listed["Versions"]) == 1, "fsck never deletes"
