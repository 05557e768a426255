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
capture's are. Everything read is escaped (:func:`archive.wacz.report_text.escape`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from archive.wacz.report_text import escape as _e

if TYPE_CHECKING:
    from archive.wacz.report import PackagedFile

#: Addenda and results are JSON written by osint-capture; far larger is not read.
MAX_JSON_BYTES = 64 * 1024 * 1024
HEADING = "Machine readings (drafts, not evidence)"


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


# -- rendering ----------------------------------------------------------------------------------


def render_analyses(runs: Sequence[RunFacts]) -> str:
    """The section of one capture; empty when the capture has no addendum in the package."""
    if not runs:
        return ""
    parts = [
        f"<h3>{_e(HEADING)}</h3>",
        "<p class='warning'><strong>Machine draft, not evidence.</strong>"
        f" {_e(MACHINE_DRAFT_NOTICE)}"
        " Each run below was sealed after the capture, as an addendum of its own; the"
        " capture's manifest and files are as they were.</p>",
    ]
    for run in runs:
        parts.append(_run(run))
    return "\n".join(parts)


def _run(run: RunFacts) -> str:
    a = run.addendum
    rows = [
        ("Addendum", f"<code>{_e(run.addendum_path)}</code>"),
        ("Addendum SHA-256", f"<span class='hash'>{_e(run.addendum_sha256)}</span>"),
        (
            "Signed by",
            f"<span class='hash'>{_e(run.signed_by)}</span> (signature checked when this"
            " package was made)"
            if run.signed_by
            else "not verified: see the problems below",
        ),
        (
            "Claimed time",
            f"{_e(a.get('started_at'))} to {_e(a.get('finished_at'))} UTC"
            " (the analysing machine's clock)",
        ),
        ("Trusted time", _trusted(run)),
        ("Asked by", _e(a.get("operator"))),
        ("Asked for", _e(_requested(a.get("requested")))),
        ("Tools", _items(_tool(t) for t in _dicts(a.get("tools")))),
        ("What was read", _items(_step(s) for s in _dicts(a.get("outcomes")))),
        ("Readings", _e(a.get("readings"))),
    ]
    reasons = [str(r) for r in a.get("reasons") or []]
    if reasons:
        rows.append(("Not read, and why", _items(_e(r) for r in reasons)))
    if run.problems:
        rows.append(("Problems", _items(_e(p) for p in run.problems)))
    body = "".join(f"<tr><th>{_e(label)}</th><td>{value}</td></tr>" for label, value in rows)
    readings = "".join(_reading(r) for r in run.readings)
    return (
        f"<h4>Analysis {run.number}: machine draft, not evidence</h4>"
        f"<table>{body}</table>{readings or '<p>No text was read in this run.</p>'}"
    )


def _trusted(run: RunFacts) -> str:
    if not run.tokens:
        return "none: nothing independent of the analysing machine's clock dates this addendum"
    return _items(
        f"<strong>The addendum existed no later than {_e(when or 'a time not recorded')}</strong>"
        f"{' by ' + _e(tsa) if tsa else ''}. Token <code>{_e(path)}</code>. {_e(check)}"
        for path, when, tsa, check in run.tokens
    )


def _requested(value: object) -> str:
    if not isinstance(value, dict):
        return ""
    steps = [s for s in ("ocr", "transcribe", "translate") if value.get(s)]
    extra = [f"{k} {value[k]}" for k in ("languages", "language") if value.get(k)]
    return ", ".join(steps) + (f" ({'; '.join(extra)})" if extra else "")


def _tool(tool: dict[str, Any]) -> str:
    text = _e(tool_label(tool))
    if tool.get("via"):
        text += f" via {_e(tool['via'])}"
    if tool.get("model_sha256"):
        text += f"; model SHA-256 <span class='hash'>{_e(tool['model_sha256'])}</span>"
    return text


def _step(step: dict[str, Any]) -> str:
    text = f"{_e(step.get('step'))}: {_e(step.get('status'))}, {_e(step.get('read', 0))} read"
    if step.get("failed"):
        text += f", {_e(step['failed'])} failed"
    notes = [str(n) for n in step.get("notes") or []]
    return text + "".join(f"<br><span class='note'>{_e(n)}</span>" for n in notes)


def _reading(reading: dict[str, Any]) -> str:
    """One reading's text beside where it was read; every part of it a machine draft."""
    source = reading.get("source") if isinstance(reading.get("source"), dict) else {}
    kind = str(reading.get("kind"))
    what = {"ocr": "OCR", "transcript": "draft transcript", "translation": "translation"}
    where = f" at {_seconds(source.get('offset'))}" if source.get("offset") is not None else ""
    head = (
        f"<p><strong>Machine draft:</strong> {_e(what.get(kind, kind))} of the"
        f" {_e(source.get('what'))}{where}, by {_e(tool_label(_dict(reading.get('tool'))))}<br>"
        f"source <span class='url'>{_e(source.get('uri'))}</span>"
        f"{'; file <code>' + _e(source.get('file')) + '</code>' if source.get('file') else ''}"
        f"{'; SHA-256 <span class=hash>' + _e(source.get('sha256')) + '</span>' if source.get('sha256') else ''}"  # noqa: E501
        "</p>"
    )
    result = _dict(reading.get("result"))
    if kind == "transcript":
        rows = "".join(
            f"<tr><td class='mono'>{_seconds(s.get('start'))}–{_seconds(s.get('end'))}</td>"
            f"<td dir='auto'>{_e(s.get('text'))}</td></tr>"
            for s in _dicts(result.get("segments"))
        )
        text = f"<table><thead><tr><th>Time</th><th>Text (draft)</th></tr></thead>{rows}</table>"
    elif kind == "translation":
        rows = "".join(
            f"<tr><td dir='auto'>{_e(line.get('source'))}</td>"
            f"<td dir='auto'>{_e(line.get('translation'))}</td></tr>"
            for line in _dicts(result.get("lines"))
        )
        text = f"<table><thead><tr><th>Read</th><th>Translation (draft)</th></tr></thead>{rows}</table>"  # noqa: E501
    else:
        rows = "".join(
            f"<tr><td class='mono'>{_e(_box(line.get('box')))}</td>"
            f"<td dir='auto'>{_e(line.get('text'))}</td></tr>"
            for line in _dicts(result.get("lines"))
        )
        text = (
            "<table><thead><tr><th>Box (x, y, width, height in px)</th><th>Text (draft)</th>"
            f"</tr></thead>{rows}</table>"
            if rows
            else "<p>No text found.</p>"
        )
    return f"<div class='reading'>{head}{text}</div>"


def _seconds(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes):02d}:{seconds:05.2f}"


def _box(value: object) -> str:
    if isinstance(value, list) and len(value) == 4:
        return ", ".join(str(v) for v in value)
    return ""


def _items(items: Any) -> str:
    """Already-escaped items as a list."""
    listed = list(items)
    return "<ul>" + "".join(f"<li>{i}</li>" for i in listed) + "</ul>" if listed else "—"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
