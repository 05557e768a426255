"""The bytes of ``DATA/custody.jsonl``: read, appended durably, its last event read from
the end, and its torn tail kept aside when a repair replaces it.

What the log's rules are (one writer under a lock, the head in the catalog, which
crashes are settled and how) is :mod:`archive.evidence.custody`'s; this module only
moves bytes, each write whole and fsynced, and names what it finds at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from archive.evidence.custody_events import (
    CustodyError,
    CustodyTampered,
    Event,
    TornLogError,
    canonical_json,
    event_hash,
)
from archive.evidence.custody_lines import LOG_NAME, TORN_PREFIX, is_torn_line, read_last_line
from archive.store import fsync_dir, write_all_and_sync
from archive.timeutil import utc_now


def read_all(path: Path) -> bytes:
    """The whole log (nothing, when there is no log yet)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise CustodyError(f"cannot read custody log {path}: {exc}") from exc


def last_event(path: Path) -> Event | None:
    """The last event, read from the end of the file; refuses a torn or altered one."""
    line, tail = read_last_line(path)
    if tail:
        raise TornLogError(
            f"custody log {path} ends in a torn line ({len(tail)} bytes without a"
            " newline: an append was interrupted). Nothing is appended after it; run"
            f" CustodyLog.repair(), which moves those bytes to {TORN_PREFIX}<time> and"
            " records that it did"
        )
    if line is None:
        return None
    if is_torn_line(line):
        raise TornLogError(
            f"custody log {path} ends in a line that is not JSON (a torn write)."
            " Nothing is appended after it; run CustodyLog.repair(), which moves it to"
            f" {TORN_PREFIX}<time> and records that it did"
        )
    obj = json.loads(line)
    try:
        event = Event.from_dict(obj)
    except ValueError as exc:
        damage = f"it is not an event ({exc})"
    else:
        if event_hash(obj) != event.hash:
            damage = f"seq {event.seq} does not match its hash (it was edited)"
        elif line != canonical_json(obj) + b"\n":
            damage = f"seq {event.seq} is not in canonical form (it was rewritten)"
        else:
            return event
    raise CustodyTampered(
        f"the last line of custody log {path} is damaged: {damage}. Nothing is"
        " appended after it; CustodyLog.verify() names every problem"
    )


def append_line(path: Path, line: bytes) -> None:
    """One line at the end of the log (``O_APPEND``), fsynced; its folder too, for the
    log's first line."""
    is_new = not path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CustodyError(f"cannot open custody log {path}: {exc}") from exc
    try:
        write_all_and_sync(fd, line)
    except OSError as exc:
        raise CustodyError(
            f"writing custody log {path} failed ({exc}); the event may be torn:"
            " the next append will say so, and CustodyLog.repair() moves it aside"
        ) from exc
    finally:
        os.close(fd)
    if is_new:
        fsync_dir(path.parent)


def keep_torn(data_dir: Path, torn: bytes) -> Path:
    """The torn bytes in their own read-only file beside the log, durably."""
    path = data_dir / (TORN_PREFIX + utc_now().strftime("%Y%m%dT%H%M%S.%fZ"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except OSError as exc:
        raise CustodyError(f"cannot keep the torn bytes in {path}: {exc}") from exc
    try:
        write_all_and_sync(fd, torn)
    finally:
        os.close(fd)
    fsync_dir(data_dir)
    return path


def replace_log(path: Path, content: bytes) -> None:
    """The log replaced whole by ``content`` (a repair: its sound lines and the repair
    event), written under a temporary name and renamed over it."""
    temp_path = path.parent / f".{LOG_NAME}.repair-{os.getpid()}"
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all_and_sync(fd, content)
    finally:
        os.close(fd)
    os.replace(temp_path, path)
    fsync_dir(path.parent)
