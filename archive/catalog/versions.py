"""Object versions: for each sealed file kept in an object store, the one version the
catalog vouches for.

An object store with versioning keeps every version written under a key; the
catalog's row says which one is the evidence (its version id, SHA-256 and size), and
every read names that version, so a later write under the same key, by mistake or by
an attacker, is never read as the sealed file. A key's version is recorded once and
never changed. The store writes the row after the upload is checked, and a
consistency check lists the rows under a prefix to hold them against the bucket.

These three methods are the object store's version book
(:class:`archive.objectstore.VersionBook`): the catalog is the one place a team's
machines find which version of each object is evidence.
"""

from __future__ import annotations

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import ObjectVersion
from archive.catalog.session import Row
from archive.catalog.shared import StateConflict
from archive.timeutil import now_rfc3339

_SELECT = "SELECT key, version_id, sha256, size, stored_at FROM object_versions"


class ObjectVersionTables(CatalogConnection):
    """Stored objects' versions. Part of :class:`archive.catalog.Catalog`."""

    def record_version(self, key: str, version_id: str, sha256: str, size: int) -> None:
        """Record that ``key``'s evidence is ``version_id`` (with its hash and size).

        Recording the same version again changes nothing (a retried upload); any other
        version for a key already recorded is refused (:class:`StateConflict`): the
        sealed version of a key never changes.
        """
        if not key or not version_id:
            raise ValueError("an object version needs a key and a version id")
        if len(sha256) != 64 or sha256.strip("0123456789abcdef"):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, not {sha256!r}")
        if size < 0:
            raise ValueError(f"an object's size is not negative ({size})")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO object_versions (key, version_id, sha256, size, stored_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, version_id, sha256, size, now_rfc3339()),
            )
            row = conn.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
            kept = _version(row)
            if (kept.version_id, kept.sha256, kept.size) != (version_id, sha256, size):
                raise StateConflict(
                    f"object {key} is recorded as version {kept.version_id} (sha256"
                    f" {kept.sha256}, {kept.size} bytes, since {kept.stored_at}); refusing"
                    f" to record version {version_id} (sha256 {sha256}, {size} bytes) for it:"
                    " a sealed object's version never changes"
                )

    def object_version(self, key: str) -> ObjectVersion | None:
        """The version recorded for ``key`` (with its hash and size), or ``None``."""
        with self._read() as conn:
            found = conn.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
        return _version(found) if found is not None else None

    def recorded_versions(self, prefix: str = "") -> list[ObjectVersion]:
        """Every recorded object whose key starts with ``prefix``, by key (code point
        order); ``prefix`` is plain text, never a pattern."""
        sql, params = _SELECT, []
        if prefix:
            # A range, not LIKE: SQLite's LIKE ignores ASCII case, and the range uses the key.
            sql += " WHERE key >= ?"
            params.append(prefix)
            after = _after(prefix)
            if after is not None:
                sql += " AND key < ?"
                params.append(after)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY key", params).fetchall()
        return [_version(row) for row in rows]


def _after(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (code point order),
    or ``None`` when there is none (a prefix of nothing but U+10FFFF)."""
    trimmed = prefix.rstrip("\U0010ffff")
    if not trimmed:
        return None
    last = ord(trimmed[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters: step over them
        last = 0xE000
    return trimmed[:-1] + chr(last)


def _version(row: Row) -> ObjectVersion:
    return ObjectVersion(
        row["key"], row["version_id"], row["sha256"], int(row["size"]), row["stored_at"]
    )
