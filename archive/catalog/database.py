"""The :class:`Catalog`: one object, one database, every concern's tables.

Why mixins: callers (the pipeline, the service, the scheduler, the dashboard, the
CLI) hold one catalog and call one interface, and every method must share one
engine so each write stays one transaction (``BEGIN IMMEDIATE`` on SQLite).
Composition (``catalog.targets.add(...)``) would change every caller and still need
that shared connection; mixins keep the interface and let each concern's SQL live in
its own module. Each mixin derives from :class:`CatalogConnection`, so it reaches the
database only through ``_read``/``_write``, and no mixin calls another's methods.

The catalog package is the only code that speaks SQL. The concerns' SQL is written
once and runs on SQLite and on PostgreSQL alike (``?`` placeholders, ``ON CONFLICT``,
``RETURNING``, plain types); what only one database says (its schema, its text search,
its row locks, its errors) lives in that database's modules (``sqlite_*``, ``pg_*``).
"""

from __future__ import annotations

from archive.catalog.analyses import AnalysisTables
from archive.catalog.captures import CaptureTables
from archive.catalog.cases import CaseTables
from archive.catalog.custody_chains import CustodyChainTables
from archive.catalog.custody_head import CustodyHeadTables
from archive.catalog.lending import LendingTables
from archive.catalog.people import PeopleTables
from archive.catalog.queue import QueueTables
from archive.catalog.search import SearchTables
from archive.catalog.targets import TargetTables
from archive.catalog.tombstones import TombstoneTables
from archive.catalog.versions import ObjectVersionTables


class Catalog(
    CaseTables,
    CaptureTables,
    QueueTables,
    LendingTables,
    TargetTables,
    CustodyHeadTables,
    CustodyChainTables,
    AnalysisTables,
    SearchTables,
    ObjectVersionTables,
    PeopleTables,
    TombstoneTables,
):
    """The catalog: which cases and captures exist, and the hashes of every sealed file.

    Open it with :meth:`Catalog.open` (a SQLite file) or
    :func:`archive.catalog.open_catalog` (a catalog URL: SQLite or PostgreSQL), which
    apply any missing migration, and close it, or use it as a context manager. Safe to
    share between threads.
    """
