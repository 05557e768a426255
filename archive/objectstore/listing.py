"""Every version of every object under a key prefix, page by page.

Used where the bucket itself is the question: is a capture id taken (any version or
delete marker counts), which versions a legal hold covers, what ``fsck`` compares with
the version book. Pages are fetched as they are consumed, so a large bucket is never
listed into memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from archive.objectstore.client import S3Client


@dataclass(frozen=True)
class ListedVersion:
    """One version (or delete marker) found in the bucket."""

    key: str
    version_id: str
    size: int
    is_latest: bool
    delete_marker: bool


def list_versions(client: S3Client, prefix: str, page_size: int = 1000) -> Iterator[ListedVersion]:
    """Versions and delete markers under ``prefix``, in the bucket's order."""
    markers: dict[str, str] = {}
    while True:
        page = client.call(
            "list_object_versions",
            f"list {prefix or 'the bucket'}",
            Bucket=client.location.bucket,
            Prefix=prefix,
            MaxKeys=page_size,
            **markers,
        )
        yield from _versions(page)
        if not page.get("IsTruncated"):
            return
        markers = {"KeyMarker": page["NextKeyMarker"]}
        if page.get("NextVersionIdMarker"):
            markers["VersionIdMarker"] = page["NextVersionIdMarker"]


def _versions(page: dict[str, Any]) -> Iterator[ListedVersion]:
    for item in page.get("Versions", []):
        yield ListedVersion(
            item["Key"], str(item["VersionId"]), int(item["Size"]), bool(item["IsLatest"]), False
        )
    for item in page.get("DeleteMarkers", []):
        yield ListedVersion(item["Key"], str(item["VersionId"]), 0, bool(item["IsLatest"]), True)


def anything_under(client: S3Client, prefix: str) -> bool:
    """Whether any version or delete marker exists under ``prefix``."""
    return next(iter(list_versions(client, prefix, page_size=1)), None) is not None
