"""The command line for people, cases and tokens: each command against a real archive
(an embedded one, and one on a PostgreSQL catalog, whose cases have chains of their own),
each change a custody event that names who made it and holds no secret."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest

from archive.datadir import TOKEN_FILE, Archive
from archive.errors import Unauthenticated
from archive.evidence.chain_names import case_chain
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_events import Event
from archive.hashing import sha256_bytes
from archive.people import OWNER_DEVICE, Directory, secret_sha256
from archive.people.owner import owner_name
from capture.cli import main

PASSWORD = "olive grove at dusk"
CLI = str(Path(sys.executable).with_name("osint-capture"))


@pytest.fixture(params=["embedded", "postgresql"])
def data(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An archive with no account yet: the file custody log, or per-case chains in a
    PostgreSQL catalog."""
    if request.param == "postgresql":
        monkeypatch.setenv("OSINT_CAPTURE_CATALOG", request.getfixturevalue("postgres_url"))
    root = tmp_path / "data"
    Archive.open(root).close()
    return root


def run(data: Path, *args: str, stdin: str | None = None, who: str | None = None) -> int:
    """One command, in this process; ``stdin`` what it reads, ``who`` its ``--as``."""
    before = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        return main([*(["--as", who] if who else []), *args, "--data", str(data)])
    finally:
        sys.stdin = before


def events(data: Path, action: str | None = None) -> list[Event]:
    with Archive.open(data, create=False) as archive:
        assert archive.custody.verify().ok
        return [e for e in archive.custody.events() if action in (None, e.action)]


