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

from archive.catalog import Catalog
from archive.evidence.custody import SYSTEM_ACTOR, CustodyLog
from archive.evidence.signing import SigningKey, sign_file_bytes
from archive.manifest import MANIFEST_NAME, Manifest
from archive.store import Artifact, FileStore

SIGNATURE_NAME = "manifest.sig.json"


@dataclass(frozen=True)
class Sealed:
    manifest: Artifact
    signature: Artifact
    custody_seq: int


def signing_key(data_dir: Path, catalog: Catalog) -> SigningKey:
    """The installation's key; its creation is itself a custody event."""
    key, created = SigningKey.load_or_create(data_dir)
    if created:
        CustodyLog(data_dir, catalog).append(
            "key-created",
            actor=SYSTEM_ACTOR,
            details={"fingerprint": key.fingerprint, "algorithm": "ECDSA-P256-SHA256"},
        )
    return key


def seal(
    manifest: Manifest,
    artifacts: list[Artifact],
    *,
    store: FileStore,
    catalog: Catalog,
    data_dir: Path,
    event: str = "captured",
    event_details: dict[str, object] | None = None,
) -> Sealed:
    """Write, sign and record a capture's manifest; return what was sealed.

    ``event`` names the custody event: ``captured``, or ``re-captured`` for a
    watched target's scheduled run (``event_details`` then carries the target id).
    """
    data = manifest.to_bytes()
    with store.create(manifest.id, MANIFEST_NAME, "manifest") as out:
        out.write(data)
    assert out.sealed is not None
    key = signing_key(data_dir, catalog)
    signature = {
        **sign_file_bytes(key, data),
        "signs": MANIFEST_NAME,
        "sha256": out.sealed.sha256,
    }
    with store.create(manifest.id, SIGNATURE_NAME, "signature") as sig:
        sig.write((json.dumps(signature, indent=2) + "\n").encode("utf-8"))
    assert sig.sealed is not None
    catalog.finish_capture(
        manifest.id,
        status=manifest.status,
        reasons=manifest.reasons,
        final_url=manifest.final_url,
        finished_at=manifest.finished_at,
        warc=manifest.warc,
        manifest_sha256=out.sealed.sha256,
        artifacts=[*artifacts, out.sealed, sig.sealed],
    )
    # Details stay free of URLs and case names: an export carries other captures'
    # events too, and their hashes can only be checked with their content.
    custody_event = CustodyLog(data_dir, catalog).append(
        event,
        actor=manifest.operator or SYSTEM_ACTOR,
        captures=[manifest.id],
        details={
            "status": manifest.status,
            "manifest_sha256": out.sealed.sha256,
            "files": len(artifacts) + 2,
            "signed_by": key.fingerprint,
            **(event_details or {}),
        },
    )
    return Sealed(out.sealed, sig.sealed, custody_event.seq)


def record_failure(
    catalog: Catalog,
    data_dir: Path,
    capture_id: str,
    *,
    reasons: list[str],
    finished_at: str,
    actor: str | None,
    stage: str,
    quarantined: bool,
) -> None:
    """A capture that sealed nothing: the catalog says why; custody says it happened."""
    catalog.fail_capture(capture_id, reasons=reasons, finished_at=finished_at)
    CustodyLog(data_dir, catalog).append(
        "capture-failed",
        actor=actor or SYSTEM_ACTOR,
        captures=[capture_id],
        details={"stage": stage, "reasons": len(reasons), "quarantined": quarantined},
    )


def record_quarantine(
    catalog: Catalog, data_dir: Path, capture_id: str, moved: Path, *, reason: str
) -> None:
    """Unsealed leftovers of a capture were moved to quarantine: custody says so.

    Start-up recovery does this for a capture a crash left ``running``, before it is
    retried; without the event the retry's chain of custody would not show that
    files of the same capture id were set aside, nor where. The place is given
    relative to the data directory, so the event reads the same on a restored copy.
    """
    files = [path for path in moved.rglob("*") if path.is_file()]
    CustodyLog(data_dir, catalog).append(
        "quarantined",
        actor=SYSTEM_ACTOR,
        captures=[capture_id],
        details={
            "reason": reason,
            "to": moved.relative_to(data_dir).as_posix(),
            "files": len(files),
            "bytes": sum(path.stat().st_size for path in files),
        },
    )
