"""A case named by a capture or a watch (archive.people.admit): its namer becomes its first
member, recorded in custody; a case of others is refused naming the permission."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.datadir import Archive
from archive.errors import Denied
from archive.hashing import sha256_bytes
from archive.people import Directory, Permission, admit


def test_a_new_case_is_its_namers_and_a_case_of_others_is_refused(tmp_path: Path) -> None:
    with Archive.open(tmp_path) as archive:
        directory = Directory(archive.catalog)
        for name, role in (("amira", "investigator"), ("omar", "investigator")):
            directory.add_user(name, role)
        directory.add_user("rana", "reviewer")
        amira = directory.principal("amira", "laptop")
        assert admit(archive, amira, Permission.CAPTURE, "aleppo") is True
        assert archive.catalog.members("aleppo") == ["amira"]
        [made] = [e for e in archive.custody.events() if e.action == "case-created"]
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
        assert [e.action for e in archive.custody.events()].count("case-created") == 1
