"""The directory of people on both catalogs: accounts, tokens, sessions, lockout, and the
one check of what a person may do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archive.catalog import Catalog, StateConflict, open_catalog
from archive.catalog.people_schema import ROLES
from archive.errors import Denied, Unauthenticated
from archive.people import (
    GRANTS,
    LOCKOUT_AFTER,
    BadUserName,
    Directory,
    Permission,
    Role,
    WeakPassword,
    secret_sha256,
)
from archive.timeutil import now_rfc3339

PASSWORD = "convoy checkpoint dawn"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with open_catalog(catalog_url) as cat:
        yield cat


@pytest.fixture
def directory(catalog: Catalog) -> Directory:
    return Directory(catalog)


def test_the_catalog_accepts_exactly_the_roles_there_are() -> None:
    assert ROLES == tuple(role.value for role in Role) == tuple(GRANTS)


def test_a_token_is_shown_once_and_kept_only_as_its_hash(
    directory: Directory, catalog: Catalog
) -> None:
    directory.add_user("amira", "investigator", by="admin")
    row, secret = directory.create_token("amira", "laptop")
    assert secret.startswith("ocp_") and len(secret) > 40
    assert catalog.token_by_hash(secret_sha256(secret)) == catalog.tokens("amira")[0] == row
    with catalog._read() as conn:  # the secret itself is nowhere in the catalog
        stored = [tuple(r) for r in conn.execute("SELECT * FROM api_tokens").fetchall()]
    assert secret not in repr(stored)
    who = directory.token_principal(secret, origin="chrome-extension://abc")
    assert (who.user, who.role, who.device) == ("amira", Role.INVESTIGATOR, "laptop")
    assert catalog.tokens("amira")[0].origin == "chrome-extension://abc"
    with pytest.raises(Denied, match="another extension"):
        directory.token_principal(secret, origin="chrome-extension://other")
    assert directory.token_principal(secret).user == "amira"  # scripts send no origin


def test_a_revoked_token_or_a_disabled_person_is_refused_at_once(
    directory: Directory, catalog: Catalog
) -> None:
    directory.add_user("amira", "investigator")
    _, laptop = directory.create_token("amira", "laptop")
    _, phone = directory.create_token("amira", "phone")
    with pytest.raises(StateConflict, match="already has a token called 'laptop'"):
        directory.create_token("amira", "laptop")
    catalog.revoke_token("amira", "laptop")
    with pytest.raises(Unauthenticated, match="revoked"):
        directory.token_principal(laptop)
    assert directory.token_principal(phone).device == "phone"
    directory.create_token("amira", "laptop")  # the name is free again
    directory.disable("amira")
    with pytest.raises(Unauthenticated, match="disabled"):
        directory.token_principal(phone)
    with pytest.raises(Unauthenticated, match="unknown token"):
        directory.token_principal("ocp_" + "x" * 43)


def test_passwords_sessions_and_lockout(directory: Directory, catalog: Catalog) -> None:
    with pytest.raises(WeakPassword):
        directory.add_user("omar", "reviewer", password="short")
    with pytest.raises(BadUserName):
        directory.add_user("Omar Smith", "reviewer", password=PASSWORD)
    user = directory.add_user("omar", "reviewer", password=PASSWORD)
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    who = directory.password_principal("omar", PASSWORD)
    session = directory.open_session(who)
    assert directory.session_principal(session) == who
    assert catalog.session(secret_sha256(session)) is not None  # survives a restart
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(Unauthenticated, match="wrong user name or password"):
            directory.password_principal("omar", "not the password at all")
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        directory.password_principal("omar", PASSWORD)  # locked, even with the right one
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        directory.password_principal("nobody", PASSWORD)  # the same words for no account
    directory.set_password("omar", "a brand new passphrase")
    assert directory.session_principal(session) is None  # a reset ends every session
    assert directory.password_principal("omar", "a brand new passphrase").user == "omar"


def test_an_idle_session_ends(directory: Directory, catalog: Catalog) -> None:
    directory.add_user("omar", "reviewer", password=PASSWORD)
    session = directory.open_session(directory.password_principal("omar", PASSWORD))
    with catalog._write() as conn:
        conn.execute("UPDATE sessions SET last_used_at = ?", ("2020-01-01T00:00:00Z",))
    assert directory.session_principal(session) is None
    assert catalog.session(secret_sha256(session)) is None


def test_roles_and_cases_decide_together(directory: Directory, catalog: Catalog) -> None:
    directory.add_user("lina", "admin")
    directory.add_user("sami", "auditor")
    assert catalog.add_member("aleppo", "lina", added_by="lina")
    assert not catalog.add_member("aleppo", "lina", added_by="lina")
    admin = directory.principal("lina", "command line")
    admin.require_case(Permission.READ_EVIDENCE, "aleppo")
    with pytest.raises(Denied, match="not a member") as denied:
        admin.require_case(Permission.READ_EVIDENCE, "idlib")  # admins too must join
    assert denied.value.permission == "read-evidence"
    auditor = directory.principal("sami", "command line")
    with pytest.raises(Denied, match="'read-evidence' permission") as denied:
        auditor.require_case(Permission.READ_EVIDENCE, "aleppo")
    assert denied.value.http_status == 403 and denied.value.permission == "read-evidence"
    auditor.require(Permission.READ_ACCESS_LOG)
    assert admin.sees(None, "lina") and not admin.sees(None, "sami") and not admin.sees(None, None)
    assert catalog.remove_member("aleppo", "lina") and catalog.cases_of("lina") == []
    catalog.set_case_second_factor("aleppo", True)
    assert catalog.sensitive_cases() == ["aleppo"]
    assert now_rfc3339() >= catalog.users()[0].created_at


def test_docs_access_table_is_the_grants_table() -> None:
    """docs/access.md's table of permissions by role is GRANTS, cell for cell."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "access.md").read_text()
    table = text.split("<!-- roles-table -->")[1].split("<!-- /roles-table -->")[0]
    rows = [line.strip("|").split("|") for line in table.strip().splitlines()[2:]]
    header = [cell.strip() for cell in table.strip().splitlines()[0].strip("|").split("|")]
    assert header == ["permission", *(role.value for role in Role)]
    documented = {
        (cells[0].strip().strip("`"), role): cells[i + 1].strip() == "yes"
        for cells in rows
        for i, role in enumerate(Role)
    }
    assert documented == {
        (permission.value, role): permission in GRANTS[role]
        for permission in Permission
        for role in Role
    }


