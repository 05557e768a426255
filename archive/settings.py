"""Which engines an installation runs on: one URL per concern, from a file or the environment.

An installation is *embedded* (one machine: SQLite, sealed files in the data
directory, captures run inside the server) or *team* (many machines: a PostgreSQL
catalog, an S3 bucket with Object Lock, workers taking jobs from a queue in
PostgreSQL). The code is the same; these settings say which engine each concern uses:

``catalog``
    ``sqlite:///ABSOLUTE/PATH`` or ``postgresql://USER@HOST:PORT/DB``
``store``
    ``file:///ABSOLUTE/PATH`` (the sealed files' root) or
    ``s3://BUCKET[/PREFIX]?endpoint=URL&region=NAME``
``queue``
    ``embedded`` (in the server's process) or ``postgresql`` (on the catalog's database)

An S3 store and the shared queue need a PostgreSQL catalog (it keeps the custody
chains, the objects' versions and the jobs); a PostgreSQL catalog may run with the
data directory's files and the embedded queue (one machine, a bigger catalog).

They come, first found wins, from ``OSINT_CAPTURE_CATALOG`` / ``_STORE`` / ``_QUEUE``
in the environment, then the config file (``OSINT_CAPTURE_CONFIG``, which the CLI's
``--config FILE`` sets, else ``DATA/osint-capture.toml`` when it exists), then the
embedded defaults, which put
everything in the data directory exactly as an installation without settings has it.
The data directory keeps what is local to each machine in every mode: scratch,
keys, the server's token.

Secrets are never settings. A password in a catalog URL is refused (libpq reads
``PGPASSWORD`` or a ``.pgpass`` file of mode 0600); S3 keys come from
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or ``AWS_SHARED_CREDENTIALS_FILE``
(:mod:`archive.objectstore.credentials`). So settings can be printed, logged and
recorded in custody as they are.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from archive.catalog.opening import POSTGRESQL_SCHEMES, sqlite_path
from archive.catalog.shared import BadCatalogURL
from archive.errors import BadInput
from archive.objectstore.errors import BadLocation
from archive.objectstore.location import parse_location

#: The config file's name in a data directory.
CONFIG_NAME = "osint-capture.toml"
#: The environment variable naming a config file (the CLI's ``--config`` sets it).
CONFIG_ENV = "OSINT_CAPTURE_CONFIG"
#: The environment variable of each setting.
ENVIRONMENT = {
    "catalog": "OSINT_CAPTURE_CATALOG",
    "store": "OSINT_CAPTURE_STORE",
    "queue": "OSINT_CAPTURE_QUEUE",
}
STORE_SCHEMES = ("file", "s3")
QUEUES = ("embedded", "postgresql")
#: The catalog's file in a data directory, for the embedded default.
SQLITE_NAME = "catalog.sqlite3"


class SettingsError(BadInput):
    """A setting that cannot be used as given; the message names it and where it came from."""


@dataclass(frozen=True)
class Settings:
    """The engines of one installation, and where each setting was read from."""

    catalog: str
    store: str
    queue: str
    #: Each setting's origin: ``default``, ``$OSINT_CAPTURE_...`` or the config file's path.
    origins: Mapping[str, str]

    @property
    def catalog_scheme(self) -> str:
        return urlsplit(self.catalog).scheme

    @property
    def store_scheme(self) -> str:
        return urlsplit(self.store).scheme

    @property
    def team(self) -> bool:
        """Whether any concern leaves the machine (PostgreSQL, S3 or the shared queue)."""
        return (self.catalog_scheme, self.store_scheme, self.queue) != (
            "sqlite",
            "file",
            "embedded",
        )

    def sqlite_path(self) -> Path:
        """The SQLite catalog's file (only for a ``sqlite:`` catalog)."""
        return sqlite_path(self.catalog)


