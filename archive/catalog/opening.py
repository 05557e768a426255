"""Opening a catalog from its URL: ``sqlite:///abs/path`` or ``postgresql://...``.

One setting names the catalog (``OSINT_CAPTURE_CATALOG``, or the configuration file):
its URL says which database, and this is the one place that reads it. The
PostgreSQL engine (and psycopg with it) is imported only when a PostgreSQL URL is
opened, so the embedded default needs nothing beyond Python.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from archive.catalog.connection import BUSY_TIMEOUT_MS
from archive.catalog.database import Catalog
from archive.catalog.shared import BadCatalogURL

#: The schemes of a PostgreSQL catalog URL (libpq's own).
POSTGRESQL_SCHEMES = ("postgresql", "postgres")


def open_catalog(
    url: str, *, read_only: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> Catalog:
    """The catalog at ``url``, open, its schema brought up to date (a reader's only checked).

    - ``sqlite:///abs/path/catalog.sqlite3``: that SQLite file, as :meth:`Catalog.open`.
    - ``postgresql://user@host:port/dbname`` (or ``postgres://``, any libpq URL): that
      database. Passwords come from ``PGPASSWORD`` or a ``~/.pgpass`` file (mode 0600),
      not the URL, so they never reach a log; a URL's password is used but never shown.

    ``read_only`` opens a reader: the database refuses its writes. ``busy_timeout_ms``:
    how long a write waits for a lock before :class:`archive.catalog.CatalogBusy`.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        path = sqlite_path(url)
        return Catalog.open(path, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
    if scheme in POSTGRESQL_SCHEMES:
        from archive.catalog.pg_engine import PgEngine  # psycopg only when it is used

        engine = PgEngine.open(url, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
        return Catalog(engine)
    raise BadCatalogURL(
        f"catalog URL {_shown(url)!r} is neither sqlite:///ABSOLUTE/PATH nor"
        " postgresql://USER@HOST:PORT/DATABASE"
    )


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///abs/path`` URL names (three slashes, then an absolute path)."""
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
        raise BadCatalogURL(
            f"SQLite catalog URL {url!r} must be sqlite:/// followed by an absolute path"
            " (for example sqlite:///srv/osint/data/catalog.sqlite3), with no host or query"
        )
    return Path(parts.path)


def _shown(url: str) -> str:
    """A URL as an error message may show it: without anything before an ``@``."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return parts._replace(netloc="…@" + parts.netloc.rsplit("@", 1)[1]).geturl()
    return url
