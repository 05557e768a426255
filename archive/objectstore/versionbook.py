"""Which version of each object is the sealed one: kept at upload, used for every read.

A versioned bucket keeps every object ever put at a key; anyone with write access can
put a newer one. The store therefore reads a sealed file by the version id its own
upload returned, never "the latest", and checks it against the SHA-256 recorded with
it. Those ids live outside the bucket, in a :class:`VersionBook`: the catalog
(:class:`archive.catalog.Catalog`, its ``object_versions`` table, on SQLite or
PostgreSQL) is the one book, so every machine of a team reads the same versions.
``Artifact`` gets no version field: it goes into sealed manifests, whose bytes do not
change with the store.

A book refuses another version for a key it has recorded with a
:class:`~archive.errors.Conflict` of its own kind (the catalog's ``StateConflict``);
the store reports that as :class:`~archive.store.AlreadySealed`, whichever book it was.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from archive.catalog.rows import ObjectVersion


@runtime_checkable
class VersionBook(Protocol):
    """Where the store writes down each verified upload, and reads it back."""

    def record_version(self, key: str, version_id: str, sha256: str, size: int) -> None:
        """Keep ``key``'s sealed version. The same call again is a no-op; another version
        (or hash, or size) for a key already recorded is refused with a
        :class:`~archive.errors.Conflict`, and the recorded row stays as it was."""
        ...

    def object_version(self, key: str) -> ObjectVersion | None:
        """The sealed version of ``key``, or ``None`` if none was recorded."""
        ...

    def recorded_versions(self, prefix: str = "") -> list[ObjectVersion]:
        """Every recorded object whose key starts with ``prefix``, in key (code point)
        order; ``prefix`` is a plain string, never a pattern."""
        ...
