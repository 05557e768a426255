"""Sealed files in an S3-compatible bucket with Object Lock (team mode's store).

:class:`ObjectStore` is a :class:`~archive.sealed_store.SealedStore`; it needs a
:class:`StoreLocation` (:func:`parse_location` of an ``s3://`` URL), the
:class:`Credentials` (:func:`load_credentials`: environment or a 0600 file) and a
:class:`VersionBook`: the catalog (:class:`archive.catalog.Catalog`), whose
``object_versions`` rows (:class:`archive.catalog.ObjectVersion`) say which version of
each object is evidence. A capture's interrupted attempt is set aside, never deleted
(:mod:`archive.objectstore.attempts`); ``fsck`` lists it as :class:`SetAside`.
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
from archive.objectstore.fsck import Finding, FsckReport, Problem, SetAside
from archive.objectstore.holds import HoldState
from archive.objectstore.location import Retention, RetentionMode, StoreLocation, parse_location
from archive.objectstore.store import ObjectStore
from archive.objectstore.versionbook import VersionBook

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
    "Retention",
    "RetentionMode",
    "SetAside",
    "StoreClosed",
    "StoreLocation",
    "StoreUnreachable",
    "VersionBook",
    "WrongThread",
    "load_credentials",
    "parse_location",
]
