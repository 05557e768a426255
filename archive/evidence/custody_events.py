"""One custody event: its fields, its canonical bytes and its hash.

An event is one line of ``DATA/custody.jsonl`` (:mod:`archive.evidence.custody`)::

    {"action": "captured", "actor": "amal", "captures": ["<id>"],
     "clock": "system clock, UTC", "details": {...},
     "hash": "<64 hex>", "prev": "<64 hex>", "seq": 7,
     "time": "2026-11-26T12:00:00.000000Z"}

- ``seq`` counts from 1 with no gaps.
- ``hash`` is the SHA-256 (hex) of the canonical JSON of the event *without* ``hash``.
  Canonical JSON is ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")`` (NaN and infinities refused): one byte string
  for one content, whatever wrote it.
- ``prev`` is the previous event's ``hash`` (64 zeros for the first event). Linking to
  the hash rather than to the raw line is enough, and simpler to check: the hash
  covers every field of the previous event including its own ``prev``, and every line
  must be exactly the canonical JSON of its event (with ``hash``) plus ``\\n``, so the
  line's bytes follow from what the hash covers.

Because each hash covers the one before, the hash of event N stands for the whole log
up to N: that is what an anchor (:mod:`archive.evidence.anchors`) time-stamps.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.errors import Failed, Tampered
from archive.timeutil import CLOCK_SOURCE, now_rfc3339

#: ``prev`` of the first event.
GENESIS = "0" * 64
#: The actor of events no person asked for (start-up recovery, key creation, anchors).
SYSTEM_ACTOR = "system"

#: What may be recorded. ``log-repaired`` is written only by ``CustodyLog.repair``.
ACTIONS = (
    "captured",
    "capture-failed",
    # Unsealed leftovers of an interrupted capture moved to DATA/quarantine/ on start-up.
    "quarantined",
    "timestamped",
    "re-captured",
    "exported",
    "verified",
    "deleted",
    "key-created",
    "log-repaired",
    # A TSA's token over an earlier event's hash, kept in DATA/anchors/ (archive.evidence.anchors).
    "anchored",
    # Machine readings of a sealed capture (OCR, transcripts) sealed as an addendum.
    "analysed",
    "analysis-failed",
    # A case put on legal hold, and released (archive.holds): nothing of it may be deleted.
    "held",
    "released",
    # Seq 1 of a team-mode chain: names the chain (archive.evidence.chain_names).
    "chain-opened",
    # An embedded archive copied into team storage (archive.migrate): in the embedded log
    # (where to, how many files), and in each team chain, naming the imported log's head.
    "migrated",
    # People (archive.people.changes): accounts and device tokens, in the installation's
    # chain; a case made and who belongs to it, in the case's chain. Names, never secrets.
    "user-added",
    "user-disabled",
    "user-enabled",
    # A role given by an OpenID Connect provider's groups that differs from the last one.
    "role-changed",
    "password-reset",
    "second-factor-enrolled",
    "token-created",
    "token-revoked",
    "case-created",
    "member-added",
    "member-removed",
)

#: The actions that seal a capture: their details carry the manifest's SHA-256.
#: ``re-captured`` is a watched target's scheduled run, sealed like any other.
SEALING_ACTIONS = ("captured", "re-captured")

FIELDS = ("seq", "time", "clock", "action", "actor", "captures", "details", "prev", "hash")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class CustodyError(Failed):
    """The custody log cannot be written or read as it stands; the message says why."""


class CustodyTampered(CustodyError, Tampered):
    """The log, or an anchor of it, is not what was recorded: an event does not match
    its hash or its link, the log does not end at the catalog's head, an anchored event
    was rewritten. Nothing is appended to it or exported from it."""


class TornLogError(CustodyError):
    """The log ends in a torn line (an append was interrupted: damage, not tampering);
    ``CustodyLog.repair`` is the way on."""


def canonical_json(obj: object) -> bytes:
    """The one byte string of ``obj`` that hashes are taken over (see module doc)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: Mapping[str, object]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``event`` without its ``hash`` field."""
    body = {name: value for name, value in event.items() if name != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def is_hash(value: object) -> bool:
    """Whether ``value`` is written as every hash of the log is: 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def acting(account: str | None, label: str | None = None) -> str:
    """The ``actor`` of an event a person asked for: their account name. Work asked for
    before there were accounts has none, and keeps what it had: the free-text operator
    ``label`` (``--operator``), else :data:`SYSTEM_ACTOR`."""
    return account or label or SYSTEM_ACTOR


