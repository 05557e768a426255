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

from archive.catalog import AnalysisRow, CaptureRow
from archive.errors import NotFound, OsintCaptureError, Tampered
from archive.evidence.addendum import addendum_name, analysis_number, results_name
from archive.evidence.timestamps import TimestampError, TrustStore, verify_token
from archive.store import Artifact
from archive.timeutil import rfc3339
from capture.analysis.options import AnalysisOptions
from capture.server import keys
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


def token_times(
    service: CaptureService,
    capture_id: str,
    artifacts: list[Artifact],
    events: list[Any],
    *,
    digest_hex: str,
    number: int | None,
) -> list[TrustedTime]:
    """Each token of the capture (``number`` None) or of its analysis ``number``, verified.

    The TSA's name comes from the custody event that recorded the token (a token
    does not say where it came from); genTime is read from the token itself.
    """
    recorded = {e.details.get("token"): e.details for e in events if e.action == "timestamped"}
    trust = TrustStore.load(service.tsa.trust_files if service.tsa else ())
    digest = bytes.fromhex(digest_hex)
    times = []
    for artifact in artifacts:
        if artifact.kind != "timestamp" or analysis_number(artifact.path) != number:
            continue
        details = recorded.get(artifact.path) or {}
        tsa = str(details.get("tsa") or "unknown TSA")
        try:
            data = service.store.path(capture_id, artifact.path).read_bytes()
            if hashlib.sha256(data).hexdigest() != artifact.sha256:
                raise Tampered("the file no longer has the hash it was sealed with")
            token = verify_token(data, digest, trust=trust, tsa_url=tsa)
            times.append(TrustedTime(artifact.path, tsa, rfc3339(token.gen_time), None))
        except (OSError, TimestampError, Tampered) as exc:
            gen_time = details.get("gen_time")
            times.append(TrustedTime(artifact.path, tsa, str(gen_time or ""), str(exc)))
    return times


def analysis_runs(
    service: CaptureService, row: CaptureRow, artifacts: list[Artifact], events: list[Any]
) -> list[RunView]:
    """Every analysis run of the capture, latest first (blocking: run in a thread)."""
    sealed = {a.path: a for a in artifacts}
    views = []
    for run in reversed(service.catalog.analyses(row.id)):
        view = RunView(run, None, None, [])
        if run.status == "done" and run.addendum_sha256:
            try:
                view.addendum = _sealed_json(
                    service, row.id, addendum_name(run.number), run.addendum_sha256
                )
                results = sealed.get(results_name(run.number))
                if results is None:
                    raise NotFound(f"{results_name(run.number)} is not among the sealed files")
                document = _sealed_json(service, row.id, results.path, results.sha256)
                view.readings = readings_view(run.number, list(document.get("readings", [])))
            except (OSError, ValueError, OsintCaptureError) as exc:  # ValueError: not JSON
                view.problem = str(exc)
            view.times = token_times(
                service,
                row.id,
                artifacts,
                events,
                digest_hex=run.addendum_sha256,
                number=run.number,
            )
        views.append(view)
    return views


def _sealed_json(service: CaptureService, capture_id: str, name: str, sha256: str) -> dict:
    """A sealed JSON file of the capture, if it still has the SHA-256 it was sealed with."""
    data = service.store.path(capture_id, name).read_bytes()
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
    capture_id = request.match_info["id"]
    row = service.catalog.get_capture(capture_id)
    if row is None:
        raise NotFound(f"no capture {capture_id}")
    form = await request.post()
    wanted = {step: form.get(step) == "on" for step in STEPS}
    if not any(wanted.values()):
        wanted["ocr"] = True  # as the API: a run with nothing asked for reads text
    options = AnalysisOptions(
        **wanted,
        language=str(form.get("language") or "").strip().lower() or None,
    )
    operator = str(form.get("operator") or "").strip() or "dashboard"
    run, _ = await service.queue_analysis(row.id, options, operator=operator)
    return see_other(f"/captures/{row.id}#analysis-{run.number}")
