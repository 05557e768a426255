"""Where sealed files go: an ``s3://`` URL read into a typed, checked value.

``s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:8333&region=us-east-1&retention=COMPLIANCE&days=3650``

The URL names a place and a policy, never a secret: a URL that carries a user name or
password is refused, because URLs end up in logs, configuration files and command
lines. Credentials come from :mod:`archive.objectstore.credentials`. Every query
parameter is checked, and an unknown one is refused rather than ignored, so a typo in
the retention cannot silently leave evidence unlocked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from archive.objectstore.errors import BadLocation

#: S3's smallest part (but the last); parts are read from disk one at a time, so this
#: is also about the memory one upload holds.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 16 * 1024 * 1024
#: S3's largest part.
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9._-]+")
_REGION = re.compile(r"[a-z0-9-]{1,40}")
_KNOWN = {"endpoint", "region", "retention", "days", "part_mb"}


class RetentionMode(StrEnum):
    """S3 Object Lock's modes: COMPLIANCE binds everyone, root included, until the date;
    GOVERNANCE can be lifted by a user granted ``s3:BypassGovernanceRetention``."""

    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True)
class Retention:
    """How long, and how strictly, each sealed object is locked from its upload."""

    mode: RetentionMode
    days: int


@dataclass(frozen=True)
class StoreLocation:
    """A bucket, a key prefix inside it, how to reach it and how to lock what goes in."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    retention: Retention
    part_size: int = DEFAULT_PART_SIZE

    def key(self, *parts: str) -> str:
        """The object key of ``parts`` under the prefix (``PREFIX/captures/ID/NAME``)."""
        return "/".join(p for p in (self.prefix, *parts) if p)

    def capture_key(self, capture_id: str, name: str) -> str:
        return self.key("captures", capture_id, name)

    def capture_prefix(self, capture_id: str) -> str:
        """Every key of one capture starts with this (it ends with a slash)."""
        return self.key("captures", capture_id) + "/"

    def incoming_key(self, capture_id: str, name: str) -> str:
        """A staged file's key: not evidence yet, never locked (``PREFIX/incoming/ID/NAME``)."""
        return self.key("incoming", capture_id, name)

    def incoming_prefix(self, capture_id: str = "") -> str:
        """Every staged key (of one capture, if given) starts with this (it ends with a slash)."""
        return self.key("incoming", capture_id) + "/"

    @property
    def root_prefix(self) -> str:
        """Every key of this store starts with this ('' for a whole bucket)."""
        return self.prefix + "/" if self.prefix else ""

    def url(self) -> str:
        """The location written back as a URL (it holds nothing secret)."""
        query = [f"region={self.region}", f"retention={self.retention.mode.value}"]
        query.append(f"days={self.retention.days}")
        if self.endpoint:
            query.insert(0, f"endpoint={self.endpoint}")
        if self.part_size != DEFAULT_PART_SIZE:
            query.append(f"part_mb={self.part_size // (1024 * 1024)}")
        path = f"/{self.prefix}" if self.prefix else ""
        return f"s3://{self.bucket}{path}?{'&'.join(query)}"


def parse_location(url: str) -> StoreLocation:
    """Read an ``s3://`` URL; :class:`BadLocation` says which part is wrong and how to fix it."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise BadLocation(f"store URL {url!r} is not s3://BUCKET/PREFIX?...: cannot use it")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BadLocation(
            "the store URL carries credentials: remove them from the URL and set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file of mode 0600"
        )
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise BadLocation(
            f"{bucket!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-'): fix the URL"
        )
    query = _query(url, parts.query)
    return StoreLocation(
        bucket=bucket,
        prefix=_prefix(parts.path),
        endpoint=_endpoint(query.get("endpoint")),
        region=_region(query.get("region", "us-east-1")),
        retention=_retention(query.get("retention", "COMPLIANCE"), query.get("days")),
        part_size=_part_size(query.get("part_mb")),
    )


def _query(url: str, text: str) -> dict[str, str]:
    values = parse_qs(text, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(values) - _KNOWN)
    if unknown:
        raise BadLocation(
            f"store URL {url!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_KNOWN))}"
        )
    repeated = sorted(k for k, v in values.items() if len(v) > 1)
    if repeated:
        raise BadLocation(f"store URL: {', '.join(repeated)} given more than once")
    return {k: v[0] for k, v in values.items()}


def _prefix(path: str) -> str:
    prefix = path.strip("/")
    if prefix and not all(_PREFIX_PART.fullmatch(p) for p in prefix.split("/")):
        raise BadLocation(
            f"key prefix {prefix!r}: use plain names of A-Z, a-z, 0-9, '.', '_', '-' "
            "separated by '/'"
        )
    if any(p in (".", "..") for p in prefix.split("/")):
        raise BadLocation(f"key prefix {prefix!r} may not hold '.' or '..'")
    return prefix


def _endpoint(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadLocation(f"endpoint {value!r} is not an http(s)://HOST[:PORT] URL")
    if parts.username is not None or parts.password is not None:
        raise BadLocation("the endpoint URL carries credentials: remove them")
    if parts.path not in ("", "/") or parts.query:
        raise BadLocation(f"endpoint {value!r}: give only scheme, host and port")
    return f"{parts.scheme}://{parts.netloc}"


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise BadLocation(f"region {value!r} is not a region name (like us-east-1)")
    return value


def _retention(mode: str, days: str | None) -> Retention:
    try:
        kind = RetentionMode(mode.upper())
    except ValueError:
        raise BadLocation(f"retention {mode!r}: use COMPLIANCE or GOVERNANCE") from None
    if days is None:
        raise BadLocation(
            "the store URL names no retention period: add days=N (how long every sealed "
            "file stays locked, e.g. days=3650)"
        )
    if not days.isdigit() or not 1 <= int(days) <= 36500:
        raise BadLocation(f"days={days!r}: give a whole number of days from 1 to 36500")
    return Retention(kind, int(days))


def _part_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PART_SIZE
    if not value.isdigit():
        raise BadLocation(f"part_mb={value!r}: give a whole number of MiB")
    size = int(value) * 1024 * 1024
    if not MIN_PART_SIZE <= size <= MAX_PART_SIZE:
        raise BadLocation(f"part_mb={value}: S3 parts are 5 to 5120 MiB")
    return size
