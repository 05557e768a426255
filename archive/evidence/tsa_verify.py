"""Checking an RFC 3161 time-stamp against a digest and the roots the verifier trusts.

:func:`verify_token` checks a stored token again, offline;
:func:`~archive.evidence.tsa_client.request_token` runs the same checks
(:func:`verify_reply`) on a fresh reply, with the nonce it sent, before anything is
stored.

What is verified: status granted; the imprint is SHA-256 and equals the digest;
the nonce is ours (when we asked); the signer certificate chains to the trust
store (valid at the token's time, as time-stamps must outlive their certificates)
and carries the critical time-stamping EKU; the CMS signature; and the ESS
signing-certificate attribute names the signer (as ``openssl ts -verify`` requires).
Revocation is not checked.

``rfc3161_client`` checks the signature, the chain at ``genTime``, the EKU and the
imprint; the rest is checked here, and its failures are reworded so that the
message says what failed (:func:`_explain`).
"""

from __future__ import annotations

import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import Accuracy, TimeStampResponse, VerificationError, VerifierBuilder

from archive.evidence import asn1
from archive.evidence.timestamps import (
    HASH_BY_OID,
    SHA256_OID,
    Timestamp,
    TimestampError,
    check_digest,
)
from archive.evidence.tsa_roots import TrustStore, build_chain
from archive.evidence.tsa_token import (
    as_response,
    check_status,
    gen_time,
    parse_response,
    signed_attributes,
)

_ESS_SIGNING_CERTIFICATE_OID = "1.2.840.113549.1.9.16.2.12"
_ESS_SIGNING_CERTIFICATE_V2_OID = "1.2.840.113549.1.9.16.2.47"


def verify_token(
    token_der: bytes, digest: bytes, *, trust: TrustStore, tsa_url: str = ""
) -> Timestamp:
    """Check a stored time-stamp against ``digest`` (a SHA-256), offline.

    ``token_der`` is a TimeStampResp (``.tsr``, what
    :func:`~archive.evidence.tsa_client.request_token` stores) or a bare
    TimeStampToken. A token does not say where it came from: ``tsa_url`` is only
    copied into the result (pass the one recorded with it).
    """
    check_digest(digest)
    return verify_reply(token_der, digest, trust, tsa_url=tsa_url, nonce=None)


def verify_reply(
    der: bytes, digest: bytes, trust: TrustStore, *, tsa_url: str, nonce: int | None
) -> Timestamp:
    """Every check of the module docstring on ``der``; the nonce only when one was sent."""
    source = f"TSA {tsa_url}" if tsa_url else "time-stamp"
    response = as_response(der)
    check_status(response, source)
    parsed, token_certs = parse_response(response)
    info = parsed.tst_info
    algorithm = info.message_imprint.hash_algorithm.dotted_string
    if algorithm != SHA256_OID:
        name = HASH_BY_OID.get(algorithm, algorithm)
        raise TimestampError(f"imprint mismatch: the token is over a {name} hash, not SHA-256")
    signer = _signer_certificate(parsed, token_certs)
    chain = build_chain(signer, token_certs, trust)
    _library_checks(parsed, digest, trust)

    if info.message_imprint.message != digest:  # the library checked; this states it here
        raise TimestampError(_imprint_mismatch(info.message_imprint.message, digest))
    if nonce is not None and info.nonce != nonce:
        raise TimestampError(
            f"nonce mismatch: {source} answered nonce {info.nonce}, we sent {nonce} "
            f"(a replayed or misrouted reply)"
        )
    _check_ess_signing_certificate(response, signer)

    return Timestamp(
        tsa_url=tsa_url,
        token_der=der,
        gen_time=gen_time(response, info.gen_time),
        serial_number=info.serial_number,
        tsa_chain_pem="".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in chain),
        policy=info.policy.dotted_string,
        nonce=info.nonce,
        accuracy_seconds=_seconds(info.accuracy),
    )


def _library_checks(parsed: TimeStampResponse, digest: bytes, trust: TrustStore) -> None:
    """Signature, chain at genTime, EKU, imprint: the library's checks, in its order."""
    builder = VerifierBuilder()
    seen: set[x509.Certificate] = set()
    for root in trust.roots:
        if root not in seen:
            seen.add(root)
            builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(parsed, digest)
    except VerificationError as exc:
        raise TimestampError(_explain(str(exc), digest, parsed)) from exc


def _seconds(accuracy: Accuracy | None) -> float | None:
    """The token's Accuracy (seconds, millis, micros, each optional) in seconds."""
    if accuracy is None:
        return None
    return (accuracy.seconds or 0) + (accuracy.millis or 0) / 1e3 + (accuracy.micros or 0) / 1e6


