"""The capture page's analysis runs: machine drafts read back from their sealed files.

Each run is shown from its own sealed files only, as the API does: the addendum
must have the SHA-256 the catalog recorded, the results file the SHA-256 sealed for
it, and each time-stamp token is verified offline against the addendum's hash (not
the manifest's: an addendum's tokens sit beside the capture's, with the same kind,
and must not be read as the capture's). A run whose files no longer match is named
with the problem and its readings are not shown.

Running analysis again is a form POST from the page, through the dashboard's
session gate (same origin), queued as the API queues it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from archive.catalog import AnalysisRow
from archive.errors import NotFound, OsintCaptureError, Tampered
from archive.evidence.addendum import addendum_name, analysis_number, results_name
from archive.evidence.timestamps import TimestampError
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_verify import verify_token
from archive.people import Permission
from archive.store import Artifact
from archive.timeutil import rfc3339
from capture.analysis.options import AnalysisOptions
from capture.queries import SealedRead
from capture.server import keys
from capture.server.access import principal
from capture.server.analysis_views import ReadingsView, readings_view
from capture.server.login import see_other
from capture.service import CaptureService

routes = web.RouteTableDef()

#: The form's checkboxes, as the API's ``analysis`` fields.
STEPS = ("ocr", "transcribe", "translate")


@dataclass(frozen=True)
class TrustedTime:
    """One stored time-stamp token, read back and checked against what it stamps."""

    name: str
    tsa: str
    gen_time: str | None
    problem: str | None


@dataclass
class RunView:
    """One analysis run as the capture page shows it."""

    run: AnalysisRow
    addendum: dict[str, Any] | None
    readings: ReadingsView | None
    times: list[TrustedTime]
    #: Why the sealed files are not shown (changed since sealing, unreadable).
    problem: str | None = None

    @property
    def steps(self) -> list[dict[str, Any]]:
        """How each step went: the sealed addendum's ``outcomes``, else the catalog's."""
        if self.addendum is not None:
            steps = self.addendum.get("outcomes", [])
        else:
            steps = self.run.summary.get("steps", [])
        return [s for s in steps if isinstance(s, dict)]

    @property
    def tools(self) -> list[dict[str, Any]]:
        return [t for t in (self.addendum or {}).get("tools", []) if isinstance(t, dict)]

    @property
    def requested(self) -> list[str]:
        return [step for step in STEPS if self.run.request.get(step)]


def sealed_names(artifacts: list[Artifact], runs: list[AnalysisRow]) -> list[str]:
    """The sealed files the page reads back: every time-stamp token, and each finished
    run's addendum and results file."""
    listed = {a.path for a in artifacts}
    names = [a.path for a in artifacts if a.kind == "timestamp"]
    for run in runs:
        if run.status == "done" and run.addendum_sha256:
            names.append(addendum_name(run.number))
            if results_name(run.number) in listed:
                names.append(results_name(run.number))
    return names


def token_times(
    tsa: TimestampConfig | None,
    artifacts: list[Artifact],
    events: list[Any],
    files: dict[str, SealedRead],
    *,
    digest_hex: str,
    number: int | None,
) -> list[TrustedTime]:
    """Each token of the capture (``number`` None) or of its analysis ``number``, verified.

    The TSA's name comes from the custody event that recorded the token (a token
    does not say where it came from); genTime is read from the token itself.
    ``files`` holds the tokens as read (:func:`sealed_names`). Blocking: run in a thread.
    """
    recorded = {e.details.get("token"): e.details for e in events if e.action == "timestamped"}
    trust = TrustStore.load(tsa.trust_files if tsa else ())
    digest = bytes.fromhex(digest_hex)
    times = []
    for artifact in artifacts:
        if artifact.kind != "timestamp" or analysis_number(artifact.path) != number:
            continue
        details = recorded.get(artifact.path) or {}
        tsa_url = str(details.get("tsa") or "unknown TSA")
        try:
            data = _as_read(files, artifact.path)
            if hashlib.sha256(data).hexdigest() != artifact.sha256:
                raise Tampered("the file no longer has the hash it was sealed with")
            token = verify_token(data, digest, trust=trust, tsa_url=tsa_url)
            times.append(TrustedTime(artifact.path, tsa_url, rfc3339(token.gen_time), None))
        except (OSError, TimestampError, Tampered) as exc:
            gen_time = details.get("gen_time")
            times.append(TrustedTime(artifact.path, tsa_url, str(gen_time or ""), str(exc)))
    return times


def analysis_runs(
    tsa: TimestampConfig | None,
    runs: list[AnalysisRow],
    artifacts: list[Artifact],
    events: list[Any],
    files: dict[str, SealedRead],
) -> list[RunView]:
    """Every analysis run of the capture, latest first (blocking: run in a thread)."""
    sealed = {a.path: a for a in artifacts}
    views = []
    for run in reversed(runs):
        view = RunView(run, None, None, [])
        if run.status == "done" and run.addendum_sha256:
            try:
                view.addendum = _sealed_json(files, addendum_name(run.number), run.addendum_sha256)
                results = sealed.get(results_name(run.number))
                if results is None:
                    raise NotFound(f"{results_name(run.number)} is not among the sealed files")
                document = _sealed_json(files, results.path, results.sha256)
                view.readings = readings_view(run.number, list(document.get("readings", [])))
            except (OSError, ValueError, OsintCaptureError) as exc:  # ValueError: not JSON
                view.problem = str(exc)
            view.times = token_times(
                tsa, artifacts, events, files, digest_hex=run.addendum_sha256, number=run.number
            )
        views.append(view)
    return views


def _as_read(files: dict[str, SealedRead], name: str) -> bytes:
    """A file's bytes from :meth:`~capture.queries.ArchiveQueries.sealed_files`, or the
    error that reading it raised."""
    data = files[name]
    if isinstance(data, OSError):
        raise data
    return data


def _sealed_json(files: dict[str, SealedRead], name: str, sha256: str) -> dict:
    """A sealed JSON file of the capture, if it still has the SHA-256 it was sealed with."""
    data = _as_read(files, name)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise Tampered(f"{name} has SHA-256 {actual}, not the {sha256} it was sealed with")
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError(f"{name} is not a JSON object")
    return document


@routes.post("/captures/{id}/analyses")
async def run_again(request: web.Request) -> web.Response:
    """Queue an analysis run from the capture page's form, then show the page at that run."""
    service: CaptureService = request.app[keys.SERVICE]
    who = principal(request)
    row = await service.capture(who, request.match_info["id"], Permission.CAPTURE)
    form = await request.post()
    wanted = {step: form.get(step) == "on" for step in STEPS}
    if not any(wanted.values()):
        wanted["ocr"] = True  # as the API: a run with nothing asked for reads text
    options = AnalysisOptions(
        **wanted,
        language=str(form.get("language") or "").strip().lower() or None,
    )
    operator = str(form.get("operator") or "").strip() or None  # a label; the actor is who
    run, _ = await service.queue_analysis(who, row, options, operator=operator)
    return see_other(f"/captures/{row.id}#analysis-{run.number}")
