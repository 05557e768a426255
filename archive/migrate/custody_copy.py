"""The embedded chain of custody carried into team mode, byte for byte, and linked.

The log is never held whole: it is checked line by line (:func:`scan_source`), then
read again line by line into the catalog (:func:`log_lines`); a log of millions of
events takes the memory of one.

An embedded ``custody.jsonl`` cannot be re-chained into the team's per-case chains:
every hash would change, and every anchor and every package already sent out would stop
matching. So it is imported whole as a chain of its own, ``embedded:<hash of its seq 1>``
(:func:`archive.evidence.chain_names.imported_chain`): the same lines, the same seq,
prev and hash, its anchors sealed in the team store and listed for it. It never grows
again. Then each case's team chain (and the installation chain) is opened with a
``migrated`` event naming the imported chain and its head's seq and hash: every later
event of the case's chain covers that hash, which covers the whole embedded log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.catalog.custody_chains import AnchorFile
from archive.evidence.chain_names import ACCESS_CHAIN
from archive.evidence.custody import CustodyLog
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_scan import Scan, refuse_damaged, scan_file
from archive.store import locked


def scan_source(log: CustodyLog) -> Scan:
    """The embedded log checked line by line against its head (never held whole), under
    its lock; refused (:class:`~archive.evidence.custody.CustodyTampered`) if damaged."""
    with locked(log.lock_path, exclusive=False):
        scan = scan_file(log.path, log.catalog.custody_head())
    return refuse_damaged(scan, str(log.path), "to migrate")


def log_lines(path: Path, anchors: list[AnchorFile], chain: str) -> Iterator[bytes]:
    """The log's lines as stored (one read at a time), noting each ``anchored`` event's
    token in ``anchors`` as it passes."""
    with open(path, "rb") as fh:
        for line in fh:
            if b'"action":"anchored"' in line:
                event = json.loads(line)
                details = event["details"]
                anchors.append(
                    AnchorFile(details["token"], chain, int(details["anchored_seq"]),
                               details["token_sha256"])
                )  # fmt: skip
            yield line


def import_custody(
    custody: DbCustodyLog, chain: str, log_path: Path
) -> tuple[tuple[int, str], int]:
    """The log imported as ``chain`` and its anchors listed, inside the caller's
    transaction; its head and how many anchors."""
    anchors: list[AnchorFile] = []
    head = custody.import_log(chain, log_lines(log_path, anchors, chain))
    for anchor in anchors:
        custody.catalog.add_custody_anchor(anchor)
    return head, len(anchors)


def import_access(source: Catalog, custody: DbCustodyLog) -> int:
    """The access log carried over as it is (it is a chain in the catalog on both sides:
    the same rows, byte for byte, under the same name) with its anchors listed, inside the
    caller's transaction; how many events. The source's chain was verified first."""
    lines = [event.line for event in source.custody_chain_events(ACCESS_CHAIN)]
    if not lines:
        return 0
    custody.import_log(ACCESS_CHAIN, lines)
    for anchor in source.custody_anchor_files(ACCESS_CHAIN):
        custody.catalog.add_custody_anchor(anchor)
    return len(lines)


def link_chains(
    custody: DbCustodyLog,
    catalog: Catalog,
    chain: str,
    head: tuple[int, str],
    actor: str,
    facts: dict[str, Any],
) -> int:
    """Each case's chain, and the installation chain, opened with a ``migrated`` event
    about its captures, naming the imported chain's head; how many chains."""
    details = {"imported_chain": chain, "imported_seq": head[0], "imported_hash": head[1], **facts}
    opened = 0
    for case in catalog.list_cases():
        captures = [row.id for row in catalog.list_captures(case=case.name)]
        if captures:
            custody.append("migrated", actor=actor, captures=sorted(captures), details=details)
            opened += 1
    loose = [row.id for row in catalog.list_captures() if row.case is None]
    custody.append("migrated", actor=actor, captures=sorted(loose), details=details)
    return opened + 1