def test_the_first_start_makes_the_owner_of_what_was_there(
    catalog: Catalog, tmp_path: pytest.TempPathFactory
) -> None:
    from pathlib import Path

    from archive.people.owner import OWNER_DEVICE, ensure_owner, owner_name

    for capture_id, case in (("c1", "aleppo"), ("c2", None)):
        catalog.start_capture(
            capture_id, "https://news.test/", case=case, note=None, operator=None,
            started_at=now_rfc3339(),
        )  # fmt: skip
    token_path = Path(str(tmp_path)) / "api-token"
    adoption = ensure_owner(catalog, token_path)
    assert adoption is not None and adoption.owner.role == "admin"
    assert adoption.owner.name == owner_name() and adoption.cases == ("aleppo",)
    assert adoption.captures == 1
    who = Directory(catalog).token_principal(token_path.read_text())
    assert (who.user, who.device, who.cases) == (owner_name(), OWNER_DEVICE, {"aleppo"})
    assert ensure_owner(catalog, token_path) is None  # once


def test_a_sensitive_case_opens_only_after_a_second_factor(
    directory: Directory, catalog: Catalog
) -> None:
    from dataclasses import replace

    from archive.people import COMMAND_LINE, DASHBOARD

    directory.add_user("amira", "investigator")
    catalog.add_member("aleppo", "amira", added_by="admin")
    catalog.add_member("idlib", "amira", added_by="admin")
    catalog.set_case_second_factor("aleppo", True)
    plain = directory.principal("amira", DASHBOARD)
    assert plain.sensitive == {"aleppo"} and plain.open_cases == {"idlib"}
    with pytest.raises(Denied, match="sensitive") as denied:
        plain.require_case(Permission.READ_EVIDENCE, "aleppo")
    assert denied.value.permission == "second-factor"
    assert not plain.sees("aleppo", None) and plain.visibility().cases == {"idlib"}
    passed = replace(plain, second_factor=True)
    passed.require_case(Permission.READ_EVIDENCE, "aleppo")
    assert passed.visibility().cases == {"aleppo", "idlib"}
    directory.principal("amira", COMMAND_LINE).require_case(Permission.EXPORT, "aleppo")


def test_a_second_factor_code_counts_once_whoever_checks_it(catalog: Catalog) -> None:
    """The step a code was taken at is kept in the catalog: another server over the same
    catalog (or this one after a restart) does not take the same code again."""
    import pyotp

    from archive.people import totp

    first, second = Directory(catalog), Directory(catalog)
    first.add_user("amira", "investigator", password=PASSWORD)
    secret = pyotp.random_base32()
    catalog.update_user("amira", totp_secret=secret)
    code = pyotp.TOTP(secret).now()
    assert first.password_principal("amira", PASSWORD, code).user == "amira"
    with pytest.raises(Unauthenticated):
        second.password_principal("amira", PASSWORD, code)
    assert not totp.take_code(second, "amira", secret, code)
