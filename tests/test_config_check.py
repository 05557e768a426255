"""``osint-capture config check`` against real engines: what it finds, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capture.cli import main
from capture.lending import new_lending_key
from tests.pgcluster import free_port
from tests.seaweed import Seaweed


def check(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict]:
    code = main(["config", "check", "--data", str(data), "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def team(monkeypatch: pytest.MonkeyPatch, seaweed: Seaweed, catalog: str, bucket: str) -> None:
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", catalog)
    monkeypatch.setenv(
        "OSINT_CAPTURE_STORE",
        f"s3://{bucket}/unit?endpoint={seaweed.endpoint}&region=us-east-1&days=30",
    )
    monkeypatch.setenv("OSINT_CAPTURE_QUEUE", "postgresql")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)


def test_embedded_mode_is_all_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body = check(tmp_path, monkeypatch, capsys)
    assert code == 0 and body["ok"] and not body["team"]
    catalog, store, queue = body["engines"]
    assert catalog["facts"]["engine"].startswith("SQLite ")
    assert catalog["facts"]["integrity"] == "ok"
    assert store["facts"]["where"] == str(tmp_path.absolute())
    assert queue["setting"] == "embedded"


def test_team_engines_are_described_from_what_they_answer(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
    seaweed: Seaweed,
) -> None:
    team(monkeypatch, seaweed, postgres_url, seaweed.make_bucket(locked=True))
    monkeypatch.delenv("OSINT_CAPTURE_LENDING_KEY", raising=False)
    code, body = check(tmp_path, monkeypatch, capsys)
    assert code == 0 and body["ok"] and body["team"], body
    catalog, store, queue, lending = body["engines"]
    assert lending["ok"] and lending["facts"]["key"].startswith("not set: requests that lend")
    assert catalog["facts"]["engine"].startswith("PostgreSQL 15")
    assert catalog["facts"]["encoding"] == "UTF8"
    assert store["facts"]["versioning"] == "Enabled" and store["facts"]["object_lock"]
    assert store["facts"]["retention"] == {"mode": "COMPLIANCE", "days": 30}
    assert store["facts"]["credentials from"] == "environment"
    assert queue["facts"]["engine"].startswith("procrastinate")
    assert seaweed.secret_key not in json.dumps(body)
    # A lending key is checked, never shown; a malformed one fails the check.
    key = new_lending_key()
    monkeypatch.setenv("OSINT_CAPTURE_LENDING_KEY", key)
    code, body = check(tmp_path, monkeypatch, capsys)
    assert code == 0 and body["engines"][3]["facts"]["key"].startswith("set")
    assert key not in json.dumps(body)
    monkeypatch.setenv("OSINT_CAPTURE_LENDING_KEY", key[:20])
    code, body = check(tmp_path, monkeypatch, capsys)
    assert code == 1 and not body["engines"][3]["ok"]
    assert "config lending-key" in body["engines"][3]["problem"]


def test_a_bucket_without_object_lock_is_refused_unless_allowed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
    seaweed: Seaweed,
) -> None:
    team(monkeypatch, seaweed, postgres_url, seaweed.make_bucket(locked=False))
    code, body = check(tmp_path, monkeypatch, capsys)
    store = body["engines"][1]
    assert code == 1 and not body["ok"] and not store["ok"]
    assert "Object Lock" in store["problem"]
    assert body["engines"][0]["ok"], "one bad engine does not hide the others' state"
    code, body = check(tmp_path, monkeypatch, capsys, "--allow-unlocked")
    assert code == 0 and body["engines"][1]["facts"]["locked"] is False
    assert "--allow-unlocked" in body["engines"][1]["problem"]
    # Only the check goes on: a command that would store evidence there still refuses.
    assert main(["fsck", "--data", str(tmp_path)]) == 1
    assert "Object Lock" in capsys.readouterr().err


def test_an_engine_that_does_not_answer_fails_its_check_and_says_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    seaweed: Seaweed,
) -> None:
    nobody = f"postgresql://capture@127.0.0.1:{free_port()}/osint"
    team(monkeypatch, seaweed, nobody, seaweed.make_bucket(locked=True))
    code, body = check(tmp_path, monkeypatch, capsys)
    catalog, store, queue, _lending = body["engines"]
    assert code == 1 and not catalog["ok"] and not queue["ok"]
    assert "127.0.0.1" in catalog["problem"]
    assert store["ok"]
