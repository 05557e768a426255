"""The data directory: one :class:`Archive` object owns it and knows every name in it.

Everything that keeps evidence receives the archive instead of a ``(data_dir,
catalog)`` pair and builds nothing of its own: the catalog is opened once per
process (one connection, one writer: every write goes through it, in order; a
server's event loop reads through a second, read-only connection), the
file store, the custody log and the signing key hang off it. A team installation
replaces what the archive holds (a PostgreSQL catalog, an object store), not the
code that uses it.

``DATA/`` holds::

    catalog.sqlite3      the catalog (and its WAL files)
    custody.jsonl        the chain of custody (its lock, anchors/ and anchors.lock beside it);
                         in team mode the chains are in the catalog's database instead
    access-anchors/      the access log's anchors (the log itself is a chain in the catalog)
    keys/                the installation's signing key
    captures/ID/         each capture's sealed files
    quarantine/          unsealed leftovers of interrupted captures, set aside
    work/ID/             scratch of a running capture (never evidence)
    work/.browsers/      each running Chromium's profile, temp and crash database (never
                         evidence): removed when it closes, swept at start once its owner is gone
    incoming/ID/         what the investigator's browser sent, before it is sealed
    replay/              plain WACZ views for the dashboard's replay (never evidence)
    exports/             packages exported from the dashboard
    models/              speech models rejoined for analysis
    api-token            this computer's token (the owner's), what `osint-capture token` prints
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from archive.catalog import CATALOG_NAME, Catalog, open_catalog
from archive.errors import NotFound
from archive.evidence.access_log import AccessLog
from archive.evidence.custody import SYSTEM_ACTOR, CustodyLog
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_interface import Custody
from archive.evidence.signing import SigningKey
from archive.incoming import INCOMING_DIR
from archive.sealed_store import SealedStore, open_store
from archive.settings import Settings, load_settings
from archive.store import FileStore

#: Names that are needed before an archive is opened (the server's secrets, read by
#: ``serve`` and ``token``; the speech models, found before the engines load) are
#: joined to the data directory by their users; every other name is the archive's.
REPLAY_DIR = "replay"
EXPORTS_DIR = "exports"
MODELS_DIR = "models"
#: Where the programs that work on a data directory keep their browsers' scratch
#: (:mod:`capture.browser_scratch`): on the data disk, found again after a crash.
BROWSER_SCRATCH_DIR = Path("work", ".browsers")
TOKEN_FILE = "api-token"


class NoArchive(NotFound):
    """The directory holds no archive, and the caller asked not to make one there."""

    def __init__(self, root: Path) -> None:
        super().__init__(
            f"no archive at {root} (no {CATALOG_NAME}): check --data, "
            "or capture something first to create one"
        )
        self.root = root


class Archive:
    """One data directory and what keeps it: catalog, file store, custody, signing key.

    Open it once per process (:meth:`open`) and hand it to whoever needs it; it is
    safe to share between threads (the catalog serialises its writes).
    """

    def __init__(
        self,
        root: Path,
        catalog: Catalog,
        *,
        store: SealedStore | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.root = Path(root)
        self.catalog = catalog
        #: The engines this archive runs on (the embedded defaults when not given).
        self.settings = settings or load_settings(self.root, environ={})
        self.store: SealedStore = store if store is not None else FileStore(self.root)
        #: The chain of custody: ``DATA/custody.jsonl`` beside a SQLite catalog (embedded),
        #: chains per case in the catalog's database beside a PostgreSQL one (team mode).
        self.custody: Custody = (
            CustodyLog(self.root, catalog, self.store)
            if self.settings.catalog_scheme == "sqlite"
            else DbCustodyLog(catalog, self.store)
        )
        #: Who viewed, downloaded, replayed or exported what: a chain in the catalog's
        #: chain tables, on either engine (:mod:`archive.evidence.access_log`).
        self.access = AccessLog(catalog, self.store)
        self._key: SigningKey | None = None
        self._reader: Catalog | None = None
        self._reader_lock = threading.Lock()

    @classmethod
    def open(cls, root: Path, *, create: bool = True, settings: Settings | None = None) -> Self:
        """Open the archive at ``root``; make it when ``create`` (else :class:`NoArchive`).

        ``settings`` say which catalog and store (:func:`archive.settings.load_settings`
        for ``root`` when not given: the environment, ``DATA/osint-capture.toml``, else
        everything in ``root``). A team catalog is a database that is always there, so
        ``create`` only matters for a SQLite one.
        """
        root = Path(root)
        settings = settings or load_settings(root)
        if not create and not cls.exists(root, settings):
            raise NoArchive(root)
        root.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings.catalog)
        try:
            store = open_store(root, settings.store, catalog)
        except BaseException:
            catalog.close()
            raise
        return cls(root, catalog, store=store, settings=settings)

    @staticmethod
    def exists(root: Path, settings: Settings | None = None) -> bool:
        """Whether ``root`` holds an archive (its catalog), without creating anything;
        a PostgreSQL catalog always counts as there (it is made by its administrator)."""
        settings = settings or load_settings(root)
        if settings.catalog_scheme != "sqlite":
            return True
        return settings.sqlite_path().exists()

    @property
    def reader(self) -> Catalog:
        """A second, read-only connection for reads that must not wait behind a commit
        (a server's event loop): the database refuses writes on it, so the writer stays one."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = open_catalog(self.settings.catalog, read_only=True)
            return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.catalog.close()
        close_store = getattr(self.store, "close", None)
        if close_store is not None:
            close_store()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def signing_key(self) -> SigningKey:
        """The installation's key, made on first use; its making is a custody event."""
        if self._key is None:
            key, created = SigningKey.load_or_create(self.root)
            if created:
                self.custody.append(
                    "key-created",
                    actor=SYSTEM_ACTOR,
                    details={"fingerprint": key.fingerprint, "algorithm": "ECDSA-P256-SHA256"},
                )
            self._key = key
        return self._key

    # -- names under DATA/ --------------------------------------------------------------

    @property
    def replay_dir(self) -> Path:
        return self.root / REPLAY_DIR

    @property
    def exports_dir(self) -> Path:
        return self.root / EXPORTS_DIR

    def incoming_dir(self, capture_id: str) -> Path:
        """Where what the investigator's browser sent waits until the capture seals it."""
        return self.root / INCOMING_DIR / capture_id
