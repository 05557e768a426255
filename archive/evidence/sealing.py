"""Sealing a capture: manifest, signature, catalog and custody, in that order.

The manifest lists every file of the capture with its SHA-256. It is written and
sealed, then signed with the installation's key (the signature is a file of its
own, since it cannot be inside what it signs), then the catalog records the
capture and all its files in one transaction, then the custody log gets its
``captured`` event. A crash between any two steps leaves a state the server's
start-up recovers from (an unsealed capture is quarantined; the catalog is the
source of truth for what is sealed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.evidence.custody import SYSTEM_ACTOR
from archive.evidence.custody_events import device_details
from archive.evidence.signing import sign_file_bytes
from archive.manifest import MANIFEST_NAME, Manifest
from archive.store import Artifact

if TYPE_CHECKING:
    from archive.datadir import Archive

SIGNATURE_NAME = "manifest.sig.json"


@dataclass(frozen=True)
class Sealed:
    manifest: Artifact
    signature: Artifact
    custody_seq: int


def seal(
    archive: Archive,
    manifest: Manifest,
    artifacts: list[Artifact],
    *,
    event: str = "captured",
    event_details: dict[str, object] | None = None,
    actor: str | None = None,
) -> Sealed:
    """Write, sign and record a capture's manifest; return what was sealed.

    ``event``: ``captured``, or ``re-captured`` for a watched target's run (its id in
    ``event_details``, beside the device). ``actor``: the person's account name (else
    the manifest's operator label, else ``system``).
    """
    store, catalog = archive.store, archive.catalog
    data = manifest.to_bytes()
    with store.create(manifest.id, MANIFEST_NAME, "manifest") as out:
        out.write(data)
    assert out.sealed is not None
    key = archive.signing_key()
    signature = {**sign_file_bytes(key, data), "signs": MANIFEST_NAME, "sha256": out.sealed.sha256}
    with store.create(manifest.id, SIGNATURE_NAME, "signature") as sig:
        sig.write((json.dumps(signature, indent=2) + "\n").encode("utf-8"))
    assert sig.sealed is not None
    recorded = [*artifacts, out.sealed, sig.sealed]
    manifest_sha256 = out.sealed.sha256

    def finish() -> None:
        catalog.finish_capture(
            manifest.id,
            status=manifest.status,
            reasons=manifest.reasons,
            final_url=manifest.final_url,
            finished_at=manifest.finished_at,
            warc=manifest.warc,
            manifest_sha256=manifest_sha256,
            artifacts=recorded,
        )

    # The catalog row and its custody event in one step under the log's lock: a live
    # backup (which copies both under it) never holds one without the other.
    # Details stay free of URLs and case names: an export carries other captures'
    # events too, and their hashes can only be checked with their content.
    custody_event = archive.custody.append(
        event,
        actor=actor or manifest.operator or SYSTEM_ACTOR,
        captures=[manifest.id],
        details={
            "status": manifest.status,
            "manifest_sha256": out.sealed.sha256,
            "files": len(artifacts) + 2,
            "signed_by": key.fingerprint,
            **(event_details or {}),
        },
        together_with=finish,
    )
    return Sealed(out.sealed, sig.sealed, custody_event.seq)


def record_failure(
    archive: Archive,
    capture_id: str,
    *,
    reasons: list[str],
    finished_at: str,
    actor: str | None,
    stage: str,
    quarantined: bool,
    device: str | None = None,
) -> None:
    """A capture that sealed nothing: the catalog says why; custody says it happened
    (``actor``: who asked for it, through ``device``)."""
    archive.custody.append(
        "capture-failed",
        actor=actor or SYSTEM_ACTOR,
        captures=[capture_id],
        details={
            "stage": stage,
            "reasons": len(reasons),
            "quarantined": quarantined,
            **device_details(device),
        },
        together_with=lambda: archive.catalog.fail_capture(
            capture_id, reasons=reasons, finished_at=finished_at
        ),
    )


def record_quarantine(archive: Archive, capture_id: str, moved: Path, *, reason: str) -> None:
    """Unsealed leftovers of a capture were moved to quarantine: custody says so.

    Start-up recovery does this for a capture a crash left ``running``, before it is
    retried; without the event the retry's chain of custody would not show that
    files of the same capture id were set aside, nor where. The place is given
    relative to the data directory, so the event reads the same on a restored copy.
    """
    files = [path for path in moved.rglob("*") if path.is_file()]
    archive.custody.append(
        "quarantined",
        actor=SYSTEM_ACTOR,
        captures=[capture_id],
        details={
            "reason": reason,
            "to": moved.relative_to(archive.root).as_posix(),
            "files": len(files),
            "bytes": sum(path.stat().st_size for path in files),
        },
    )
