"""Analysis addenda: machine readings of a sealed capture, sealed beside it.

OCR text, transcripts and translations are drafts made from a capture's bytes after
the capture was sealed. They are never written into the capture's manifest (that
is sealed, signed and time-stamped, and stays as it was); each analysis run seals
an *addendum* of its own instead, in the capture's directory:

    analysis-N.warc.gz            the readings as WARC records, each referring to its source
    analysis-N.results.json       the same readings as one JSON document
    analysis-N.addendum.json      the addendum: what was read, with what, and every file above
    analysis-N.addendum.sig.json  its signature by the installation's key
    analysis-N.token-M.tsr        RFC 3161 tokens over the addendum's SHA-256 (and .chain.pem)

The addendum names the capture and the SHA-256 of its sealed manifest, so a reading
is tied to the exact bytes it was made from. A re-run is addendum N+1; none is ever
rewritten. Names never end in ``.manifest.json`` or ``.timestamp-N.tsr``: a package
reader takes those for a capture's own files.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from archive.store import Artifact

ADDENDUM_VERSION = 1
#: The catalog kind of an analysis run's WARC (exported beside the capture's, indexed).
ANALYSIS_WARC = "analysis-warc"
CLOCK = "system clock, UTC"
#: What every addendum, results file and analysis record says of itself.
MACHINE_DRAFT_NOTICE = (
    "Machine draft: text read by software (OCR, speech recognition, machine translation)"
    " to help people find and read the evidence. It is not evidence in itself and may be"
    " wrong, above all for dialectal Arabic, names and places; check it against the"
    " source it names."
)
#: The statuses of one analysis step.
STEP_STATUSES = ("done", "partial", "failed", "skipped")
_NAME = re.compile(
    r"analysis-(?P<n>[1-9][0-9]*)\."
    r"(?P<rest>warc\.gz|results\.json|addendum\.json|addendum\.sig\.json"
    r"|token-[1-9][0-9]*\.tsr|token-[1-9][0-9]*\.chain\.pem)"
)


def addendum_name(number: int) -> str:
    return f"analysis-{number}.addendum.json"


def signature_name(number: int) -> str:
    return f"analysis-{number}.addendum.sig.json"


def warc_name(number: int) -> str:
    return f"analysis-{number}.warc.gz"


def results_name(number: int) -> str:
    return f"analysis-{number}.results.json"


def token_names(number: int, token: int) -> tuple[str, str]:
    """The token file and the TSA's certificate chain beside it."""
    return f"analysis-{number}.token-{token}.tsr", f"analysis-{number}.token-{token}.chain.pem"


def analysis_number(name: str) -> int | None:
    """Which analysis run a file of a capture belongs to, or ``None`` (a capture's own file)."""
    match = _NAME.fullmatch(name)
    return int(match["n"]) if match else None


@dataclass(frozen=True)
class Step:
    """One kind of reading in a run (``ocr``, ``transcribe``, ``translate``) and how it went."""

    step: str
    status: str
    read: int = 0
    failed: int = 0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STEP_STATUSES:
            raise ValueError(f"step status must be one of {STEP_STATUSES}, not {self.status!r}")


@dataclass
class Addendum:
    """What one analysis run read from a sealed capture, and the files it sealed."""

    capture: str
    number: int
    manifest_sha256: str
    started_at: str
    finished_at: str
    operator: str | None
    requested: dict[str, Any]
    #: How each step went. Not called "steps": py-wacz's validator (frictionless) reads a
    #: JSON file with a "steps" key as a pipeline and refuses the package.
    outcomes: list[Step]
    tools: list[dict[str, Any]]
    artifacts: list[Artifact]
    #: What could not be read, each naming its source and why.
    reasons: list[str] = field(default_factory=list)
    readings: int = 0
    clock: str = CLOCK
    machine_draft: bool = True
    notice: str = MACHINE_DRAFT_NOTICE
    addendum_version: int = ADDENDUM_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcomes"] = [_step_dict(step) for step in self.outcomes]
        data["artifacts"] = [artifact.to_dict() for artifact in self.artifacts]
        data["refers_to"] = {"manifest": "manifest.json", "sha256": data.pop("manifest_sha256")}
        return data

    def to_bytes(self) -> bytes:
        """The exact bytes sealed, signed and time-stamped: UTF-8, stable order, newline."""
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _step_dict(step: Step) -> dict[str, Any]:
    data = asdict(step)
    data["notes"] = list(step.notes)
    return data
