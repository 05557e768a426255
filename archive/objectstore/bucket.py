"""What the bucket is configured to do, read before anything is written to it.

For ``osint-capture config check`` and for the store's own start: versioning must be on
(reads go by version id) and Object Lock enabled (sealed versions cannot be deleted or
replaced before their date). A bucket without them is refused
(:class:`BucketNotLocked`) unless the operator says ``allow_unlocked``; the store then
says so in its description rather than pretending.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from archive.objectstore.client import S3Client, error_code
from archive.objectstore.errors import BucketNotLocked
from archive.objectstore.location import Retention, RetentionMode, StoreLocation


@dataclass(frozen=True)
class BucketDescription:
    """A bucket as found: enough for an operator to judge it, nothing secret."""

    endpoint: str
    bucket: str
    prefix: str
    versioning: str
    object_lock: bool
    #: The bucket's own default rule (applied to objects put without a lock), if any.
    default_retention: Retention | None
    #: Whether the server itself locks objects put without a lock (it has a default
    #: rule); if not, only this store's uploads, which always ask for one, are locked.
    locks_unlocked_puts: bool
    #: The lock this store asks for on every upload.
    retention: Retention

    @property
    def locked(self) -> bool:
        return self.versioning == "Enabled" and self.object_lock

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"locked": self.locked}


def describe_bucket(client: S3Client, location: StoreLocation) -> BucketDescription:
    """Read the bucket's versioning and Object Lock configuration."""
    bucket = location.bucket
    versioning = client.call("get_bucket_versioning", f"bucket {bucket}", Bucket=bucket)
    enabled, rule = _lock_configuration(client, bucket)
    return BucketDescription(
        endpoint=location.endpoint or "(AWS default for the region)",
        bucket=bucket,
        prefix=location.prefix,
        versioning=str(versioning.get("Status") or "Off"),
        object_lock=enabled,
        default_retention=rule,
        locks_unlocked_puts=rule is not None,
        retention=location.retention,
    )


def _lock_configuration(client: S3Client, bucket: str) -> tuple[bool, Retention | None]:
    try:
        answer = client.call("get_object_lock_configuration", f"bucket {bucket}", Bucket=bucket)
    except Exception as exc:
        if error_code(exc.__cause__ or exc) == "ObjectLockConfigurationNotFoundError":
            return False, None
        raise
    config = answer.get("ObjectLockConfiguration", {})
    default = config.get("Rule", {}).get("DefaultRetention")
    rule = None
    if default and default.get("Mode"):
        days = default.get("Days") or 365 * int(default.get("Years") or 0)
        rule = Retention(RetentionMode(default["Mode"]), int(days))
    return config.get("ObjectLockEnabled") == "Enabled", rule


def require_locked(description: BucketDescription, *, allow_unlocked: bool) -> None:
    """Refuse a bucket whose sealed files could be deleted or replaced, unless allowed."""
    if description.locked or allow_unlocked:
        return
    raise BucketNotLocked(
        f"bucket {description.bucket} at {description.endpoint} has versioning "
        f"{description.versioning} and Object Lock "
        f"{'enabled' if description.object_lock else 'not enabled'}: sealed files there could "
        "be deleted or replaced. Create the bucket with Object Lock (which turns versioning "
        "on), or pass --allow-unlocked to use it anyway"
    )
