"""The report's section on machine readings: each analysis addendum of a capture, as drafts.

An addendum (:mod:`archive.evidence.addendum`) is sealed after its capture and never changes
it; its readings (OCR, draft transcripts, translations) help people find and read
the evidence but are not evidence. A court must be able to see that at a glance, so
every run is headed as a draft, carries the fixed warning, names the tools and
models (with hashes) that made it, and gives the text beside the source it was
read from (a URI, a box, a time), so anyone can check it against the source.

The section is built from the packaged files only: the addendum and results bytes
are read from the capture's directory for the names the package lists, and must
have the SHA-256 the package records. The addendum's signature is checked here; its
tokens are verified against the addendum's hash with the public roots, as the
capture's are. What is read stays text: ``templates/_analyses.html.j2`` lays it out,
autoescaped (:mod:`archive.wacz.templating`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from archive.evidence.addendum import (
    MACHINE_DRAFT_NOTICE,
    addendum_name,
    analysis_number,
    results_name,
    signature_name,
)
from archive.evidence.signing import SignatureError, verify_signed
from archive.evidence.timestamps import TimestampError
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_verify import verify_token
from archive.readings import tool_label
from archive.wacz.templating import render

if TYPE_CHECKING:
    from archive.wacz.report import PackagedFile

#: Addenda and results are JSON written by osint-capture; far larger is not read.
MAX_JSON_BYTES = 64 * 1024 * 1024
ANALYSES_TEMPLATE = "_analyses.html.j2"
READING_LABELS = {"ocr": "OCR", "transcript": "draft transcript", "translation": "translation"}


@dataclass
class RunFacts:
    """One analysis run of a capture, as packaged."""

    number: int
    addendum_path: str
    addendum_sha256: str
    addendum: dict[str, Any] = field(default_factory=dict)
    readings: list[dict[str, Any]] = field(default_factory=list)
    signed_by: str | None = None
    #: Each token: (package path, time from custody, TSA, what a check says now).
    tokens: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect_analyses(
    capture_dir: Path, files: Sequence[PackagedFile], events: Sequence[Mapping[str, Any]]
) -> list[RunFacts]:
    """Every packaged addendum of one capture, with its readings, signature and tokens."""
    by_name = {f.name: f for f in files}
    numbers = sorted(
        {n for f in files if (n := analysis_number(f.name)) is not None and f.kind == "addendum"}
    )
    runs = []
    for number in numbers:
        packaged = by_name[addendum_name(number)]
        run = RunFacts(number, packaged.package_path, packaged.sha256)
        try:
            data = _read(capture_dir, packaged)
            run.addendum = _object(data, packaged.name)
            sig = by_name.get(signature_name(number))
            if sig is None:
                run.problems.append(f"the package holds no {signature_name(number)}")
            else:
                record = _object(_read(capture_dir, sig), sig.name)
                verify_signed(record, data)
                run.signed_by = str(record.get("fingerprint"))
            results = by_name.get(results_name(number))
            if results is not None:
                document = _object(_read(capture_dir, results), results.name)
                run.readings = [r for r in document.get("readings", []) if isinstance(r, dict)]
        except (OSError, ValueError, SignatureError) as exc:
            run.problems.append(str(exc))
        run.tokens = _tokens(capture_dir, files, number, packaged.sha256, events)
        runs.append(run)
    return runs


def _read(capture_dir: Path, packaged: PackagedFile) -> bytes:
    """The packaged file's bytes, if they are what the package records."""
    with open(capture_dir / packaged.name, "rb") as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{packaged.name} is too large to be read for the report")
    if hashlib.sha256(data).hexdigest() != packaged.sha256:
        raise ValueError(f"{packaged.name} no longer has the SHA-256 the package lists")
    return data


def _object(data: bytes, name: str) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not a JSON object")
    return value


def _tokens(
    capture_dir: Path,
    files: Sequence[PackagedFile],
    number: int,
    addendum_sha256: str,
    events: Sequence[Mapping[str, Any]],
) -> list[tuple[str, str | None, str | None, str]]:
    stamped = {
        str(e["details"].get("token")): e["details"]
        for e in events
        if e.get("action") == "timestamped"
        and isinstance(e.get("details"), Mapping)
        and e["details"].get("analysis") == number
    }
    found = []
    for f in files:
        if f.kind != "timestamp" or analysis_number(f.name) != number:
            continue
        details = stamped.get(f.name, {})
        check = recheck_token(capture_dir / f.name, addendum_sha256)
        found.append((f.package_path, details.get("gen_time"), details.get("tsa"), check))
    return found


def recheck_token(path: Path, digest_hex: str) -> str:
    """Verify a stored token again over ``digest_hex``, against the public roots only, and
    say what came out (for a capture's manifest and an addendum alike)."""
    trust = TrustStore.load()
    try:
        token = verify_token(path.read_bytes(), bytes.fromhex(digest_hex), trust=trust)
    except (TimestampError, OSError) as exc:
        # The message names the trust store's file; the packaging machine's paths stay out.
        reason = str(exc).replace(trust.describe(), "the public roots (certifi)")
        return (
            f"Not verified here against the public root store (certifi): {reason}. A time-stamp"
            " authority with its own root needs that root: see evidence/VERIFY.md."
        )
    return (
        "Verified again when this package was made, against the public root store:"
        f" time {token.gen_time:%Y-%m-%dT%H:%M:%SZ}, serial {token.serial_number}."
    )


