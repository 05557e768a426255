"""The custody slice in a package: its chain, and a sealing event for every capture.

``evidence/custody.jsonl`` holds the sender's events from the first one about the
package's captures to the head at export. Every hash and link is recomputed
(:func:`archive.custody.verify_slice`); every capture needs its ``captured`` (or
``re-captured``) event recording the manifest's SHA-256 and, where the event names
one, the key that sealed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from archive.custody import SEALING_ACTIONS, CustodyError, verify_slice
from archive.members import SmallReader
from archive.verify_captures import MANIFEST_SUFFIX, SIGNATURE_SUFFIX, CaptureManifest
from archive.verify_report import VerifyReport


def read_slice(
    report: VerifyReport, small: SmallReader, custody_path: str
) -> list[dict[str, Any]] | None:
    """The slice's events, checked as a chain; ``None`` when it cannot be read at all."""
    check = "custody"
    data = small.get(custody_path)
    if data is None:
        report.add(
            check,
            False,
            f"{custody_path} is missing or too large: no chain of custody for the captures",
        )
        return None
    events: list[dict[str, Any]] = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError as exc:
            report.add(check, False, f"{custody_path} line {number} is not JSON: {exc}")
            return None
        if not isinstance(event, dict):
            report.add(check, False, f"{custody_path} line {number} is not an event")
            return None
        events.append(event)
    try:
        verify_slice(events)
    except CustodyError as exc:
        report.add(check, False, f"{custody_path}: {exc}")
    else:
        report.add(check, True, f"{custody_path}: {len(events)} events, every hash and link holds")
    return events


def check_sealing_events(
    report: VerifyReport,
    events: list[dict[str, Any]],
    manifests: Mapping[str, CaptureManifest],
    *,
    custody_path: str,
    evidence_dir: str,
) -> None:
    """Each capture's sealing event records its manifest's SHA-256 and signing key."""
    check = "custody captured"
    for manifest in manifests.values():
        sealed = [
            e
            for e in events
            if e.get("action") in SEALING_ACTIONS
            and manifest.id in (e.get("captures") or [])
            and isinstance(e.get("details"), dict)
        ]
        if not sealed:
            report.add(
                check,
                False,
                f"{custody_path} has no 'captured' (or 're-captured') event for {manifest.id}",
            )
            continue
        hashes = [e["details"].get("manifest_sha256") for e in sealed]
        if manifest.sha256 not in hashes:
            report.add(
                check,
                False,
                f"{custody_path}: the sealing event of {manifest.id} records manifest SHA-256"
                f" {', '.join(map(str, hashes))}, but {evidence_dir}/{manifest.id}"
                f"{MANIFEST_SUFFIX} hashes to {manifest.sha256}",
            )
            continue
        event = sealed[hashes.index(manifest.sha256)]
        signed_by = event["details"].get("signed_by")
        if signed_by and manifest.fingerprint and signed_by != manifest.fingerprint:
            report.add(
                check,
                False,
                f"{custody_path}: capture {manifest.id} was sealed with key {signed_by} (seq"
                f" {event.get('seq')}), but {evidence_dir}/{manifest.id}{SIGNATURE_SUFFIX} is"
                f" signed by {manifest.fingerprint}",
            )
            continue
        report.add(
            check,
            True,
            f"capture {manifest.id}: seq {event.get('seq')} records its manifest SHA-256",
        )
