"""What the object store refuses or cannot do, each of the project's kinds.

Every class here is a :class:`~archive.store.StoreError`, so code that handles a file
store's failure handles an object store's the same way. A missing object is also a
:class:`FileNotFoundError`, because readers of sealed files (the snapshot, replay)
already catch that for a file store's missing file.
"""

from __future__ import annotations

from archive.errors import BadInput, Conflict, NotFound, Tampered, Unavailable
from archive.store import StoreError


class ObjectStoreError(StoreError):
    """The bucket refused or failed a request; the message names the object and why."""


class BadLocation(ObjectStoreError, BadInput):
    """The store's ``s3://`` URL (or its credentials) cannot be used as given."""


class BucketNotLocked(ObjectStoreError, Conflict):
    """The bucket has no Object Lock (or no versioning): sealed files there could be
    deleted or replaced, so it is refused unless the operator allows it explicitly."""


class ObjectMissing(ObjectStoreError, NotFound, FileNotFoundError):
    """No sealed object (or no recorded version of it) under that name."""


class ObjectTampered(ObjectStoreError, Tampered):
    """An object's bytes are not the ones sealed: its SHA-256 or size differ from what was
    recorded when it was uploaded."""


class StoreUnreachable(ObjectStoreError, Unavailable):
    """The S3 endpoint could not be reached (or timed out); asking again later may help."""


class WrongThread(ObjectStoreError):
    """A blocking store call was made on the store's own event loop, where it would wait
    for itself forever."""


class StoreClosed(ObjectStoreError):
    """The store was closed; a new one must be opened to go on."""
