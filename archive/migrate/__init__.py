"""Moving an embedded archive into team storage (``osint-capture migrate``): files
re-hashed into the bucket, every catalog row and custody event carried over, and the
result verified (:func:`archive.migrate.run.migrate`)."""

from archive.migrate.files import SourceTampered, TargetHoldsOther
from archive.migrate.run import MigrationReport, NotMigratable, TargetNotEmpty, migrate, open_pair

__all__ = [
    "MigrationReport",
    "NotMigratable",
    "SourceTampered",
    "TargetHoldsOther",
    "TargetNotEmpty",
    "migrate",
    "open_pair",
]