def test_accounts_are_made_changed_and_recorded_without_their_secrets(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = owner_name()
    assert run(data, "user", "add", "amira", "--role", "investigator", "--password-stdin",
               stdin=PASSWORD + "\n") == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert out.startswith("amira (investigator): added; custody event")
    assert run(data, "user", "add", "omar", "--role", "reviewer") == 0
    assert "omar has no password: make a token" in capsys.readouterr().err

    # The first command made the owner, and said so in custody: nobody asked for it.
    first, amira, omar = events(data, "user-added")
    assert (first.actor, first.details["user"], first.details["role"]) == (
        "system", owner, "admin",
    )  # fmt: skip
    assert first.details["first_start"] is True and first.details["token"] == OWNER_DEVICE
    assert (amira.actor, amira.details) == (
        owner,
        {"user": "amira", "role": "investigator", "password": True, "device": "command line"},
    )
    assert omar.details["password"] is False

    assert run(data, "user", "list", "--json") == 0
    listed = {u["name"]: u for u in json.loads(capsys.readouterr().out)["users"]}
    assert set(listed) == {owner, "amira", "omar"}
    assert listed["amira"]["role"] == "investigator" and listed["amira"]["password"] is True
    assert listed["omar"]["password"] is False and listed[owner]["role"] == "admin"
    assert "password_hash" not in json.dumps(listed)

    assert run(data, "user", "disable", "amira") == 0
    with Archive.open(data, create=False) as archive:
        directory = Directory(archive.catalog)
        with pytest.raises(Unauthenticated):
            directory.password_principal("amira", PASSWORD)
    assert run(data, "user", "enable", "amira") == 0
    new_password = "a second, longer passphrase"
    assert run(data, "user", "reset-password", "amira", "--password-stdin",
               stdin=new_password + "\n") == 0  # fmt: skip
    assert run(data, "user", "list") == 0
    out, err = capsys.readouterr()
    assert "amira  investigator  password" in out and "active" in out
    with Archive.open(data, create=False) as archive:
        directory = Directory(archive.catalog)
        assert directory.password_principal("amira", new_password).user == "amira"
        with pytest.raises(Unauthenticated):
            directory.password_principal("amira", PASSWORD)

    changed = ("user-disabled", "user-enabled", "password-reset")
    changes = [(e.action, e.actor, e.details["user"]) for e in events(data) if e.action in changed]
    assert changes == [
        ("user-disabled", owner, "amira"),
        ("user-enabled", owner, "amira"),
        ("password-reset", owner, "amira"),
    ]
    everything = json.dumps([e.to_dict() for e in events(data)]) + out + err
    assert PASSWORD not in everything and new_password not in everything
    assert "argon2" not in everything


def test_a_password_is_read_never_made_up(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(data, "user", "add", "amira", "--role", "investigator") == 0
    capsys.readouterr()
    assert run(data, "user", "add", "sara", "--role", "auditor", "--password-stdin",
               stdin="short\n") == 2  # fmt: skip
    assert "at least 12 characters" in capsys.readouterr().err
    assert run(data, "user", "add", "sara", "--role", "auditor", "--password-stdin",
               stdin="") == 2  # fmt: skip
    assert "no password for sara on standard input" in capsys.readouterr().err
    # Not a terminal, and no --password-stdin: nothing to ask at, so nothing changes.
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(data, "user", "reset-password", "amira") == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert run(data, "user", "add", "Amira Haddad", "--role", "investigator") == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert run(data, "user", "add", "amira", "--role", "investigator") == 1
    assert "already a user called 'amira'" in capsys.readouterr().err
    assert [e.details["user"] for e in events(data, "user-added")] == [owner_name(), "amira"]


def test_a_token_is_shown_once_bound_to_its_person_and_revoked_at_once(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(data, "user", "add", "amira", "--role", "investigator") == 0
    capsys.readouterr()
    assert run(data, "token", "create", "--user", "amira", "--name", "laptop") == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("ocp_") and out == secret + "\n"
    assert "paste it into the extension's options" in err and secret not in err
    with Archive.open(data, create=False) as archive:
        who = Directory(archive.catalog).token_principal(secret)
        assert (who.user, who.device) == ("amira", "laptop")

    assert run(data, "token", "list", "--json") == 0
    listed = capsys.readouterr().out
    tokens = {(t["user"], t["name"]) for t in json.loads(listed)["tokens"]}
    assert tokens == {("amira", "laptop"), (owner_name(), OWNER_DEVICE)}
    assert secret not in listed and secret_sha256(secret) not in listed
    assert run(data, "token", "list", "--user", "amira") == 0
    assert capsys.readouterr().out.startswith("amira  laptop  made ")
    assert run(data, "token", "create", "--user", "amira", "--name", "laptop") == 1
    assert "already has a token called 'laptop'" in capsys.readouterr().err

    assert run(data, "token", "revoke", "laptop", "--user", "amira") == 0
    assert "revoked amira's token 'laptop'" in capsys.readouterr().out
    with (
        Archive.open(data, create=False) as archive,
        pytest.raises(Unauthenticated, match="revoked"),
    ):
        Directory(archive.catalog).token_principal(secret)
    assert run(data, "token", "revoke", "laptop", "--user", "amira") == 2
    assert "no live token called 'laptop'" in capsys.readouterr().err
    assert run(data, "token", "list", "--user", "amira", "--all", "--json") == 0
    [row] = json.loads(capsys.readouterr().out)["tokens"]
    assert row["revoked_at"] is not None

    made, revoked = events(data, "token-created"), events(data, "token-revoked")
    assert [(e.actor, e.details) for e in made + revoked] == [
        (owner_name(), {"user": "amira", "token": "laptop", "device": "command line"}),
    ] * 2
    custody = json.dumps([e.to_dict() for e in events(data)])
    assert secret not in custody and secret_sha256(secret) not in custody

    # Bare `token` still prints this computer's token: the owner's, as on a laptop.
    assert run(data, "token") == 0
    own = capsys.readouterr().out.strip()
    assert own == (data / TOKEN_FILE).read_text().strip()
    with Archive.open(data, create=False) as archive:
        who = Directory(archive.catalog).token_principal(own)
    assert (who.user, who.device) == (owner_name(), OWNER_DEVICE)


def test_cases_and_their_members_are_recorded_in_the_case_s_custody(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = owner_name()
    for name, role in (("amira", "investigator"), ("omar", "reviewer")):
        assert run(data, "user", "add", name, "--role", role) == 0
    assert run(data, "case", "create", "aleppo", "--member", "amira", "--sensitive") == 0
    assert f"members: {owner}, amira" in capsys.readouterr().out
    assert run(data, "case", "create", "aleppo") == 1
    assert "already a case called 'aleppo'" in capsys.readouterr().err
    assert run(data, "case", "create", "idlib", "--member", "nobody") == 2
    assert "no user called 'nobody'" in capsys.readouterr().err
    assert run(data, "case", "add-member", "aleppo", "omar") == 0
    assert run(data, "case", "add-member", "aleppo", "omar") == 1
    assert "already a member" in capsys.readouterr().err
    assert run(data, "case", "add-member", "raqqa", "omar") == 2
    assert "no case 'raqqa'" in capsys.readouterr().err
    assert run(data, "case", "members", "aleppo", "--json") == 0
    shown = json.loads(capsys.readouterr().out)["members"]
    assert shown == sorted(
        [{"name": owner, "role": "admin"}, {"name": "amira", "role": "investigator"},
         {"name": "omar", "role": "reviewer"}], key=lambda m: m["name"],
    )  # fmt: skip
    assert run(data, "case", "remove-member", "aleppo", "omar") == 0
    assert run(data, "case", "remove-member", "aleppo", "omar") == 2
    assert "omar is not a member of case 'aleppo'" in capsys.readouterr().err

    with Archive.open(data, create=False) as archive:
        catalog = archive.catalog
        assert catalog.members("aleppo") == sorted([owner, "amira"])
        assert catalog.sensitive_cases() == ["aleppo"]
        assert "idlib" not in {case.name for case in catalog.list_cases()}, "refused whole"
        custody = archive.custody
        if isinstance(custody, DbCustodyLog):  # team mode: in the case's own chain
            in_case = list(custody.chain(case_chain("aleppo")).events())
            assert [e.action for e in in_case] == [
                "chain-opened", "case-created", "member-added", "member-removed",
            ]  # fmt: skip
        else:
            in_case = [e for e in custody.events() if "case_sha256" in e.details]
    created, added, removed = [e for e in in_case if e.action != "chain-opened"]
    case_hash = sha256_bytes(b"aleppo")
    assert created.details == {
        "case_sha256": case_hash, "members": [owner, "amira"], "second_factor": True,
        "device": "command line",
    }  # fmt: skip
    assert (added.actor, added.details["user"], added.details["case_sha256"]) == (
        owner, "omar", case_hash,
    )  # fmt: skip
    assert (removed.action, removed.details["user"]) == ("member-removed", "omar")
    assert "aleppo" not in json.dumps([e.details for e in (created, added, removed)])
    assert len(events(data, "member-added")) == 1, "refused changes write no event"


def test_the_command_line_acts_as_someone_with_their_role(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(data, "user", "add", "amira", "--role", "investigator") == 0
    assert run(data, "user", "add", "lina", "--role", "admin") == 0
    assert run(data, "case", "create", "aleppo", "--member", "amira") == 0
    capsys.readouterr()
    before = len(events(data))

    assert run(data, "user", "add", "x", "--role", "admin", who="amira") == 1
    assert "'manage-users' permission" in capsys.readouterr().err
    assert run(data, "case", "add-member", "aleppo", "lina", who="amira") == 1
    assert "'manage-cases' permission" in capsys.readouterr().err
    assert run(data, "token", "create", "--user", "lina", "--name", "x", who="amira") == 1
    assert run(data, "token", "list", "--user", "lina", who="amira") == 1
    assert run(data, "user", "list", who="amira") == 1
    assert run(data, "user", "disable", "lina", who="nobody") == 1
    assert "'nobody' is disabled or gone" in capsys.readouterr().err
    assert len(events(data)) == before, "a refused command writes nothing"

    # A person's own tokens are theirs to make, list and revoke; their cases' members too.
    assert run(data, "token", "create", "--user", "amira", "--name", "phone", who="amira") == 0
    capsys.readouterr()
    assert run(data, "token", "list", who="amira") == 0
    assert [line.split()[:2] for line in capsys.readouterr().out.splitlines()] == [
        ["amira", "phone"]
    ], "one's own tokens only"
    assert run(data, "case", "members", "aleppo", who="amira") == 0
    assert "amira  investigator" in capsys.readouterr().out
    assert run(data, "token", "revoke", "phone", "--user", "amira", who="amira") == 0
    [made] = events(data, "token-created")
    assert (made.actor, made.details["device"]) == ("amira", "command line")

    # Another admin acts under their own name; an admin may not disable themselves.
    assert run(data, "case", "add-member", "aleppo", "lina", who="lina") == 0
    assert events(data, "member-added")[-1].actor == "lina"
    assert run(data, "user", "disable", "lina", who="lina") == 1
    assert "may not disable their own account" in capsys.readouterr().err
    assert run(data, "user", "disable", "amira", who="lina") == 0
    assert run(data, "token", "list", who="amira") == 1
    assert "'amira' is disabled or gone" in capsys.readouterr().err


def test_without_an_archive_nothing_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "list", "--data", str(tmp_path / "none")]) == 2
    assert "no archive at" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_this_computer_s_token_unknown_to_the_archive_asks_for_a_name(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(data, "user", "list") == 0
    (data / TOKEN_FILE).unlink()
    assert run(data, "user", "list") == 1
    assert "name yourself with `osint-capture --as USER" in capsys.readouterr().err
    assert run(data, "user", "list", who=owner_name()) == 0


def test_a_second_factor_is_kept_only_once_a_code_from_it_is_typed(tmp_path: Path) -> None:
    """The real command, as a person runs it: the secret printed, a code typed back."""
    data = tmp_path / "data"
    Archive.open(data).close()
    args = [CLI, "user", "totp", owner_name(), "--data", str(data)]
    for good in (False, True):
        process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stdin is not None
        uri = process.stdout.readline().strip()
        secret = process.stdout.readline().strip().removeprefix("secret: ")
        assert uri.startswith("otpauth://totp/osint-capture:") and f"secret={secret}" in uri
        code = pyotp.TOTP(secret).now()
        wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
        out, err = process.communicate((code if good else wrong) + "\n", timeout=60)
        assert "type the 6-digit code" in err
        with Archive.open(data, create=False) as archive:
            kept = archive.catalog.user(owner_name())
            assert kept is not None
            enrolled = [e for e in archive.custody.events() if e.action == "second-factor-enrolled"]
        if good:
            assert process.returncode == 0, err
            assert "second factor enrolled" in out
            assert kept.totp_secret == secret
            assert [e.details for e in enrolled] == [
                {"user": owner_name(), "device": "command line"}
            ]
            assert secret not in json.dumps(enrolled[0].to_dict())
        else:
            assert process.returncode == 2 and "does not match" in err
            assert kept.totp_secret is None and not enrolled


def test_make_run_prints_what_the_readme_says() -> None:
    """The quick start quotes the line `make run` prints above this computer's token, and
    says the token is what `osint-capture token` prints: the recipe does exactly that."""
    root = Path(__file__).resolve().parent.parent
    recipe = root.joinpath("Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    echoes = [line.removeprefix('@echo "').removesuffix('"') for line in lines if "echo" in line]
    readme = root.joinpath("README.md").read_text()
    quoted = readme.split("prints that token first, under\n", 1)[1].split('"')[1]
    assert echoes and echoes[0].startswith(quoted), (echoes, quoted)
    assert lines[len(echoes)] == "@$(BIN)/osint-capture token --data $(DATA)", lines
    assert lines[-1].startswith("$(BIN)/osint-capture serve --data $(DATA)"), lines
