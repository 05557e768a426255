"""Storage that refuses to take more: a full disk, a used-up quota, a file-size limit.

These are the failures an investigator can fix without a developer, so a capture that
meets one says which it was, where, and what to do, instead of a bare ``OSError``.
"""

from __future__ import annotations

import errno
from pathlib import Path


def storage_refusal(exc: BaseException, root: Path) -> str | None:
    """What the storage refused, with what to do, when ``exc`` (or an error it came
    from) is a full disk, a used-up quota or a file-size limit; else ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _REFUSALS:
            return _REFUSALS[current.errno].format(root=root)
        if "database or disk is full" in str(current):  # SQLite's SQLITE_FULL
            return _REFUSALS[errno.ENOSPC].format(root=root)
        current = current.__cause__ or current.__context__
    return None


_REFUSALS = {
    errno.ENOSPC: (
        "the disk holding {root} is full: nothing of this capture was sealed; "
        "free space there, then capture the page again"
    ),
    errno.EDQUOT: (
        "the disk quota for {root} is used up: nothing of this capture was sealed; "
        "free space or raise the quota, then capture the page again"
    ),
    errno.EFBIG: (
        "a file under {root} reached the largest size this system allows it (File too "
        "large: a filesystem or `ulimit -f` limit): nothing of this capture was sealed; "
        "raise that limit or lower the capture's size limits, then capture the page again"
    ),
}
