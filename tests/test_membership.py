"""A case named by a capture or a watch (archive.people.admit): its namer becomes its first
member, recorded in custody (in team mode, in the case's own chain); a case of others is
refused naming the permission. On an embedded archive and a PostgreSQL catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.datadir import Archive
from archive.errors import Denied
from archive.evidence.chain_names import case_chain
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_events import Event
from archive.hashing import sha256_bytes
from archive.people import Directory, Permission, admit


@pytest.fixture(params=["embedded", "postgresql"])
def data(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if request.param == "postgresql":
        monkeypatch.setenv("OSINT_CAPTURE_CATALOG", request.getfixturevalue("postgres_url"))
    return tmp_path / "data"


def _case_events(archive: Archive) -> list[Event]:
    """The events of case aleppo: its chain in team mode, the one log embedded."""
    custody = archive.custody
    if isinstance(custody, DbCustodyLog):
        return list(custody.chain(case_chain("aleppo")).events())
    return list(custody.events())


def test_a_new_case_is_its_namers_and_a_case_of_others_is_refused(data: Path) -> None:
    with Archive.open(data) as archive:
        directory = Directory(archive.catalog)
        for name, role in (("amira", "investigator"), ("omar", "investigator")):
            directory.add_user(name, role)
        directory.add_user("rana", "reviewer")
        amira = directory.principal("amira", "laptop")
        assert admit(archive, amira, Permission.CAPTURE, "aleppo") is True
        assert archive.catalog.members("aleppo") == ["amira"]
        [made] = [e for e in _case_events(archive) if e.action == "case-created"]
        assert made.actor == "amira" and made.details["members"] == ["amira"]
        assert made.details["device"] == "laptop"
        assert made.details["case_sha256"] == sha256_bytes(b"aleppo")
        # Her principal was made before the case: the catalog says she is a member now.
        assert admit(archive, amira, Permission.WATCH, "aleppo") is False

        omar = directory.principal("omar", "phone")
        with pytest.raises(Denied, match="'capture' permission") as refused:
            admit(archive, omar, Permission.CAPTURE, "aleppo")
        assert refused.value.permission == "capture"
        assert archive.catalog.members("aleppo") == ["amira"]  # naming it joined nobody
        rana = directory.principal("rana", "laptop")
        with pytest.raises(Denied) as refused:
            admit(archive, rana, Permission.CAPTURE, "raqqa")  # a reviewer captures nothing
        assert refused.value.permission == "capture"
        assert "raqqa" not in {case.name for case in archive.catalog.list_cases()}
        assert [e.action for e in _case_events(archive)].count("case-created") == 1


def test_a_second_request_naming_the_new_case_at_once_is_its_namers_too(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty captures into a new case at once: one request makes the case while another
    has already looked and found her no member. The other must still pass: the case is
    hers. The interleaving is forced: her other request makes the case right after this
    one's first look at her cases."""
    with Archive.open(data) as archive:
        directory = Directory(archive.catalog)
        directory.add_user("amira", "investigator")
        first = directory.principal("amira", "laptop")
        second = directory.principal("amira", "laptop")
        catalog = archive.catalog
        looked = catalog.cases_of
        raced: list[bool] = []

        def stale_then_made(user: str) -> list[str]:
            seen = looked(user)
            if not raced:
                monkeypatch.setattr(catalog, "cases_of", looked)  # the other request: real
                raced.append(admit(archive, first, Permission.CAPTURE, "aleppo"))
            return seen

        monkeypatch.setattr(catalog, "cases_of", stale_then_made)
        assert admit(archive, second, Permission.CAPTURE, "aleppo") is False
        monkeypatch.setattr(catalog, "cases_of", looked)
        assert raced == [True]
        assert catalog.members("aleppo") == ["amira"]