# -- what the report shows of a run ------------------------------------------------------------


class ToolUsed(NamedTuple):
    """A tool a run used, as people name it, and the model file it ran if any."""

    label: str
    via: object
    model_sha256: object


class Step(NamedTuple):
    """What one step of a run (ocr, transcribe, translate) read, and its notes."""

    step: object
    status: object
    read: object
    failed: object
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ReadingView:
    """One reading's text beside where it was read; every part of it a machine draft."""

    #: ``transcript``, ``translation``, or anything else (shown as OCR lines).
    kind: str
    #: "OCR", "draft transcript", "translation", or the kind as recorded.
    label: str
    source_what: object
    #: Where in the media it was read (``mm:ss.ss``), if it was.
    at: str | None
    tool: str
    uri: object
    file: object
    sha256: object
    #: (time, text), (read, translation) or (box, text), by kind.
    rows: tuple[tuple[object, object], ...]


@dataclass(frozen=True)
class RunView:
    """One analysis run as the report shows it."""

    number: int
    addendum_path: str
    addendum_sha256: str
    signed_by: str | None
    started_at: object
    finished_at: object
    #: Each token: (package path, time from custody, TSA, what a check says now).
    tokens: tuple[tuple[str, str | None, str | None, str], ...]
    operator: object
    requested: str
    tools: tuple[ToolUsed, ...]
    steps: tuple[Step, ...]
    readings_count: object
    reasons: tuple[str, ...]
    problems: tuple[str, ...]
    readings: tuple[ReadingView, ...]


def render_analyses(runs: Sequence[RunFacts]) -> str:
    """The section of one capture on its own; empty when it has no addendum in the package.

    The report includes the same template for each capture (:mod:`archive.wacz.report_view`).
    """
    return render(
        ANALYSES_TEMPLATE, analyses=[run_view(r) for r in runs], draft_notice=MACHINE_DRAFT_NOTICE
    )


def run_view(run: RunFacts) -> RunView:
    """What the report shows of one run; the addendum's fields as recorded."""
    a = run.addendum
    return RunView(
        number=run.number,
        addendum_path=run.addendum_path,
        addendum_sha256=run.addendum_sha256,
        signed_by=run.signed_by,
        started_at=a.get("started_at"),
        finished_at=a.get("finished_at"),
        tokens=tuple(run.tokens),
        operator=a.get("operator"),
        requested=_requested(a.get("requested")),
        tools=tuple(
            ToolUsed(tool_label(t), t.get("via"), t.get("model_sha256"))
            for t in _dicts(a.get("tools"))
        ),
        steps=tuple(_step(s) for s in _dicts(a.get("outcomes"))),
        readings_count=a.get("readings"),
        reasons=tuple(str(r) for r in a.get("reasons") or []),
        problems=tuple(run.problems),
        readings=tuple(_reading(r) for r in run.readings),
    )


def _step(step: dict[str, Any]) -> Step:
    notes = tuple(str(n) for n in step.get("notes") or [])
    return Step(
        step.get("step"), step.get("status"), step.get("read", 0), step.get("failed"), notes
    )


def _requested(value: object) -> str:
    if not isinstance(value, dict):
        return ""
    steps = [s for s in ("ocr", "transcribe", "translate") if value.get(s)]
    extra = [f"{k} {value[k]}" for k in ("languages", "language") if value.get(k)]
    return ", ".join(steps) + (f" ({'; '.join(extra)})" if extra else "")


def _reading(reading: dict[str, Any]) -> ReadingView:
    source = _dict(reading.get("source"))
    kind = str(reading.get("kind"))
    result = _dict(reading.get("result"))
    rows: tuple[tuple[object, object], ...]
    if kind == "transcript":
        rows = tuple(
            (f"{_seconds(s.get('start'))}–{_seconds(s.get('end'))}", s.get("text"))
            for s in _dicts(result.get("segments"))
        )
    elif kind == "translation":
        rows = tuple(
            (line.get("source"), line.get("translation")) for line in _dicts(result.get("lines"))
        )
    else:
        rows = tuple(
            (_box(line.get("box")), line.get("text")) for line in _dicts(result.get("lines"))
        )
    offset = source.get("offset")
    return ReadingView(
        kind=kind,
        label=READING_LABELS.get(kind, kind),
        source_what=source.get("what"),
        at=_seconds(offset) if offset is not None else None,
        tool=tool_label(_dict(reading.get("tool"))),
        uri=source.get("uri"),
        file=source.get("file"),
        sha256=source.get("sha256"),
        rows=rows,
    )


def _seconds(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes):02d}:{seconds:05.2f}"


def _box(value: object) -> str:
    if isinstance(value, list) and len(value) == 4:
        return ", ".join(str(v) for v in value)
    return ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
