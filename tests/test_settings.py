"""Settings: which engine each concern runs on, from the environment, a file or defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.settings import CONFIG_NAME, SettingsError, load_settings

TEAM = {
    "OSINT_CAPTURE_CATALOG": "postgresql://capture@127.0.0.1:5432/osint",
    "OSINT_CAPTURE_STORE": "s3://evidence/unit-a?endpoint=http://127.0.0.1:8333&region=us-east-1&days=3650",
    "OSINT_CAPTURE_QUEUE": "postgresql",
}


def test_without_settings_everything_is_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.catalog == f"sqlite://{tmp_path}/catalog.sqlite3"
    assert settings.sqlite_path() == tmp_path / "catalog.sqlite3"
    assert settings.store == f"file://{tmp_path}"
    assert settings.queue == "embedded"
    assert not settings.team
    assert set(settings.origins.values()) == {"default"}


def test_the_environment_names_the_team_engines(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ=TEAM)
    assert settings.team
    assert (settings.catalog_scheme, settings.store_scheme) == ("postgresql", "s3")
    assert settings.origins["store"] == "$OSINT_CAPTURE_STORE"


def test_the_data_directory_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text(
        'catalog = "postgresql://capture@db/osint"\nqueue = "postgresql"\n'
    )
    settings = load_settings(
        tmp_path, environ={"OSINT_CAPTURE_CATALOG": "postgresql://other@db2/osint"}
    )
    assert settings.catalog == "postgresql://other@db2/osint"
    assert settings.queue == "postgresql"
    assert settings.origins["queue"] == str(tmp_path / CONFIG_NAME)
    assert settings.origins["store"] == "default"


def test_a_named_config_file_that_is_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path, tmp_path / "typo.toml", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('catalg = "sqlite:///x"\n', "unknown setting"),
        ("queue = 3\n", "must be a string"),
        ("queue = \n", "cannot read config file"),
        ('catalog = "mysql://db/x"\n', "expected sqlite"),
        ('catalog = "postgresql://u:secret@db/x"\n', "holds a password"),
        ('store = "s3://key:secret@bucket"\n', "carr|credentials"),
        ('store = "ftp://host/x"\n', "expected file"),
        ('queue = "redis"\n', "expected embedded or postgresql"),
        ('queue = "postgresql"\n', "needs a postgresql:// catalog"),
        (
            'store = "s3://evidence?endpoint=http://127.0.0.1:1&region=us-east-1&days=1"\n',
            "s3:// store needs a postgresql:// catalog",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / CONFIG_NAME).write_text(text)
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings(tmp_path, environ={})
    assert "secret" not in str(caught.value)
