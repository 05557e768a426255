"""The capture manifest: what a capture is, in one JSON document.

``manifest.json`` sits in the capture's directory and lists every other file of the
capture with its SHA-256. Its own SHA-256 is kept in the catalog (and, later,
stamped by a time-stamp authority and signed), so the manifest is the one
document that binds a capture together.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from archive.store import Artifact

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
STATUSES = ("complete", "partial", "failed")


@dataclass
class Manifest:
    id: str
    url: str
    final_url: str | None
    status: str
    reasons: list[str]
    started_at: str
    finished_at: str
    case: str | None
    note: str | None
    operator: str | None
    warc: str | None
    artifacts: list[Artifact]
    software: dict[str, str]
    http_status: int | None = None
    title: str | None = None
    clock: str = "system clock, UTC"
    manifest_version: int = MANIFEST_VERSION
    #: Items of evidence inside the capture that a report lists one by one: every
    #: image the page loaded, every media file (Berkeley Protocol: embedded images
    #: and videos are separate items). Each has ``kind``, ``url``, ``sha256``, ``size``.
    items: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"manifest status must be one of {STATUSES}, not {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["artifacts"] = [a.to_dict() for a in self.artifacts]
        if not data["extra"]:
            del data["extra"]
        return data

    def to_bytes(self) -> bytes:
        """The exact bytes written to disk and hashed: stable key order, UTF-8, newline."""
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        values = dict(data)
        values["artifacts"] = [Artifact(**a) for a in values.get("artifacts", [])]
        return cls(**values)
