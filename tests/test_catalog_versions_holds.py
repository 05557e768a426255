"""Object versions and legal holds in the catalog, on SQLite and on PostgreSQL (``cat``).

The catalog is the object store's version book (``archive.objectstore.VersionBook``): the
store calls ``record_version`` after it checked an upload and ``object_version`` before
every read; a consistency check lists the rows under a prefix (``recorded_versions``).
A case on hold keeps its files from deletion; setting or releasing it twice is refused,
so one request never makes two custody events.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from archive.catalog import Catalog, NotInCatalog, ObjectVersion, StateConflict, open_catalog
from archive.errors import Conflict
from archive.hashing import sha256_bytes
from archive.objectstore import VersionBook
from archive.objectstore.holds import HoldBook

SHA = sha256_bytes(b"sealed bytes")
OTHER = sha256_bytes(b"other bytes")


@pytest.fixture
def cat(catalog_url: str) -> Iterator[Catalog]:
    with open_catalog(catalog_url) as opened:
        yield opened


def test_the_catalog_is_the_object_stores_version_book() -> None:
    """The same three methods, the same parameters and types, as the Protocol says."""
    assert issubclass(Catalog, VersionBook)
    for name in ("record_version", "object_version", "recorded_versions"):
        assert inspect.signature(getattr(Catalog, name)) == inspect.signature(
            getattr(VersionBook, name)
        ), name


def test_a_version_is_recorded_once_and_read_back(cat: Catalog, catalog_url: str) -> None:
    key = "captures/c1/c1.warc.gz"
    assert isinstance(cat, VersionBook)
    assert cat.object_version(key) is None
    cat.record_version(key, "v-1", SHA, 12)
    found = cat.object_version(key)
    assert isinstance(found, ObjectVersion)
    assert (found.key, found.version_id, found.sha256, found.size) == (key, "v-1", SHA, 12)
    assert found.stored_at.endswith("Z")
    cat.record_version(key, "v-1", SHA, 12)  # a retried upload: the same row, no error
    assert cat.recorded_versions("captures/c1/") == [found]
    with open_catalog(catalog_url) as reopened:  # kept: another process reads the same row
        assert reopened.object_version(key) == found
        assert reopened.recorded_versions() == [found]


@pytest.mark.parametrize(
    ("version_id", "sha256", "size"),
    [("v-2", SHA, 12), ("v-1", OTHER, 12), ("v-1", SHA, 13)],
    ids=["another version", "another hash", "another size"],
)
def test_a_recorded_version_never_changes(
    cat: Catalog, version_id: str, sha256: str, size: int
) -> None:
    key = "captures/c1/manifest.json"
    cat.record_version(key, "v-1", SHA, 12)
    kept = cat.object_version(key)
    with pytest.raises(StateConflict, match="never changes") as raised:
        cat.record_version(key, version_id, sha256, size)
    assert isinstance(raised.value, Conflict), "the kind the object store reports as its own"
    assert "v-1" in str(raised.value) and key in str(raised.value)
    assert kept is not None and cat.object_version(key) == kept
    assert [(v.version_id, v.sha256, v.size) for v in cat.recorded_versions(key)] == [
        ("v-1", SHA, 12)
    ]


def test_bad_version_rows_are_refused_before_anything_is_written(cat: Catalog) -> None:
    for args in [("", "v", SHA, 1), ("k", "", SHA, 1), ("k", "v", "ABC", 1), ("k", "v", SHA, -1)]:
        with pytest.raises(ValueError):
            cat.record_version(*args)  # type: ignore[arg-type]
    assert cat.recorded_versions() == []


def test_versions_are_listed_by_prefix_in_code_point_order(cat: Catalog) -> None:
    keys = ["a/1", "a/2", "a%/x", "a_/y", "A/3", "ab", "a/é", "a/z", "b/1", "a"]
    for n, key in enumerate(keys):
        cat.record_version(key, f"v{n}", SHA, n)
    listed = cat.recorded_versions("a/")
    assert all(isinstance(v, ObjectVersion) for v in listed)
    # Not LIKE: '%' and '_' are plain characters, and upper case is another key.
    assert [v.key for v in listed] == ["a/1", "a/2", "a/z", "a/é"]
    assert [v.key for v in cat.recorded_versions("a%")] == ["a%/x"]
    assert [v.key for v in cat.recorded_versions()] == sorted(keys)
    assert cat.recorded_versions("c") == []


def test_a_case_is_held_and_released_once_each(cat: Catalog) -> None:
    cat.ensure_case("Harbour")
    cat.ensure_case("Bridge")
    assert cat.case_hold("Harbour") is None and cat.case_holds() == []
    hold = cat.set_case_hold("Harbour", True, operator="amal", reason="court order 12/2026")
    assert hold is not None and (hold.case, hold.held_by, hold.reason) == (
        "Harbour",
        "amal",
        "court order 12/2026",
    )
    assert hold.held_at.endswith("Z")
    assert cat.case_hold("Harbour") == hold and cat.case_holds() == [hold]
    with pytest.raises(StateConflict, match="already on hold"):
        cat.set_case_hold("Harbour", True, operator="someone else")
    assert cat.case_hold("Harbour") == hold
    with pytest.raises(StateConflict, match="not on hold"):
        cat.set_case_hold("Bridge", False, operator="amal")
    assert cat.set_case_hold("Harbour", False, operator="amal") is None
    assert cat.case_hold("Harbour") is None and cat.case_holds() == []
    again = cat.set_case_hold("Harbour", True, operator=None)
    assert again is not None and again.held_by is None and again.reason is None


def test_a_hold_on_an_unknown_case_is_refused(cat: Catalog) -> None:
    with pytest.raises(NotInCatalog, match="no case 'Nowhere'"):
        cat.set_case_hold("Nowhere", True, operator="amal")
    assert cat.list_cases() == [] and cat.case_hold("Nowhere") is None


def test_a_captures_hold_is_its_cases(cat: Catalog) -> None:
    """What the object store asks before and after each upload (``HoldBook``)."""
    assert issubclass(Catalog, HoldBook)
    for capture_id, case in (("c1", "Harbour"), ("c2", "Bridge"), ("c3", None)):
        cat.start_capture(
            capture_id, "https://example.org/", case=case, note=None, operator=None, started_at="x"
        )
    assert [cat.capture_hold(c) for c in ("c1", "c2", "c3", "nope")] == [None] * 4
    hold = cat.set_case_hold("Harbour", True, operator="amal", reason="order")
    assert [cat.capture_hold(c) for c in ("c1", "c2", "c3", "nope")] == [hold, None, None, None]
    cat.set_case_hold("Harbour", False, operator="amal")
    assert cat.capture_hold("c1") is None
