"""The catalog, all its SQL: cases, captures and their hashes, queue, targets, analyses,
search, object versions and legal holds; on SQLite (the embedded default) or PostgreSQL
(team mode), behind one interface (:class:`Catalog`, opened by :func:`open_catalog`)."""

from archive.catalog.cases import CASE_NAME_MAX, BadCaseName, validate_case_name
from archive.catalog.connection import BUSY_TIMEOUT_MS
from archive.catalog.database import Catalog
from archive.catalog.lending import LendingNotShared
from archive.catalog.opening import open_catalog
from archive.catalog.rows import (
    ALERT_KINDS,
    ANALYSIS_STATUSES,
    FINISHED_STATUSES,
    SNIPPET_END,
    SNIPPET_START,
    STATUSES,
    TARGET_STATES,
    TIMELINE_KINDS,
    AnalysisHit,
    AnalysisRow,
    CaptureRow,
    CaseHold,
    CaseRow,
    ObjectVersion,
    QueuedRequest,
    RunPlan,
    SearchHit,
    SessionRow,
    TargetRow,
    TextLine,
    TimelineEvent,
    TokenRow,
    UserRow,
)
from archive.catalog.schema import MIGRATIONS, Migration
from archive.catalog.shared import (
    BadCatalogURL,
    BadFilter,
    CatalogBusy,
    CatalogError,
    CatalogFull,
    CatalogUnavailable,
    NotInCatalog,
    NotSealed,
    StateConflict,
    TargetRemoved,
)
from archive.catalog.targets import MAX_CLAIM
from archive.catalog.visibility import Visibility

#: The catalog's file in a data directory (``DATA/catalog.sqlite3``).
CATALOG_NAME = "catalog.sqlite3"

__all__ = [
    "ALERT_KINDS",
    "ANALYSIS_STATUSES",
    "BUSY_TIMEOUT_MS",
    "CASE_NAME_MAX",
    "CATALOG_NAME",
    "FINISHED_STATUSES",
    "MAX_CLAIM",
    "MIGRATIONS",
    "SNIPPET_END",
    "SNIPPET_START",
    "STATUSES",
    "TARGET_STATES",
    "TIMELINE_KINDS",
    "AnalysisHit",
    "AnalysisRow",
    "BadCaseName",
    "BadCatalogURL",
    "BadFilter",
    "CaptureRow",
    "CaseHold",
    "CaseRow",
    "Catalog",
    "CatalogBusy",
    "CatalogError",
    "CatalogFull",
    "CatalogUnavailable",
    "LendingNotShared",
    "Migration",
    "NotInCatalog",
    "NotSealed",
    "ObjectVersion",
    "QueuedRequest",
    "RunPlan",
    "SearchHit",
    "SessionRow",
    "StateConflict",
    "TargetRemoved",
    "TargetRow",
    "TextLine",
    "TimelineEvent",
    "TokenRow",
    "UserRow",
    "Visibility",
    "open_catalog",
    "validate_case_name",
]
