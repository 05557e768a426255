"""An archive on team engines, opened from settings: captures, search and export work
on a PostgreSQL catalog as they do on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from archive.datadir import Archive, NoArchive
from archive.evidence.trust import TrustedKeys
from archive.evidence.tsa_roots import TrustStore
from archive.settings import CONFIG_ENV, load_settings
from archive.wacz.export import export_wacz
from archive.wacz.verify import verify_package
from capture.browser import Browser
from capture.cli import main
from capture.pipeline import capture_page
from capture.requests import CaptureRequest
from tests.seaweed import use_bucket
from tests.site import TestSite


def test_a_postgresql_catalog_is_an_archive_without_a_file(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = load_settings(tmp_path, environ={"OSINT_CAPTURE_CATALOG": postgres_url})
    assert Archive.exists(tmp_path / "nothing-here", settings)
    with pytest.raises(NoArchive):
        Archive.open(tmp_path / "nothing-here", create=False)  # the embedded default
    with Archive.open(tmp_path, create=False, settings=settings) as archive:
        assert archive.settings.catalog == postgres_url
        assert not (tmp_path / "catalog.sqlite3").exists()


@pytest.mark.parametrize("store", ["file", "s3"])
async def test_a_capture_on_team_engines_is_sealed_found_and_exported(
    tmp_path: Path,
    postgres_url: str,
    site: TestSite,
    browser: Browser,
    store: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", postgres_url)
    if store == "s3":
        use_bucket(monkeypatch, request.getfixturevalue("seaweed"))
    data = tmp_path / "data"
    with Archive.open(data) as archive:
        wanted = CaptureRequest(site.url("/rich"), case="team-case", operator="amal")
        manifest = await capture_page(wanted, archive, browser=browser)
        row = archive.reader.get_capture(manifest.id)
        assert row is not None and row.status == manifest.status == "complete"
        assert row.manifest_sha256 is not None
        hits = archive.reader.search_text("RICH-PAGE-MARKER")
        assert [hit.capture_id for hit in hits] == [manifest.id]
        assert archive.custody.verify().ok
        out = tmp_path / "out.wacz"
        await asyncio.to_thread(export_wacz, archive, [manifest.id], out, actor="amal")
        fingerprint = archive.signing_key().fingerprint
        if store == "s3":
            assert not (data / "captures" / manifest.id).exists(), "sealed files are in S3"
            assert archive.store.fsck().ok
    trust = TrustStore.load()
    report = verify_package(out, trust=trust, keys=TrustedKeys.pinned(fingerprint))
    assert report.failures == [], report.summary()


def test_the_cli_reads_its_settings_from_config(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    settings = load_settings(data, environ={"OSINT_CAPTURE_CATALOG": postgres_url})
    with Archive.open(data, settings=settings) as archive:
        archive.catalog.start_capture(
            "c1", "https://example.org/", case="team", note=None, operator=None, started_at="x"
        )
    config = tmp_path / "team.toml"
    config.write_text(f'catalog = "{postgres_url}"\n')
    assert main(["list", "--data", str(data), "--config", str(config), "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == ["c1"]
    assert CONFIG_ENV not in os.environ, "--config lasts only as long as its command"
    # Without it, the same data directory is an embedded archive with nothing in it.
    assert main(["list", "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["list", "--data", str(data), "--config", str(tmp_path / "typo.toml")]) == 2
    assert "typo.toml does not exist" in capsys.readouterr().err
