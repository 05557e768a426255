"""``osint-capture config check``: connect to each engine the settings name and say what
was found, before anyone trusts evidence to them.

A team installation fails in ways a laptop never does: a catalog URL with a typo, a
database in the wrong encoding, a bucket made without Object Lock (where anyone with
its keys could delete evidence). Each concern is checked on its own and reported
with what it rests on (server versions, the bucket's lock configuration and
retention), so one bad setting does not hide the state of the others. A check passes
only on what it saw: an engine that could not be reached, or raised anything, is a
failed finding with the reason, never a silent pass.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.catalog import open_catalog
from archive.errors import OsintCaptureError
from archive.settings import Settings


@dataclass
class Finding:
    """What one concern's engine is, and whether it can hold evidence as set."""

    concern: str
    setting: str
    origin: str
    ok: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "concern": self.concern,
            "setting": self.setting,
            "from": self.origin,
            "ok": self.ok,
            "facts": self.facts,
            "problem": self.problem,
        }


def check_engines(settings: Settings, *, allow_unlocked: bool = False) -> list[Finding]:
    """The catalog, the store and the queue, each connected to and described.

    The catalog is opened as ``serve`` opens it, so its schema is brought up to date
    (a new team database gets its tables here). ``allow_unlocked`` accepts a bucket
    without Object Lock, still reported as such.
    """
    catalog = _finding("catalog", settings)
    store = _finding("store", settings)
    queue = _finding("queue", settings)
    queue_tables = _attempt(catalog, lambda: _check_catalog(settings, catalog))
    _attempt(store, lambda: _check_store(settings, store, allow_unlocked))
    _check_queue(settings, queue, catalog, queue_tables)
    return [catalog, store, queue]


def _finding(concern: str, settings: Settings) -> Finding:
    return Finding(concern, getattr(settings, concern), settings.origins[concern])


def _attempt(finding: Finding, check: Any) -> Any:
    """Run one concern's check; anything it raises is that finding's problem."""
    try:
        return check()
    except OsintCaptureError as exc:
        finding.ok, finding.problem = False, str(exc)
    except Exception as exc:  # an engine's own error: reported, never a pass
        finding.ok, finding.problem = False, f"{type(exc).__name__}: {exc}"
    return None


def _check_catalog(settings: Settings, finding: Finding) -> str | None:
    with open_catalog(settings.catalog) as catalog:
        facts = catalog.describe()
        integrity = catalog.integrity_check()
    finding.facts = {**facts, "integrity": integrity}
    finding.ok = integrity == "ok"
    if not finding.ok:
        finding.problem = f"the catalog's integrity check found: {integrity}"
    return facts.get("queue tables")


def _check_store(settings: Settings, finding: Finding, allow_unlocked: bool) -> None:
    if settings.store_scheme == "file":
        root = Path(urlsplit(settings.store).path)
        usage = shutil.disk_usage(root if root.exists() else root.parent)
        finding.facts = {
            "engine": "local files",
            "where": str(root),
            "free": f"{usage.free / 2**30:.1f} GiB of {usage.total / 2**30:.1f} GiB",
            "object lock": "none (files are made read-only; the custody log and anchors"
            " show any change)",
        }
        finding.ok = True
        return
    from archive.objectstore.bucket import describe_bucket, require_locked
    from archive.objectstore.client import S3Client
    from archive.objectstore.credentials import load_credentials
    from archive.objectstore.location import parse_location

    location = parse_location(settings.store)
    credentials = load_credentials()
    client = S3Client(location, credentials)
    try:
        found = describe_bucket(client, location)
    finally:
        client.close()
    finding.facts = {**found.to_dict(), "credentials from": credentials.source}
    require_locked(found, allow_unlocked=allow_unlocked)
    finding.ok = True
    if not found.locked:
        finding.problem = "the bucket has no Object Lock: accepted (--allow-unlocked)"


def _check_queue(
    settings: Settings, finding: Finding, catalog: Finding, tables: str | None
) -> None:
    if settings.queue == "embedded":
        finding.facts = {"engine": "in the server's process (osint-capture serve)"}
        finding.ok = True
        return
    finding.facts = {
        "engine": "procrastinate on the catalog's PostgreSQL database",
        "queue tables": tables or "unknown",
    }
    finding.ok = catalog.ok
    if not catalog.ok:
        finding.problem = "the queue lives in the catalog's database, which failed its check"
