"""``datapackage.json``, which lists every file, and ``datapackage-digest.json``, which signs it.

The datapackage is the Frictionless Data package WACZ builds on: each file with its
SHA-256 and size. Its digest file carries the hash of the datapackage, the
installation's anonymous WACZ signature over it, and the package's trusted time:
RFC 3161 tokens over the signature, which cannot be listed in the datapackage they
would have to be signed with.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any

from archive.evidence.signing import SigningKey, signature_to_b64
from archive.wacz.export_types import Stamper
from archive.wacz.layout import CUSTODY_PATH, DATAPACKAGE, SOFTWARE, WACZ_VERSION
from archive.wacz.loading import SealedCapture
from archive.wacz.package_writer import Resource

#: The custody lines' schema, stated so that frictionless (which ``wacz validate`` runs)
#: does not guess types from a sample: a few numeric-looking actor names would make it
#: call the column an integer and reject the rest.
CUSTODY_SCHEMA = {
    # In the order of the columns: canonical JSON sorts keys, and frictionless matches
    # schema fields to columns by position.
    "fields": [
        {"name": "action", "type": "string"},
        {"name": "actor", "type": "string"},
        {"name": "captures", "type": "array"},
        {"name": "clock", "type": "string"},
        {"name": "details", "type": "object"},
        {"name": "hash", "type": "string"},
        {"name": "prev", "type": "string"},
        {"name": "seq", "type": "integer"},
        {"name": "time", "type": "string"},
    ]
}
_RESOURCE_NAME_UNSAFE = re.compile(r"[^a-z0-9._/-]")


def datapackage_json(
    resources: list[Resource], captures: list[SealedCapture], created: str
) -> bytes:
    """Every listed entry with its hash and size; titled by the captures' cases."""
    names: set[str] = set()
    listed = []
    for resource in resources:
        entry: dict[str, Any] = {
            "name": _resource_name(resource.path, names),
            "path": resource.path,
            "hash": f"sha256:{resource.sha256}",
            "bytes": resource.size,
        }
        if resource.path == CUSTODY_PATH:
            entry["schema"] = CUSTODY_SCHEMA
        listed.append(entry)
    cases = sorted({c.row.case for c in captures if c.row.case})
    title = f"osint-capture export: {len(captures)} capture(s)"
    if cases:
        title += f" ({', '.join(cases)})"
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": (
            "Sealed web captures made with osint-capture. The files under evidence/ hold each"
            " capture's manifest, signature and trusted-time tokens, the chain of custody, a"
            " report, and evidence/VERIFY.md, which explains how to check everything by hand."
        ),
        "created": created,
        "software": SOFTWARE,
        "resources": listed,
    }
    return (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _resource_name(path: str, taken: set[str]) -> str:
    """A frictionless resource name (lowercase ``a-z0-9._/-``, unique): the base name as
    py-wacz uses, else the whole path, else the path numbered (names that differ only in
    case, or in characters frictionless does not allow, would otherwise collide)."""
    base = _RESOURCE_NAME_UNSAFE.sub("-", path.rsplit("/", 1)[-1].lower())
    whole = _RESOURCE_NAME_UNSAFE.sub("-", path.lower())
    candidates = itertools.chain((base, whole), (f"{whole}-{n}" for n in itertools.count(2)))
    name = next(c for c in candidates if c not in taken)
    taken.add(name)
    return name


def signed_digest(
    datapackage: bytes, created: str, key: SigningKey, stamper: Stamper | None = None
) -> tuple[bytes, list[str]]:
    """``datapackage-digest.json`` with the WACZ anonymous signature, and what failed.

    The signature is over the UTF-8 text of ``hash`` (``sha256:<hex>``), as the WACZ
    signing spec's verifiers check it; ``created`` repeats datapackage.json's, which
    ``wacz validate`` requires. ``timestamps`` holds tokens only: an authority that
    gave none is a note for the operator, not an entry a verifier could mistake for
    trusted time.
    """
    digest = f"sha256:{hashlib.sha256(datapackage).hexdigest()}"
    signature = key.sign(digest.encode("utf-8"))
    document: dict[str, Any] = {
        "path": DATAPACKAGE,
        "hash": digest,
        "signedData": {
            "hash": digest,
            "signature": signature_to_b64(signature),
            "publicKey": key.public_key_b64,
            "created": created,
            "software": SOFTWARE,
        },
    }
    notes = ["no time-stamp authority is configured: the package has no trusted time"]
    if stamper is not None:
        # Trusted time for the package: tokens over the SHA-256 of the signature bytes.
        stamps = stamper(hashlib.sha256(signature).digest())
        notes = [
            f"no package time-stamp from {s['tsa']}: {s['error']}"
            for s in stamps
            if "token" not in s
        ]
        tokens = [s for s in stamps if "token" in s]
        if tokens:
            document["timestamps"] = tokens
        else:
            notes.append("no time-stamp authority gave a token: the package has no trusted time")
    return (json.dumps(document, indent=2) + "\n").encode("utf-8"), notes
