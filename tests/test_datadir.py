"""The archive object: one owner for the data directory, one writer for the catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archive.catalog import Catalog, CatalogError
from archive.datadir import Archive, NoArchive
from archive.sealed_store import SealedStore


def test_opening_nothing_is_refused_unless_asked_to_create(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    with pytest.raises(NoArchive, match=r"no archive at .*typo"):
        Archive.open(missing, create=False)
    assert not missing.exists(), "a refused open must not leave a directory behind"
    with Archive.open(missing):
        assert (missing / "catalog.sqlite3").is_file()
    assert Archive.exists(missing)


def test_the_key_is_made_once_and_its_making_is_logged_once(tmp_path: Path) -> None:
    with Archive.open(tmp_path) as archive:
        first = archive.signing_key()
        assert archive.signing_key() is first
    with Archive.open(tmp_path) as again:
        assert again.signing_key().fingerprint == first.fingerprint
        made = [e for e in again.custody.events() if e.action == "key-created"]
    assert [e.details["fingerprint"] for e in made] == [first.fingerprint]


def test_the_reader_sees_every_commit_and_refuses_to_write(tmp_path: Path) -> None:
    with Archive.open(tmp_path) as archive:
        archive.catalog.start_capture(
            "c1", "https://example.org/", case=None, note=None, operator=None, started_at="x"
        )
        assert archive.reader.get_capture("c1") is not None
        with pytest.raises(CatalogError, match=r"readonly|read-only|query_only"):
            archive.reader.start_capture(
                "c2", "https://example.org/", case=None, note=None, operator=None, started_at="x"
            )
        assert archive.catalog.get_capture("c2") is None


def test_a_reader_never_migrates_an_old_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 1")
    with pytest.raises(CatalogError, match="open it for writing first"):
        Catalog.open(path, read_only=True)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_the_archive_holds_a_sealed_store_and_capture_sees_only_its_interface(
    tmp_path: Path,
) -> None:
    """A second store (an object store) replaces the file store only if nothing outside
    archive/ depends on more than the interface."""
    with Archive.open(tmp_path) as archive:
        assert isinstance(archive.store, SealedStore)
    members = [name for name in vars(SealedStore) if not name.startswith("_")]
    assert len(members) >= 12, members
    root = Path(__file__).resolve().parent.parent / "capture"
    modules = list(root.rglob("*.py"))
    assert len(modules) > 40, "is the checkout complete?"
    naming = [str(m.relative_to(root)) for m in modules if "FileStore" in m.read_text()]
    assert naming == []
