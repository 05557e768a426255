"""Checking a migration: the team archive read back against the embedded one.

Four checks, each failing on a difference and never passing on nothing:

- **files**: every sealed file the team catalog lists (every capture's but a deleted
  one's, every anchor of the imported log and of the access log) read back from the
  bucket by its recorded version, a chunk at a time, and hashed; equal to the SHA-256
  and size the catalog recorded;
- **holds**: every object of a case the catalog holds is under the bucket's legal hold;
- **rows**: both catalogs read again, table by table in key order
  (:func:`archive.catalog.copying.compare_catalogs`);
- **custody**: every chain of the team catalog verifies (lines, links, heads, anchors),
  the imported chain holds exactly the bytes of the embedded ``custody.jsonl``, and
  every case chain's ``migrated`` event names the imported chain's head; the access
  log's chain is the embedded one's, byte for byte, and verifies. The imported chain and
  the file are read side by side a line at a time, never whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from archive.catalog.copying import compare_catalogs
from archive.datadir import Archive
from archive.evidence.access_log import ACCESS_ANCHORS_DIR
from archive.evidence.anchors import ANCHORS_DIR
from archive.evidence.chain_names import ACCESS_CHAIN
from archive.evidence.custody_lines import LOG_NAME
from archive.fsck import unheld_objects
from archive.hashing import CHUNK_SIZE


@dataclass
class Verification:
    """What was compared, and every difference found."""

    files_checked: int = 0
    chains_checked: int = 0
    problems: list[str] = field(default_factory=list)
    custody_outcome: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and self.files_checked > 0 and self.chains_checked > 0

    def counts(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files_checked": self.files_checked,
            "chains_checked": self.chains_checked,
            "problems": len(self.problems),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts(), "custody": self.custody_outcome, "found": self.problems}


def verify_migration(source: Archive, target: Archive, chain: str) -> Verification:
    """The three checks of the module docstring."""
    result = Verification()
    _check_files(target, chain, result)
    _check_holds(target, result)
    result.problems += [f"catalog {d}" for d in compare_catalogs(source.catalog, target.catalog)]
    _check_custody(source, target, chain, result)
    return result


def _check_files(target: Archive, chain: str, result: Verification) -> None:
    catalog, store = target.catalog, target.store
    for row in catalog.list_captures():
        if row.deleted_at is not None:
            continue  # a tombstone: its files were removed, on purpose and recorded
        for artifact in catalog.artifacts(row.id):
            with store.open_sealed(row.id, artifact.path) as stream:
                found = _hash(stream)
            _compare(f"{row.id}/{artifact.path}", found, (artifact.sha256, artifact.size), result)
    _check_anchor_files(target, chain, ANCHORS_DIR, result)
    _check_anchor_files(target, ACCESS_CHAIN, ACCESS_ANCHORS_DIR, result)


def _check_anchor_files(target: Archive, chain: str, folder: str, result: Verification) -> None:
    """Each anchor ``chain`` lists, read back from ``folder`` in the store by its version."""
    catalog, store = target.catalog, target.store
    open_file: Any = store.open_file  # type: ignore[attr-defined]
    for anchor in catalog.custody_anchor_files(chain):
        for name in (anchor.name, anchor.name.removesuffix(".tsr") + ".chain.pem"):
            key = store.location.key(folder, name)  # type: ignore[attr-defined]
            recorded = catalog.object_version(key)
            if recorded is None:
                result.problems.append(f"anchor {name}: no version recorded for {key}")
                continue
            with open_file(folder, name) as stream:
                found = _hash(stream)
            expected = (
                anchor.token_sha256 if name == anchor.name else recorded.sha256,
                recorded.size,
            )
            _compare(f"{folder}/{name}", found, expected, result)


def _check_holds(target: Archive, result: Verification) -> None:
    """Every object of a held case under the bucket's legal hold."""
    from archive.objectstore.store import ObjectStore

    if isinstance(target.store, ObjectStore):
        found = unheld_objects(target, target.store)
        result.problems += [f"legal hold: {p.where}: {p.detail}" for p in found]


def _hash(stream: Any) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _compare(
    label: str, found: tuple[str, int], expected: tuple[str, int], result: Verification
) -> None:
    result.files_checked += 1
    if found != expected:
        result.problems.append(
            f"file {label}: read back as {found[0]} ({found[1]} bytes), recorded"
            f" {expected[0]} ({expected[1]} bytes)"
        )


def _check_custody(source: Archive, target: Archive, chain: str, result: Verification) -> None:
    report = target.custody.verify()
    result.custody_outcome = report.outcome.value
    result.chains_checked = len(getattr(report, "chains", ()))
    if not report.ok:
        result.problems.append("custody: " + report.summary())
    stored = (e.line for e in target.catalog.custody_chain_pages(chain))
    differs = _first_difference(stored, source.root / LOG_NAME)
    if differs is not None:
        result.problems.append(
            f"custody: chain {chain} is not byte for byte the embedded {LOG_NAME}: {differs}"
        )
    _check_access(source, target, result)
    head = target.catalog.custody_chain_heads().get(chain)
    for name in target.custody.chains():  # type: ignore[attr-defined]
        if name == chain:
            continue
        named = [
            (
                e.details.get("imported_chain"),
                e.details.get("imported_seq"),
                e.details.get("imported_hash"),
            )
            for e in target.custody.chain(name).events()  # type: ignore[attr-defined]
            if e.action == "migrated"
        ]
        if head is None or (chain, head[0], head[1]) not in named:
            result.problems.append(f"custody: chain {name} does not name the imported head {head}")


def _check_access(source: Archive, target: Archive, result: Verification) -> None:
    """The access log: the same bytes on both sides, and intact in the team catalog."""
    before = [e.line for e in source.catalog.custody_chain_events(ACCESS_CHAIN)]
    after = [e.line for e in target.catalog.custody_chain_events(ACCESS_CHAIN)]
    if before != after:
        result.problems.append(
            f"access log: {len(after)} event(s) in the team catalog, not the embedded"
            f" archive's {len(before)} byte for byte"
        )
    report = target.access.verify()
    if not report.ok:
        result.problems.append("access log: " + report.summary())


def _first_difference(stored: Iterator[bytes], path: Path) -> str | None:
    """Where the stored lines first differ from the file's, read side by side a line at
    a time; ``None`` when they are the same bytes."""
    with open(path, "rb") as fh:
        for number, (ours, theirs) in enumerate(zip_longest(stored, fh), start=1):
            if ours != theirs:
                if ours is None:
                    return f"the chain ends after line {number - 1}, the file goes on"
                if theirs is None:
                    return f"the file ends after line {number - 1}, the chain goes on"
                return f"line {number} differs"
    return None
