"""The local half of setting a capture's attempt aside: its scratch leftovers moved to
``DATA/quarantine/ID-STAMP/``, with a copy of the sealed listing of what the attempt
left in the bucket beside them (``set-aside-attempt-N.json``).

The listing in the bucket is the one that counts (it is locked and recorded); the copy
puts it where an investigator and the custody event about the quarantine look.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from archive.objectstore.attempts import SetAsideListing
from archive.store import fsync_dir
from archive.timeutil import utc_now


def set_aside_scratch(
    staging: Path, quarantine_root: Path, capture_id: str, listing: SetAsideListing | None
) -> Path | None:
    """Move the capture's staging place (if it holds a file) into a new quarantine
    directory and keep the listing's copy there; ``None`` when there is neither."""
    leftovers = staging.is_dir() and any(p.is_file() for p in staging.rglob("*"))
    if not leftovers:
        remove_empty(staging)
        if listing is None:
            return None
    target = _new_quarantine_dir(quarantine_root, capture_id)
    if leftovers:
        shutil.move(str(staging), str(target))
    else:
        target.mkdir()
    if listing is not None:
        # "x": a scratch file of that name is never overwritten (nor the listing lost).
        with open(target / f"set-aside-attempt-{listing.attempt}.json", "xb") as copy:
            copy.write(listing.to_bytes())
            copy.flush()
            os.fsync(copy.fileno())
        fsync_dir(target)
    fsync_dir(quarantine_root)
    return target


def _new_quarantine_dir(root: Path, capture_id: str) -> Path:
    """A name not yet taken in ``root``: ``ID-STAMP`` (as the file store's), then ``-2``..."""
    root.mkdir(parents=True, exist_ok=True)
    base = f"{capture_id}-{utc_now().strftime('%Y%m%dT%H%M%SZ')}"
    target, n = root / base, 1
    while target.exists():
        n += 1
        target = root / f"{base}-{n}"
    return target


def remove_empty(directory: Path) -> None:
    """Remove ``directory`` and its empty subdirectories; leave anything holding a file."""
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()
    with contextlib.suppress(OSError):
        directory.rmdir()
