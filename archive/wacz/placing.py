"""The package file itself: a new name, written under a partial one, linked into place.

The package is written through a hashing writer under a temporary name in the
output folder, fsynced, then linked to its final name, which is never replaced;
a crash leaves only a ``.partial`` file, and a failure leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from archive.hashing import HashingWriter
from archive.store import fsync_dir
from archive.wacz.export_types import ExportError
from archive.wacz.layout import EXPORT_MODE, WACZ_SUFFIX

PARTIAL_SUFFIX = ".partial"

T = TypeVar("T")


def check_output(out: Path) -> None:
    """Refuse, before any work, a name that is not a new ``.wacz`` in an existing folder."""
    if not out.name.endswith(WACZ_SUFFIX):
        raise ExportError(f"refusing to write {out}: a WACZ file's name must end in {WACZ_SUFFIX}")
    if out.exists() or out.is_symlink():
        raise ExportError(f"refusing to export to {out}: the file exists (choose a new name)")
    if not out.parent.is_dir():
        raise ExportError(f"cannot export to {out}: the folder {out.parent} does not exist")


def write_in_place(out: Path, write: Callable[[HashingWriter], T]) -> tuple[T, str, int]:
    """Run ``write`` into a partial file, then give it the name ``out``, read-only.

    Returns what ``write`` returned, and the SHA-256 and size of every byte it wrote.
    Whatever fails, the partial file is removed and nothing is left under ``out``.
    """
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        with open(partial, "xb") as raw:
            sink = HashingWriter(raw)
            value = write(sink)
            sink.flush()
            os.fsync(raw.fileno())
        _link_into_place(partial, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    os.chmod(out, EXPORT_MODE)
    fsync_dir(out.parent)
    return value, sink.sha256, sink.size


def _link_into_place(partial: Path, out: Path) -> None:
    """Give the finished file its name without ever replacing a file of that name.

    ``link`` fails if ``out`` exists, so an export started twice keeps the first file.
    Filesystems without hard links (FAT, exFAT on a USB stick) get a rename after a
    last check instead.
    """
    try:
        os.link(partial, out)
    except FileExistsError:
        raise ExportError(
            f"refusing to export to {out}: a file of that name appeared while exporting"
        ) from None
    except OSError:
        if out.exists():
            raise ExportError(f"refusing to export to {out}: the file exists") from None
        os.rename(partial, out)
