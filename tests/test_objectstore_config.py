"""What configures the object store, without a server: the s3:// URL, the credentials
(environment or a 0600 file, never the URL) and the SQLite version book."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.objectstore import (
    BadLocation,
    RecordedVersion,
    RetentionMode,
    SqliteVersionBook,
    load_credentials,
    parse_location,
)
from archive.objectstore.location import MIN_PART_SIZE
from archive.store import AlreadySealed

# -- the URL and the credentials ------------------------------------------------------------


def test_a_store_url_is_read_into_a_location() -> None:
    found = parse_location(
        "s3://evidence/unit-a/team?endpoint=http://127.0.0.1:8333/&region=eu-west-1"
        "&retention=governance&days=3650&part_mb=32"
    )
    assert (found.bucket, found.prefix, found.endpoint) == (
        "evidence",
        "unit-a/team",
        "http://127.0.0.1:8333",
    )
    assert (found.region, found.retention.mode, found.retention.days) == (
        "eu-west-1",
        RetentionMode.GOVERNANCE,
        3650,
    )
    assert found.part_size == 32 * 1024 * 1024 >= MIN_PART_SIZE
    assert found.capture_key("c1", "a.bin") == "unit-a/team/captures/c1/a.bin"
    assert parse_location(found.url()) == found


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://AKIA:secret@evidence?days=1", "carries credentials"),
        ("s3://evidence?days=1&endpoint=http://k:s@127.0.0.1:1", "carries credentials"),
        ("s3://evidence?days=1&retension=COMPLIANCE", "unknown parameter"),
        ("s3://evidence?retention=COMPLIANCE", "days=N"),
        ("s3://evidence?days=1&retention=LOOSE", "COMPLIANCE or GOVERNANCE"),
        ("s3://evidence?days=0", "1 to 36500"),
        ("s3://Evidence_Bucket?days=1", "not an S3 bucket name"),
        ("s3://evidence/../x?days=1", "'.' or '..'"),
        ("s3://evidence?days=1&part_mb=1", "5 to 5120"),
        ("file:///data?days=1", "is not s3://"),
    ],
)
def test_a_bad_store_url_is_refused_with_what_to_fix(url: str, says: str) -> None:
    with pytest.raises(BadLocation, match=says.replace(".", r"\.").replace("?", r"\?")):
        parse_location(url)


def test_credentials_come_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    found = load_credentials(env)
    assert (found.access_key_id, found.source) == ("AKID", "environment")
    assert "s3cr3t" not in repr(found)
    with pytest.raises(BadLocation, match="AWS_SECRET_ACCESS_KEY is not set"):
        load_credentials({"AWS_ACCESS_KEY_ID": "AKID"})
    with pytest.raises(BadLocation, match="no S3 credentials"):
        load_credentials({})
    file = tmp_path / "credentials"
    file.write_text("[default]\naws_access_key_id = AKF\naws_secret_access_key = fromfile\n")
    file.chmod(0o644)
    with pytest.raises(BadLocation, match="chmod 600"):
        load_credentials({"AWS_SHARED_CREDENTIALS_FILE": str(file)})
    file.chmod(0o600)
    found = load_credentials({"AWS_SHARED_CREDENTIALS_FILE": str(file)})
    assert (found.access_key_id, found.secret_access_key, found.source) == (
        "AKF",
        "fromfile",
        str(file),
    )
    file.write_text("[other]\naws_access_key_id = A\n")
    with pytest.raises(BadLocation, match=r"no \[default\] section"):
        load_credentials({}, file)


def test_the_version_book_keeps_one_version_per_key(tmp_path: Path) -> None:
    book = SqliteVersionBook(tmp_path / "v.sqlite")
    book.record_version("p/captures/c1/a", "v1", "aa", 1)
    book.record_version("p/captures/c1/a", "v1", "aa", 1)  # the same again: no-op
    with pytest.raises(AlreadySealed, match="already recorded as version v1"):
        book.record_version("p/captures/c1/a", "v2", "aa", 1)
    book.record_version("p/captures/c1_x/b", "v3", "bb", 2)
    book.record_version("p/captures/c10/c", "v4", "cc", 3)
    assert book.object_version("p/captures/c1/a") == RecordedVersion(
        "p/captures/c1/a", "v1", "aa", 1
    )
    assert book.object_version("p/nope") is None
    assert [r.key for r in book.recorded_versions("p/captures/c1/")] == ["p/captures/c1/a"]
    assert len(list(SqliteVersionBook(tmp_path / "v.sqlite").recorded_versions(""))) == 3
