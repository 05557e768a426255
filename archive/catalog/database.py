"""The :class:`Catalog`: one object, one connection, every concern's tables.

Why mixins: callers (the pipeline, the service, the scheduler, the dashboard, the
CLI) hold one catalog and call one interface, and every method must share one
connection and one lock so each write stays one ``BEGIN IMMEDIATE`` transaction.
Composition (``catalog.targets.add(...)``) would change every caller and still need
that shared connection; mixins keep the interface and let each concern's SQL live in
its own module. Each mixin derives from :class:`CatalogConnection`, so it reaches the
database only through ``_read``/``_write``, and no mixin calls another's methods.

The catalog package is the only code that speaks SQL, so a PostgreSQL catalog
replaces this package; its SQL sticks to what both understand where it can
(``ON CONFLICT``, plain types).
"""

from __future__ import annotations

from archive.catalog.analyses import AnalysisTables
from archive.catalog.captures import CaptureTables
from archive.catalog.cases import CaseTables
from archive.catalog.custody_head import CustodyHeadTables
from archive.catalog.queue import QueueTables
from archive.catalog.search import SearchTables
from archive.catalog.targets import TargetTables


class Catalog(
    CaseTables,
    CaptureTables,
    QueueTables,
    TargetTables,
    CustodyHeadTables,
    AnalysisTables,
    SearchTables,
):
    """The catalog: which cases and captures exist, and the hashes of every sealed file.

    Open it with :meth:`Catalog.open` (which applies any missing migration) and close
    it, or use it as a context manager. Safe to share between threads.
    """
