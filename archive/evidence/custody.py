"""The chain of custody: one append-only, hash-linked log of everything done to the archive.

A court asks not only "is this what the page showed?" but "who touched it, when, and
can you prove nothing was left out?". ``DATA/custody.jsonl`` answers: one JSON object
per line (UTF-8), one line per event, each linked to the one before, so removing,
editing, reordering or truncating events is visible to anyone who re-reads the file.
What an event holds and how it is hashed: :mod:`archive.evidence.custody_events`; how lines are
checked: :mod:`archive.evidence.custody_lines`; the file's bytes:
:mod:`archive.evidence.custody_file`; anchors, the log's proof outside this machine:
:mod:`archive.evidence.anchors`.

Each line is written whole with ``O_APPEND`` under an exclusive ``flock`` (so two
processes never interleave), then fsynced; only then is the new head ``(seq, hash)``
recorded in the catalog (``custody_head``). The catalog head is what makes truncation
visible: a log cut short, or with a rewritten tail, no longer ends at the head. It is
not proof against whoever controls the machine (they can rewrite the head too): the
anchors are, up to the newest one.

Two crashes are handled, and only these:

- Between the fsync and the head update, the log ends one event past the head, and
  that event's ``prev`` is the head's hash. This is exactly an append that finished
  writing, so :meth:`CustodyLog.append` records the head and carries on. It does not
  weaken the guarantee: whoever could write such a line could as well have called
  ``append``; a hash chain without a secret proves that nothing recorded was changed
  or removed, not that nothing was added at the end.
- During the write, the last line is torn (no newline, or not JSON). ``append`` then
  refuses, naming :meth:`CustodyLog.repair`, which moves the torn bytes to
  ``DATA/custody.jsonl.torn-<time>`` (read-only) and records a ``log-repaired`` event.

Anything else (a gap, an edit, a head the log does not reach) is left for a person to
look at: :meth:`CustodyLog.verify` names it, and nothing is appended after it.

``custody.jsonl`` is never rewritten or truncated in place. The one exception in
spirit, :meth:`~CustodyLog.repair`, writes a new file holding the old file's sound
lines byte for byte plus the repair event, renames it over the log and keeps the
removed bytes beside it, so the old file is exactly the sound lines followed by the
``.torn-`` file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from archive.catalog import Catalog, CatalogError
from archive.evidence.anchors import ANCHORS_DIR
from archive.evidence.custody_events import (
    ACTIONS,
    GENESIS,
    SEALING_ACTIONS,
    SYSTEM_ACTOR,
    CustodyError,
    CustodyTampered,
    Event,
    TornLogError,
    build_event,
    canonical_json,
    check_content,
    event_hash,
)
from archive.evidence.custody_file import (
    append_line,
    keep_torn,
    last_event,
    read_all,
    replace_log,
)
from archive.evidence.custody_lines import (
    LOG_NAME,
    TORN_PREFIX,
    check_lines,
    check_log,
    head_mismatch,
    is_torn_line,
    one_past,
    split_lines,
    verify_slice,
)
from archive.evidence.custody_report import CustodyReport, FolderTokens, check_log_anchors
from archive.evidence.tsa_roots import TrustStore
from archive.sealed_store import SealedStore
from archive.store import locked

#: The names other modules import from here, wherever they are defined.
__all__ = [
    "GENESIS",
    "LOG_NAME",
    "SEALING_ACTIONS",
    "SYSTEM_ACTOR",
    "TORN_PREFIX",
    "CustodyError",
    "CustodyLog",
    "CustodyReport",
    "CustodyTampered",
    "TornLogError",
    "canonical_json",
    "event_hash",
    "verify_slice",
]

LOCK_NAME = LOG_NAME + ".lock"


class CustodyLog:
    """``DATA/custody.jsonl`` and its head in the catalog."""

    def __init__(self, data_dir: Path, catalog: Catalog, store: SealedStore) -> None:
        self.data_dir = Path(data_dir)
        self.catalog = catalog
        #: Where the anchors' tokens are sealed (``DATA/anchors/``), as every sealed file is.
        self.store = store
        self.path = self.data_dir / LOG_NAME
        self.lock_path = self.data_dir / LOCK_NAME
        self.anchors_dir = self.data_dir / ANCHORS_DIR

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        action: str,
        *,
        actor: str,
        captures: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
        together_with: Callable[[], object] | None = None,
    ) -> Event:
        """Record one event, durably, after the current head; return it.

        ``together_with`` is the catalog change the event records (a capture sealed, a
        token kept): it runs first, under the log's lock. A live backup copies the
        catalog and the log under that lock (docs/operations.md), so the copy holds
        both or neither, never a sealed capture without its event.

        Refuses (:class:`TornLogError`) after a torn line, and (:class:`CustodyError`)
        when the log does not end at the catalog's head, except one event past it (see
        module doc).
        """
        if action not in ACTIONS:
            raise ValueError(f"custody action must be one of {ACTIONS}, not {action!r}")
        if action == "log-repaired":
            raise ValueError("log-repaired events are written by CustodyLog.repair only")
        if action == "chain-opened":
            raise ValueError("chain-opened events open a team-mode chain only (custody_db)")
        captures, details = check_content(actor, captures, details)
        with self._locked(exclusive=True):
            if together_with is not None:
                together_with()
            head = self._settle_head(last_event(self.path), self.catalog.custody_head())
            event = build_event(head, action, actor, captures, details)
            append_line(self.path, event.line())
            self._record_head(event)
        return event

    def reconcile_head(self) -> tuple[int, str] | None:
        """Bring the catalog's head up to a log left one event ahead by a crash.

        What :meth:`append` does first anyway; for start-up, so that :meth:`verify`
        is clean before anything is appended. Returns the head.
        """
        with self._locked(exclusive=True):
            head = self._settle_head(last_event(self.path), self.catalog.custody_head())
        return (head.seq, head.hash) if head is not None else None

    def repair(self, *, actor: str = SYSTEM_ACTOR) -> Event | None:
        """Move a torn last line aside and record that; ``None`` if nothing is torn.

        Only a torn *last* line is repaired, and only when every line before it is
        sound and ends at the catalog's head: anything else is evidence of a different
        problem, for a person to look at.
        """
        check_content(actor, (), None)
        with self._locked(exclusive=True):
            data = read_all(self.path)
            lines, tail = split_lines(data)
            if tail:
                sound, torn, torn_line = lines, tail, len(lines) + 1
            elif lines and is_torn_line(lines[-1]):
                sound, torn, torn_line = lines[:-1], lines[-1], len(lines)
            else:
                return None
            checked = check_lines(list(enumerate(sound, start=1)), first_seq=1, first_prev=GENESIS)
            problems = [problem for line in checked for problem in line.problems]
            if problems:
                raise CustodyTampered(
                    f"cannot repair {self.path}: besides the torn line {torn_line}, "
                    + "; ".join(str(problem) for problem in problems)
                )
            last = checked[-1].event if checked else None
            head = self._settle_head(last, self.catalog.custody_head())
            torn_path = keep_torn(self.data_dir, torn)
            event = build_event(
                head,
                "log-repaired",
                actor,
                (),
                {
                    "reason": "the last line was torn (an append interrupted by a crash)",
                    "torn_line": torn_line,
                    "torn_file": torn_path.name,
                    "torn_bytes": len(torn),
                    "torn_sha256": hashlib.sha256(torn).hexdigest(),
                },
            )
            replace_log(self.path, b"".join(sound) + event.line())
            self._record_head(event)
        return event

    # -- reading ----------------------------------------------------------------------------

    def verify(self, trust: TrustStore | None = None, *, case: str | None = None) -> CustodyReport:
        """Check every line, every link, the end against the catalog's head, every anchor.

        ``case`` changes nothing: this log is one chain for every case, so a case's
        events are checked by checking all of it.

        ``trust`` is the roots the anchors' TSAs must chain to (certifi's bundle when
        ``None``). The anchors' names are listed under the same lock as the log is read,
        so every ``anchored`` event read has its file already (files come first).
        """
        with self._locked(exclusive=False):
            data = read_all(self.path)
            catalog_head = self.catalog.custody_head()
            listed = self._anchor_names()
        log = check_log(data, catalog_head)
        anchors, notes = check_log_anchors(
            log.events, FolderTokens(self.anchors_dir), listed, trust or TrustStore.load()
        )
        return CustodyReport.of(self.path, log, catalog_head, anchors, notes)

    def events(self, capture_id: str | None = None) -> Iterator[Event]:
        """The events in order (only ``capture_id``'s if given), as read; not verified.

        A torn last line without a newline is not an event yet and is skipped; use
        :meth:`verify` to know whether the log can be trusted.
        """
        with self._locked(exclusive=False):
            data = read_all(self.path)
        lines, _tail = split_lines(data)
        for line_no, raw in enumerate(lines, start=1):
            try:
                event = Event.from_dict(json.loads(raw))
            except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError too
                raise CustodyError(f"{self.path} line {line_no} is not an event: {exc}") from exc
            if capture_id is None or capture_id in event.captures:
                yield event

    def slice_for(self, capture_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The events an export needs: from the first one about ``capture_ids`` to the head.

        Contiguous, so that an offline verifier (:func:`verify_slice`) can recompute
        every hash and check every link from the first relevant event to the head
        (which the export should sign or timestamp). Events about other captures in
        between are included whole, since their hashes can only be checked from their
        content: keep ``details`` free of anything that must not travel with another
        case's export. Refuses a log that does not verify. ``[]`` when no event
        concerns the captures.
        """
        wanted = set(capture_ids)
        events = self.intact_events("to export")
        for index, event in enumerate(events):
            if wanted.intersection(event["captures"]):
                return events[index:]
        return []

    def intact_events(self, purpose: str) -> list[dict[str, Any]]:
        """Every event as logged (parsed JSON), once every line, link and the head verify.

        Refuses (:class:`CustodyError`, naming ``purpose``, e.g. ``"to export"``) a log
        that does not: nothing is exported or anchored from a log with a problem. The
        anchors are not checked here (``verify`` does that, with their tokens).
        """
        with self._locked(exclusive=False):
            data = read_all(self.path)
            catalog_head = self.catalog.custody_head()
        log = check_log(data, catalog_head)
        if log.problems:
            report = CustodyReport.of(self.path, log, catalog_head)
            raise CustodyTampered(
                f"refusing {purpose} a custody log that does not verify:\n" + report.summary()
            )
        lines, _tail = split_lines(data)
        return [json.loads(raw) for raw in lines]

    # -- plumbing ---------------------------------------------------------------------------

    def _locked(self, *, exclusive: bool) -> AbstractContextManager[None]:
        """One writer, or many readers, of the log at a time (:func:`archive.store.locked`)."""
        return locked(self.lock_path, exclusive=exclusive)

    def _anchor_names(self) -> list[str]:
        """The token files in ``DATA/anchors/`` (``*.tsr``; sealing's temporary files are
        hidden and left out)."""
        try:
            return sorted(
                p.name for p in self.anchors_dir.glob("*.tsr") if not p.name.startswith(".")
            )
        except OSError as exc:
            raise CustodyError(f"cannot list the anchors in {self.anchors_dir}: {exc}") from exc

    def _settle_head(
        self, last: Event | None, catalog_head: tuple[int, str] | None
    ) -> Event | None:
        """The event to append after, once the log's end and the catalog's head agree."""
        if last is None and catalog_head is None:
            return None
        if last is not None and catalog_head == (last.seq, last.hash):
            return last
        if last is not None and one_past(last, catalog_head):
            self._record_head(last)
            return last
        raise CustodyTampered(
            f"custody log {self.path} does not end at the catalog's head: "
            + head_mismatch(last, catalog_head)
            + ". Nothing is appended until this is resolved; CustodyLog.verify() names"
            " every problem"
        )

    def _record_head(self, event: Event) -> None:
        try:
            self.catalog.set_custody_head(event.seq, event.hash)
        except CatalogError as exc:
            raise CustodyError(
                f"custody event seq {event.seq} is written to {self.path}, but the catalog's"
                f" head could not be updated ({exc}); the next append will record it"
            ) from exc