def embedded_defaults(data_dir: Path) -> dict[str, str]:
    """Everything in the data directory: the settings of an installation without any."""
    root = Path(data_dir).absolute()
    return {
        "catalog": f"sqlite://{root / SQLITE_NAME}",
        "store": f"file://{root}",
        "queue": "embedded",
    }


def load_settings(
    data_dir: Path,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings for ``data_dir``: environment, then config file, then defaults.

    ``config_file`` (else ``$OSINT_CAPTURE_CONFIG``) given must exist: a typo must not
    silently fall back to embedded mode. Without either, ``DATA/osint-capture.toml``
    is read when present.
    """
    env = os.environ if environ is None else environ
    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    if config_file is not None and not Path(config_file).is_file():
        raise SettingsError(f"config file {config_file} does not exist (--config)")
    path = Path(config_file) if config_file is not None else Path(data_dir) / CONFIG_NAME
    from_file = _read_file(path) if path.is_file() else {}
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    for name, default in embedded_defaults(data_dir).items():
        if env.get(ENVIRONMENT[name]):
            values[name], origins[name] = env[ENVIRONMENT[name]], f"${ENVIRONMENT[name]}"
        elif name in from_file:
            values[name], origins[name] = from_file[name], str(path)
        else:
            values[name], origins[name] = default, "default"
    settings = Settings(values["catalog"], values["store"], values["queue"], origins)
    check_settings(settings)
    return settings


def _read_file(path: Path) -> dict[str, str]:
    """The settings in a TOML file: only known names, each a string."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from exc
    unknown = sorted(set(data) - set(ENVIRONMENT))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)};"
            f" known: {', '.join(ENVIRONMENT)}"
        )
    for name, value in data.items():
        if not isinstance(value, str):
            raise SettingsError(f"config file {path}: {name} must be a string (a URL)")
    return dict(data)


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work together or would put a secret in a URL."""
    where = settings.origins
    catalog = urlsplit(settings.catalog)
    if catalog.scheme not in ("sqlite", *POSTGRESQL_SCHEMES):
        raise SettingsError(
            f"catalog {settings.catalog!r} (from {where['catalog']}): expected"
            " sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    if catalog.password is not None:
        raise SettingsError(
            f"catalog URL (from {where['catalog']}) holds a password: passwords are never"
            " settings; put it in PGPASSWORD or a .pgpass file of mode 0600"
        )
    if catalog.scheme == "sqlite":
        try:
            sqlite_path(settings.catalog)
        except BadCatalogURL as exc:
            raise SettingsError(f"catalog (from {where['catalog']}): {exc}") from exc
    _check_store(settings)
    if settings.queue not in QUEUES:
        raise SettingsError(
            f"queue {settings.queue!r} (from {where['queue']}): expected embedded or postgresql"
        )
    if settings.store_scheme == "s3" and catalog.scheme == "sqlite":
        raise SettingsError(
            "an s3:// store needs a postgresql:// catalog: team mode keeps the custody"
            " chains and the objects' versions there (a SQLite catalog's custody log and"
            " its anchors live in the data directory)"
        )
    if settings.queue == "postgresql" and catalog.scheme not in POSTGRESQL_SCHEMES:
        raise SettingsError(
            "queue postgresql runs on the catalog's database: it needs a postgresql:// catalog"
        )


def _check_store(settings: Settings) -> None:
    store = urlsplit(settings.store)
    origin = settings.origins["store"]
    if store.scheme not in STORE_SCHEMES:
        raise SettingsError(
            f"store {settings.store!r} (from {origin}): expected file:///PATH"
            " or s3://BUCKET?endpoint=URL&region=NAME"
        )
    if store.scheme == "file" and not store.path.startswith("/"):
        raise SettingsError(f"store {settings.store!r}: a file store's path must be absolute")
    if store.scheme == "s3":
        try:
            parse_location(settings.store)
        except BadLocation as exc:
            raise SettingsError(f"store (from {origin}): {exc}") from exc
