"""Sealed files in an S3-compatible bucket with Object Lock (team mode's store).

:class:`ObjectStore` is a :class:`~archive.sealed_store.SealedStore`; it needs a
:class:`StoreLocation` (:func:`parse_location` of an ``s3://`` URL), the
:class:`Credentials` (:func:`load_credentials`: environment or a 0600 file) and a
:class:`VersionBook` (the catalog's, or :class:`SqliteVersionBook`).
"""

from archive.objectstore.bucket import BucketDescription
from archive.objectstore.credentials import Credentials, load_credentials
from archive.objectstore.errors import (
    BadLocation,
    BucketNotLocked,
    ObjectMissing,
    ObjectStoreError,
    ObjectTampered,
    StoreClosed,
    StoreUnreachable,
    WrongThread,
)
from archive.objectstore.fsck import Finding, FsckReport, Problem
from archive.objectstore.holds import HoldState
from archive.objectstore.location import Retention, RetentionMode, StoreLocation, parse_location
from archive.objectstore.store import ObjectStore
from archive.objectstore.versionbook import RecordedVersion, SqliteVersionBook, VersionBook

__all__ = [
    "BadLocation",
    "BucketDescription",
    "BucketNotLocked",
    "Credentials",
    "Finding",
    "FsckReport",
    "HoldState",
    "ObjectMissing",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectTampered",
    "Problem",
    "RecordedVersion",
    "Retention",
    "RetentionMode",
    "SqliteVersionBook",
    "StoreClosed",
    "StoreLocation",
    "StoreUnreachable",
    "VersionBook",
    "WrongThread",
    "load_credentials",
    "parse_location",
]
