"""What configures the object store, without a server: the s3:// URL and the credentials
(environment or a 0600 file, never the URL). Its version book is the catalog
(tests/test_catalog_versions_holds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.objectstore import BadLocation, RetentionMode, load_credentials, parse_location
from archive.objectstore.location import MIN_PART_SIZE

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