def _signer_certificate(
    parsed: TimeStampResponse, token_certs: list[x509.Certificate]
) -> x509.Certificate:
    signer_infos = list(parsed.signed_data.signer_infos)
    if len(signer_infos) != 1:
        raise TimestampError(f"not a time-stamp: {len(signer_infos)} signers, expected 1")
    info = signer_infos[0]
    for cert in token_certs:
        if cert.issuer == info.issuer and cert.serial_number == info.serial_number:
            return cert
    raise TimestampError(
        f"untrusted chain: the token does not carry its signer's certificate "
        f"(issuer {info.issuer.rfc4514_string()}, serial {info.serial_number:x}); "
        f"time-stamps must be requested with certReq"
    )


def _explain(message: str, digest: bytes, parsed: TimeStampResponse) -> str:
    """Turn the library's (OpenSSL's) wording into what failed, keeping its detail."""
    reasons = re.findall(r'(?:reason|data): "([^"]+)"', message)
    reason = "; ".join(dict.fromkeys(r.strip(" :") for r in reasons)) or message
    lowered = message.lower()
    if "signature failure" in lowered or "digest failure" in lowered:
        return (
            f"bad signature: the token's signature does not match its content, "
            f"so it was altered or corrupted ({reason})"
        )
    if "certificate verify error" in lowered or "verify certificate" in lowered:
        return (
            f"untrusted chain: the TSA certificate does not verify at the token's time ({reason})"
        )
    if "eku" in lowered or "time-stamping" in lowered or "timestamping" in lowered:
        return f"signer certificate not valid for time-stamping (EKU): {message}"
    if "mismatch between messages" in lowered:
        return _imprint_mismatch(parsed.tst_info.message_imprint.message, digest)
    return f"time-stamp does not verify: {message}"


def _imprint_mismatch(stamped: bytes, digest: bytes) -> str:
    return (
        f"imprint mismatch: the token time-stamps SHA-256 {stamped.hex()}, "
        f"not {digest.hex()} (it belongs to other data)"
    )


def _check_ess_signing_certificate(response: bytes, signer: x509.Certificate) -> None:
    """The signed ESS attribute must name the signer's certificate (RFC 3161 §2.4.2, RFC 5035).

    It binds the certificate to the signature; ``rfc3161_client`` does not check
    it and ``openssl ts -verify`` does, so a token that fails here would fail there.
    """
    try:
        attributes = signed_attributes(response)
    except (asn1.DerError, IndexError) as exc:
        raise TimestampError(f"not a time-stamp: unreadable signed attributes ({exc})") from exc
    signer_der = signer.public_bytes(Encoding.DER)
    checked = 0
    for oid, value in attributes:
        if oid not in (_ESS_SIGNING_CERTIFICATE_OID, _ESS_SIGNING_CERTIFICATE_V2_OID):
            continue
        v2 = oid == _ESS_SIGNING_CERTIFICATE_V2_OID
        try:
            algorithm, cert_hash = _first_ess_cert_id(value, v2=v2)
        except (asn1.DerError, IndexError) as exc:
            raise TimestampError(f"not a time-stamp: unreadable ESS attribute ({exc})") from exc
        if algorithm is None:
            raise TimestampError("bad signature: the ESS attribute uses an unknown hash")
        if hashlib.new(algorithm, signer_der).digest() != cert_hash:
            raise TimestampError(
                "bad signature: the signed ESS attribute names another certificate than "
                f"the one that signed ({signer.subject.rfc4514_string()})"
            )
        checked += 1
    if checked:
        return
    raise TimestampError(
        "not a time-stamp: no ESS signing-certificate attribute names the signer "
        "(RFC 3161 §2.4.2 requires one)"
    )


def _first_ess_cert_id(value: bytes, *, v2: bool) -> tuple[str | None, bytes]:
    """(hash name, certHash) of the first ESSCertID(v2): the one that must be the signer's.

    ``value`` is a SigningCertificate(V2): SEQUENCE { certs SEQUENCE OF ESSCertID, ... }.
    """
    signing_certificate = asn1.children(value, *asn1.content(value, 0, len(value), expect=0x30))
    cert_ids = asn1.children(value, signing_certificate[0].start, signing_certificate[0].end)
    fields = asn1.children(value, cert_ids[0].start, cert_ids[0].end)
    algorithm: str | None = "sha1"
    if v2:
        algorithm = "sha256"  # DEFAULT of ESSCertIDv2.hashAlgorithm
        if fields[0].tag == 0x30:
            oid = asn1.children(value, fields[0].start, fields[0].end)[0]
            algorithm = HASH_BY_OID.get(asn1.decode_oid(value[oid.start : oid.end]))
            fields = fields[1:]
    if fields[0].tag != 0x04:
        raise asn1.DerError("ESSCertID without certHash")
    return algorithm, value[fields[0].start : fields[0].end]
