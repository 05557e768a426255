"""The custody slice in a package: its chain, its anchors, and a sealing event per capture.

``evidence/custody.jsonl`` holds the sender's events from the first one about the
package's captures to the head at export. Every hash and link is recomputed
(:func:`archive.evidence.custody.verify_slice`); every capture needs its ``captured`` (or
``re-captured``) event recording the manifest's SHA-256 and, where the event names
one, the key that sealed it. A chain proves nothing against whoever can re-chain
it: ``evidence/custody-head.json`` and the anchor tokens beside it (time-stamps over
events' hashes, :mod:`archive.evidence.anchors`) tie the slice to times an authority vouches for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from archive.evidence.anchors import ANCHORED_CHECK
from archive.evidence.checks import Outcome
from archive.evidence.custody import SEALING_ACTIONS, CustodyError, verify_slice
from archive.evidence.package_anchors import SLICE, Segment, check_package_anchors
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.layout import CUSTODY_PATH, IMPORTED_CUSTODY_PATH
from archive.wacz.members import SmallReader
from archive.wacz.verify_captures import MANIFEST_SUFFIX, SIGNATURE_SUFFIX, CaptureManifest
from archive.wacz.verify_report import VerifyReport


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


def read_imported(
    report: VerifyReport, small: SmallReader, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A migrated capture's events from before ``migrate`` (``custody-embedded.jsonl``),
    checked as a chain and tied to ``custody.jsonl``: its last event must be the head a
    ``migrated`` event of the slice names, so every hash of it is covered by the slice
    (and by whatever anchors the slice). ``[]`` when the package has none."""
    path = IMPORTED_CUSTODY_PATH
    if path not in small.names:
        return []
    imported = read_slice(report, small, path)
    if not imported:
        return []
    last = imported[-1]
    end = (last.get("seq"), last.get("hash"))
    naming = [
        e
        for e in events
        if e.get("action") == "migrated"
        and isinstance(e.get("details"), dict)
        and (e["details"].get("imported_seq"), e["details"].get("imported_hash")) == end
    ]
    if not naming:
        report.add(
            "custody imported",
            False,
            f"{path} ends at seq {end[0]} (hash {end[1]}), but no 'migrated' event of"
            f" {CUSTODY_PATH} names that head: it is not the log the slice continues",
        )
        return []
    report.add(
        "custody imported",
        True,
        f"{path}: {len(imported)} events ending at the head that seq {naming[0].get('seq')}"
        f" ('migrated') of {CUSTODY_PATH} names",
    )
    return imported


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


def check_anchors(
    report: VerifyReport,
    small: SmallReader,
    events: list[dict[str, Any]],
    trust: TrustStore,
    *,
    segment: Segment = SLICE,
) -> None:
    """The head at export and every anchor the package carries, against the slice (or,
    ``segment``, the embedded log's own anchors against ``custody-embedded.jsonl``)."""
    head, why = small.json(segment.head_path)
    if why is not None and segment.head_path in small.names:
        report.add(segment.name("custody head"), False, why)
        return
    tokens = {}
    for name in sorted(small.names):
        if segment.is_token(name):
            data = small.get(name)
            tokens[name] = data if data is not None else b""
    checks = check_package_anchors(events, head, tokens, trust, segment=segment)
    report.extend(checks)
    final = next((c for c in checks if c.name == ANCHORED_CHECK), None)
    if final is not None and final.outcome is Outcome.OK:
        report.custody = final.reason