def device_details(device: str | None) -> dict[str, str]:
    """What an event's details say of the device a person acted through (a token's name,
    ``dashboard``, ``command line``): ``{"device": ...}``, or nothing when none is known."""
    return {"device": device} if device else {}


@dataclass(frozen=True)
class Event:
    """One line of the custody log."""

    seq: int
    time: str
    clock: str
    action: str
    actor: str
    captures: tuple[str, ...]
    details: dict[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "clock": self.clock,
            "action": self.action,
            "actor": self.actor,
            "captures": list(self.captures),
            "details": self.details,
            "prev": self.prev,
            "hash": self.hash,
        }

    def line(self) -> bytes:
        """The exact bytes of this event in the log, newline included."""
        return canonical_json(self.to_dict()) + b"\n"

    @classmethod
    def from_dict(cls, obj: object) -> Event:
        """Read an event, checking its shape (not its hash: that is the chain check's)."""
        if not isinstance(obj, dict):
            raise ValueError(f"an event is a JSON object, not {type(obj).__name__}")
        missing = [name for name in FIELDS if name not in obj]
        extra = sorted(set(obj) - set(FIELDS))
        if missing or extra:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"unexpected {', '.join(extra)}"] if extra else []
            raise ValueError("fields: " + "; ".join(parts))
        seq = obj["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"seq must be a positive integer, not {seq!r}")
        for name in ("time", "clock", "action", "actor"):
            if not isinstance(obj[name], str) or not obj[name]:
                raise ValueError(f"{name} must be a non-empty string")
        captures = obj["captures"]
        if not isinstance(captures, list) or not all(isinstance(c, str) for c in captures):
            raise ValueError("captures must be a list of strings")
        if not isinstance(obj["details"], dict):
            raise ValueError("details must be an object")
        for name in ("prev", "hash"):
            if not is_hash(obj[name]):
                raise ValueError(f"{name} must be 64 lowercase hex digits")
        return cls(
            seq=seq,
            time=obj["time"],
            clock=obj["clock"],
            action=obj["action"],
            actor=obj["actor"],
            captures=tuple(captures),
            details=obj["details"],
            prev=obj["prev"],
            hash=obj["hash"],
        )


def check_content(
    actor: str, captures: Sequence[str], details: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """What an event may hold, checked before anything is written; a copy of it."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError(f"actor must be an operator's name or {SYSTEM_ACTOR!r}, not {actor!r}")
    if isinstance(captures, str) or not all(isinstance(c, str) and c for c in captures):
        raise ValueError(f"captures must be a list of capture ids, not {captures!r}")
    details = dict(details or {})
    if not all(isinstance(key, str) for key in details):
        raise ValueError("details keys must be strings")
    try:
        canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details must be plain JSON (no NaN, no custom types): {exc}") from exc
    # A copy through JSON, so later changes to the caller's objects cannot reach the event.
    return tuple(captures), json.loads(canonical_json(details))


def build_event(
    after: Event | None,
    action: str,
    actor: str,
    captures: Sequence[str],
    details: dict[str, Any],
) -> Event:
    """The event that follows ``after`` (the first, when ``None``), timed and hashed now."""
    body: dict[str, Any] = {
        "seq": after.seq + 1 if after is not None else 1,
        "time": now_rfc3339(),
        "clock": CLOCK_SOURCE,
        "action": action,
        "actor": actor,
        "captures": list(captures),
        "details": details,
        "prev": after.hash if after is not None else GENESIS,
    }
    body["hash"] = event_hash(body)
    return Event.from_dict(body)
