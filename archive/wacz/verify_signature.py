"""``datapackage-digest.json``: the package signature, and the package's trusted time.

The WACZ anonymous signature is over the text of ``hash``, which must be the SHA-256
of ``datapackage.json`` (which lists every other file). ``signedData.created`` must
repeat ``datapackage.json``'s, and the RFC 3161 tokens under ``timestamps`` (over the
SHA-256 of the signature's bytes) must verify and agree with it
(:mod:`archive.evidence.timecheck`, the WACZ signing spec's 10-minute window). The tokens sit
beside the signature, not under it: removing them leaves the package unproven, an
entry without a token fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from archive.evidence.checks import Check, Outcome
from archive.evidence.signatures import (
    SignatureError,
    fingerprint_of,
    signature_from_b64,
    verify_signature,
)
from archive.evidence.timecheck import PACKAGE_WINDOW, authority_of, judge_time, verify_stamp
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.layout import DATAPACKAGE, DATAPACKAGE_DIGEST
from archive.wacz.members import SmallReader
from archive.wacz.verify_report import VerifyReport


def check_digest_file(report: VerifyReport, small: SmallReader, trust: TrustStore) -> None:
    check = "package signature"
    digest, why = small.json(DATAPACKAGE_DIGEST)
    datapackage = small.get(DATAPACKAGE)
    if why is not None or not isinstance(digest, dict) or datapackage is None:
        report.add(check, False, why or f"{DATAPACKAGE_DIGEST} is not a JSON object")
        return
    actual = f"sha256:{hashlib.sha256(datapackage).hexdigest()}"
    signed = digest.get("signedData")
    signed = signed if isinstance(signed, dict) else {}
    report.add(
        "datapackage digest",
        digest.get("hash") == actual == signed.get("hash"),
        f"{DATAPACKAGE_DIGEST} holds {actual}"
        if digest.get("hash") == actual == signed.get("hash")
        else f"{DATAPACKAGE} has {actual} but {DATAPACKAGE_DIGEST} says hash"
        f" {digest.get('hash')} and signedData.hash {signed.get('hash')}",
    )
    public_key, signature_b64 = signed.get("publicKey"), signed.get("signature")
    if not isinstance(public_key, str) or not isinstance(signature_b64, str):
        report.add(check, False, f"{DATAPACKAGE_DIGEST}: signedData lacks publicKey or signature")
        return
    try:
        fingerprint = fingerprint_of(public_key)
        signature = signature_from_b64(signature_b64)
        verify_signature(public_key, signature, str(signed.get("hash")).encode("utf-8"))
    except SignatureError as exc:
        report.add(check, False, f"{DATAPACKAGE_DIGEST}: {exc}")
        return
    report.add(check, True, f"{DATAPACKAGE_DIGEST}: the signature by key {fingerprint} verifies")
    report.signed(fingerprint, DATAPACKAGE_DIGEST)
    _check_created(report, small, signed)
    _check_package_time(report, digest.get("timestamps"), signature, signed, trust)


def _check_created(report: VerifyReport, small: SmallReader, signed: dict[str, Any]) -> None:
    package, _ = small.json(DATAPACKAGE)
    created = package.get("created") if isinstance(package, dict) else None
    if signed.get("created") != created:
        report.add(
            "package signature",
            False,
            f"{DATAPACKAGE_DIGEST} says it was signed at {signed.get('created')!r} but"
            f" {DATAPACKAGE} says the package was created at {created!r}",
        )


def _check_package_time(
    report: VerifyReport,
    stamps: object,
    signature: bytes,
    signed: dict[str, Any],
    trust: TrustStore,
) -> None:
    """Tokens over the SHA-256 of the signature; at least one must verify and agree."""
    check = "package time-stamp"
    if not isinstance(stamps, list) or not stamps:
        report.add(
            check,
            Outcome.UNPROVEN,
            f"{DATAPACKAGE_DIGEST} carries no time-stamp: when the package was signed rests on"
            " the sender's clock alone (no authority answered at export, or the tokens were"
            " removed: they sit beside the signature, not under it). Ask the sender to export"
            " again with a time-stamp authority",
        )
        return
    digest = hashlib.sha256(signature).digest()
    for number, stamp in enumerate(stamps, 1):
        where = f"{DATAPACKAGE_DIGEST} timestamps[{number}]"
        token = _token_bytes(stamp)
        if isinstance(token, str):
            report.add(check, False, f"{where}: {token}")
            continue
        stamped = verify_stamp(check, where, token, digest, trust)
        if isinstance(stamped, Check):
            report.extend([stamped])
            continue
        result, proven = judge_time(
            check,
            "the package",
            ("signed at", signed.get("created")),
            stamped,
            authority_of(stamped, trust),
            window=PACKAGE_WINDOW,
        )
        report.extend([Check(check, result.outcome, f"{where}: {result.reason}")])
        report.times.append(proven)


def _token_bytes(stamp: object) -> bytes | str:
    """The token of one ``timestamps`` entry, or why the entry is not a token."""
    if not isinstance(stamp, dict):
        return "not an object"
    if "token" not in stamp:
        return (
            f"no token from {stamp.get('tsa')!r} ({stamp.get('error')!r}): an entry without a"
            " token proves nothing, and osint-capture writes none"
        )
    try:
        return base64.b64decode(str(stamp["token"]), validate=True)
    except (binascii.Error, ValueError) as exc:
        return f"the token is not base64: {exc}"
