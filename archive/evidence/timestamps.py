"""Trusted time: RFC 3161 time-stamp tokens over a capture's manifest.

The system clock (:mod:`archive.timeutil`) says when *we* think a capture was made.
A time-stamp authority (TSA) signs that a given SHA-256 existed at a given time,
which anyone can check later without trusting us or our clock. The caller hashes
the manifest's bytes; :func:`request_token` asks a TSA to sign that digest and
verifies the reply before returning it; :func:`verify_token` checks a stored
token again, offline.

What is stored is the TSA's whole reply (a ``TimeStampResp``, conventionally a
``.tsr`` file) exactly as it arrived, not the token cut out of it:

- ``openssl ts -verify -in FILE.tsr -data manifest.json -CAfile root.pem`` reads
  it as it is; a bare token needs ``-token_in``, which verifiers forget;
- it keeps the status the TSA gave with the token;
- the token can always be cut from it (``openssl ts -reply -in FILE.tsr -token_out``);
  the reverse would mean writing bytes the TSA never sent.

:func:`verify_token` accepts a bare token too, for tokens that come from elsewhere.

Two gaps of ``rfc3161_client`` are handled here, both with a few lines of DER
(:mod:`archive.evidence.asn1`):

- Its request builder hashes the data itself, but we are handed a digest: the
  request (a fixed, small structure) is encoded here, and a test checks it equals
  the library's own encoding byte for byte.
- Its parser insists that the token's certificate set be in DER order, which
  OpenSSL-based TSAs do not write when they send a chain (OpenSSL writes the
  signer first, then its ``certs=`` list, whatever their encodings): such tokens
  are refused with ``InvalidSetOrdering``. The certificate set is not covered by
  the signature (RFC 5652 §5.4 signs the content and the signed attributes), so
  :func:`_der_ordered_certificates` sorts it in a copy handed to the library;
  every signed byte is unchanged and the stored bytes are the TSA's. Verification
  is never skipped. Its ``gen_time`` also drops fractions of a second, so the
  time is read from the token's ``genTime`` here.

What is verified: status granted; the imprint is SHA-256 and equals the digest;
the nonce is ours (when we asked); the signer certificate chains to the trust
store (valid at the token's time, as time-stamps must outlive their certificates)
and carries the critical time-stamping EKU; the CMS signature; and the ESS
signing-certificate attribute names the signer (as ``openssl ts -verify`` requires).
Revocation is not checked.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from archive.errors import BadInput, Failed, Unavailable
from archive.evidence import asn1

#: Public TSAs whose certificates chain to a root in certifi's (Mozilla's) store,
#: each with the root it chains to (a test checks those roots are in the bundle).
#: Their replies are reported to carry the intermediates (DigiCert and Sectigo a
#: cross-signed one, which :func:`_build_chain` handles); no TSA is contacted in
#: tests, and none could be from here, so this was not checked against live replies.
#: FreeTSA (https://freetsa.org/tsr) is left out on purpose: its root is its own,
#: in no public store, so its tokens would only verify with ``--trust freetsa.pem``.
DEFAULT_TSA_ROOTS: dict[str, str] = {
    # DigiCert Timestamp <year> <- DigiCert Trusted G4 TimeStamping CA <- Trusted Root G4
    "http://timestamp.digicert.com": "CN=DigiCert Trusted Root G4",
    # Sectigo Public Time Stamping Signer <- CA R36 <- Root R46 (cross-signed by USERTrust)
    "http://timestamp.sectigo.com": "CN=USERTrust RSA Certification Authority",
    # GlobalSign TSA for Advanced <- GlobalSign Timestamping CA <- GlobalSign Root CA - R6
    "http://timestamp.globalsign.com/tsa/r6advanced1": "OU=GlobalSign Root CA - R6",
}
DEFAULT_TSAS: tuple[str, ...] = tuple(DEFAULT_TSA_ROOTS)

DEFAULT_TIMEOUT = 20.0
#: A reply is a few KiB; anything far larger is not a time-stamp reply.
MAX_REPLY_BYTES = 1024 * 1024
REQUEST_CONTENT_TYPE = "application/timestamp-query"
#: RFC 3161 §3.4 says ``timestamp-reply``; some servers send ``timestamp-response``.
REPLY_CONTENT_TYPES = ("application/timestamp-reply", "application/timestamp-response")
USER_AGENT = "osint-capture (RFC 3161 client)"

SHA256_OID = "2.16.840.1.101.3.4.2.1"
_HASH_BY_OID = {
    "1.3.14.3.2.26": "sha1",
    SHA256_OID: "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
_ESS_SIGNING_CERTIFICATE_OID = "1.2.840.113549.1.9.16.2.12"
_ESS_SIGNING_CERTIFICATE_V2_OID = "1.2.840.113549.1.9.16.2.47"
#: PKIFailureInfo bits (RFC 3161 §2.4.2) after which asking again later may succeed.
_TRANSIENT_FAILURES = {"timeNotAvailable", "systemFailure"}
_FAILURE_NAMES = {
    0: "badAlg",
    2: "badRequest",
    5: "badDataFormat",
    14: "timeNotAvailable",
    15: "unacceptedPolicy",
    16: "unacceptedExtension",
    17: "addInfoNotAvailable",
    25: "systemFailure",
}
#: Longest certificate path tried from the TSA's certificate to a root.
_MAX_CHAIN = 8


class TimestampError(Failed):
    """A time-stamp could not be obtained or does not verify; the message says what failed."""


class TSAUnavailable(TimestampError, Unavailable):
    """The TSA could not be reached or did not answer usefully: mark pending, retry later."""


class BadTrustFile(TimestampError, BadInput):
    """A ``--tsa-trust`` file cannot be read, or holds no PEM certificate: every command
    refuses it before any work starts (exit 2)."""


class UntrustedChain(TimestampError):
    """The token is sound in itself, but its TSA's certificate leads to no trusted root.

    Not a sign of tampering: the verifier has not (yet) said it trusts that TSA. Checks
    of evidence report it as unproven, and name the root to pass with ``--tsa-trust``.
    """


@dataclass(frozen=True)
class Timestamp:
    """A verified RFC 3161 time-stamp over one SHA-256 digest."""

    tsa_url: str
    #: The TSA's whole reply (TimeStampResp, a ``.tsr``) as received.
    token_der: bytes
    #: The time the TSA signed, from the token's ``genTime``, in UTC.
    gen_time: datetime
    serial_number: int
    #: The signer's certificate first, then each issuer up to the trusted root.
    tsa_chain_pem: str
    #: The TSA's policy OID, dotted.
    policy: str
    nonce: int | None
    #: The TSA's stated accuracy of ``gen_time``, when it gives one.
    accuracy_seconds: float | None = None


@dataclass(frozen=True)
class TrustStore:
    """The roots a TSA's certificate must chain to: certifi's bundle plus extra PEM files."""

    roots: tuple[x509.Certificate, ...]
    #: Where the roots came from, for messages.
    sources: tuple[str, ...]
    #: Where each root came from, in the order of ``roots`` (empty: not recorded).
    root_sources: tuple[str, ...] = ()

    @classmethod
    def load(cls, extra: Iterable[Path] = ()) -> TrustStore:
        bundle = f"certifi ({certifi.where()})"
        found = [(cert, bundle) for cert in _certifi_roots()]
        sources = [bundle]
        for path in extra:
            found.extend((cert, str(path)) for cert in _load_pem_file(Path(path)))
            sources.append(str(path))
        # The last source of a root wins: a root the verifier named is reported as theirs.
        unique = {cert.public_bytes(Encoding.DER): (cert, source) for cert, source in found}
        return cls(
            roots=tuple(cert for cert, _ in unique.values()),
            sources=tuple(sources),
            root_sources=tuple(source for _, source in unique.values()),
        )

    def contains(self, cert: x509.Certificate) -> bool:
        return cert in self.roots

    def source_of(self, root: x509.Certificate) -> str:
        """Where a trusted root came from (a file the verifier named, or certifi)."""
        for cert, source in zip(self.roots, self.root_sources, strict=False):
            if cert == root:
                return source
        return self.describe()

    def describe(self) -> str:
        return ", ".join(self.sources)


@cache
def _certifi_roots() -> tuple[x509.Certificate, ...]:
    with warnings.catch_warnings():
        # Some long-lived roots have a non-positive serial number, which cryptography
        # warns about; they are still the roots everyone trusts.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


def _load_pem_file(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadTrustFile(f"cannot read trust file {path}: {exc.strerror}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BadTrustFile(f"trust file {path} holds no PEM certificate: {exc}") from exc


# --- requesting ----------------------------------------------------------------------


def request_token(
    digest: bytes, tsa_url: str, *, trust: TrustStore, timeout: float = DEFAULT_TIMEOUT
) -> Timestamp:
    """Ask the TSA at ``tsa_url`` to time-stamp ``digest`` (a SHA-256), verify the reply.

    Blocking (``urllib``; ``timeout`` bounds the connection and each read); run it
    in a thread from async code. Raises :class:`TSAUnavailable` when asking again
    later may help (network, HTTP, timeout, a TSA that is busy) and
    :class:`TimestampError` when the reply is refused or does not verify.
    """
    _check_digest(digest)
    nonce = secrets.randbits(64)
    reply = _post(tsa_url, build_request(digest, nonce), timeout)
    return _verify(reply, digest, trust, tsa_url=tsa_url, nonce=nonce)


def build_request(digest: bytes, nonce: int) -> bytes:
    """DER of a TimeStampReq (RFC 3161 §2.4.1) over a SHA-256 digest, asking for certificates.

    ``rfc3161_client``'s builder only takes the data and hashes it itself; the
    structure is small and fixed, so it is encoded here.
    """
    _check_digest(digest)
    algorithm = asn1.encode(
        0x30, asn1.encode(0x06, asn1.encode_oid(SHA256_OID)) + asn1.encode(0x05, b"")
    )
    imprint = asn1.encode(0x30, algorithm + asn1.encode(0x04, digest))
    return asn1.encode(
        0x30,
        asn1.encode_int(1)
        + imprint
        + asn1.encode_int(nonce)
        + asn1.encode(0x01, b"\xff"),  # certReq TRUE
    )


def _post(url: str, body: bytes, timeout: float) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or "//" not in url:
        raise TimestampError(f"TSA URL {url!r} is not an http:// or https:// URL")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": REQUEST_CONTENT_TYPE,
            "Accept": REPLY_CONTENT_TYPES[0],
            "User-Agent": USER_AGENT,
        },
    )
    context = ssl.create_default_context(cafile=certifi.where())
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            content_type = response.headers.get_content_type()
            data = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TSAUnavailable(f"TSA {url} answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise TSAUnavailable(f"TSA {url} unreachable: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, cut replies
        raise TSAUnavailable(f"TSA {url} failed: {str(exc) or type(exc).__name__}") from exc
    if content_type not in REPLY_CONTENT_TYPES:
        raise TSAUnavailable(
            f"TSA {url} answered {content_type!r}, not a time-stamp reply "
            f"(a proxy or captive portal?)"
        )
    if len(data) > MAX_REPLY_BYTES:
        raise TSAUnavailable(f"TSA {url} sent more than {MAX_REPLY_BYTES} bytes")
    return data


# --- verifying -----------------------------------------------------------------------


def verify_token(
    token_der: bytes, digest: bytes, *, trust: TrustStore, tsa_url: str = ""
) -> Timestamp:
    """Check a stored time-stamp against ``digest`` (a SHA-256), offline.

    ``token_der`` is a TimeStampResp (``.tsr``, what :func:`request_token` stores)
    or a bare TimeStampToken. A token does not say where it came from: ``tsa_url``
    is only copied into the result (pass the one recorded with it).
    """
    _check_digest(digest)
    return _verify(token_der, digest, trust, tsa_url=tsa_url, nonce=None)


def read_claim(token_der: bytes) -> tuple[bytes, datetime]:
    """The SHA-256 a token says it stamps, and the time it says, read without verifying.

    Never proof of anything: for comparing a token with what was recorded beside it
    (which must agree whoever signed it) and for naming its time in a message.
    :func:`verify_token` is what establishes either. Raises :class:`TimestampError`
    when the bytes are not a granted RFC 3161 reply or token.
    """
    response = _as_response(token_der)
    _check_status(response, "time-stamp")
    parsed, _certs = _parse(response)
    info = parsed.tst_info
    return info.message_imprint.message, _gen_time(response, info.gen_time)


def _verify(
    der: bytes, digest: bytes, trust: TrustStore, *, tsa_url: str, nonce: int | None
) -> Timestamp:
    source = f"TSA {tsa_url}" if tsa_url else "time-stamp"
    response = _as_response(der)
    _check_status(response, source)
    parsed, token_certs = _parse(response)
    info = parsed.tst_info
    algorithm = info.message_imprint.hash_algorithm.dotted_string
    if algorithm != SHA256_OID:
        name = _HASH_BY_OID.get(algorithm, algorithm)
        raise TimestampError(f"imprint mismatch: the token is over a {name} hash, not SHA-256")
    signer = _signer_certificate(parsed, token_certs)
    chain = _build_chain(signer, token_certs, trust)

    # Signature, chain at genTime, EKU, imprint: the library's checks, in its order.
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

    if info.message_imprint.message != digest:  # the library checked; this states it here
        raise TimestampError(_imprint_mismatch(info.message_imprint.message, digest))
    if nonce is not None and info.nonce != nonce:
        raise TimestampError(
            f"nonce mismatch: {source} answered nonce {info.nonce}, we sent {nonce} "
            f"(a replayed or misrouted reply)"
        )
    _check_ess_signing_certificate(response, signer)

    accuracy = info.accuracy
    return Timestamp(
        tsa_url=tsa_url,
        token_der=der,
        gen_time=_gen_time(response, info.gen_time),
        serial_number=info.serial_number,
        tsa_chain_pem="".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in chain),
        policy=info.policy.dotted_string,
        nonce=info.nonce,
        accuracy_seconds=None
        if accuracy is None
        else (accuracy.seconds or 0) + (accuracy.millis or 0) / 1e3 + (accuracy.micros or 0) / 1e6,
    )


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("digest must be the 32 raw bytes of a SHA-256, not hex or another hash")


def _as_response(der: bytes) -> bytes:
    """The TimeStampResp for ``der``, wrapping a bare token in a granted status."""
    try:
        outer = asn1.children(der, *asn1.content(der, 0, len(der), expect=0x30))
        if outer and outer[0].tag == 0x06:  # ContentInfo: contentType first
            if asn1.decode_oid(der[outer[0].start : outer[0].end]) != _SIGNED_DATA_OID:
                raise TimestampError("not a time-stamp: the ContentInfo is not SignedData")
            return asn1.encode(0x30, asn1.encode(0x30, asn1.encode_int(0)) + der)
        if not outer or outer[0].tag != 0x30:
            raise asn1.DerError("no PKIStatusInfo")
        return der
    except asn1.DerError as exc:
        raise TimestampError(f"not a time-stamp: not an RFC 3161 reply or token ({exc})") from exc


def _check_status(response: bytes, source: str) -> None:
    """Read PKIStatusInfo ourselves: the library cannot describe a refusal."""
    try:
        resp = asn1.children(response, *asn1.content(response, 0, len(response), expect=0x30))
        info = asn1.children(response, resp[0].start, resp[0].end)
        if resp[0].tag != 0x30 or info[0].tag != 0x02:
            raise asn1.DerError("PKIStatusInfo is not SEQUENCE { INTEGER, ... }")
        status = int.from_bytes(response[info[0].start : info[0].end], "big", signed=True)
        texts: list[str] = []
        failures: list[str] = []
        for field in info[1:]:
            if field.tag == 0x30:
                for text in asn1.children(response, field.start, field.end):
                    texts.append(response[text.start : text.end].decode("utf-8", "replace"))
            elif field.tag == 0x03:
                failures = _bit_names(response[field.start : field.end])
    except (asn1.DerError, IndexError) as exc:
        raise TimestampError(f"not a time-stamp: unreadable status ({exc})") from exc
    if status == PKIStatus.GRANTED and len(resp) > 1:
        return
    try:
        name = PKIStatus(status).name.lower()
    except ValueError:
        name = f"status {status}"
    detail = "; ".join(texts + failures) or "no reason given"
    message = f"{source} refused the request: {name} ({detail})"
    if status == PKIStatus.WAITING or _TRANSIENT_FAILURES & set(failures):
        raise TSAUnavailable(message)
    if status == PKIStatus.GRANTED:
        message = f"{source} granted the request but sent no token"
    elif status == PKIStatus.GRANTED_WITH_MODS:
        # rfc3161_client refuses these; no TSA we know of sends them.
        message = f"{source} granted the request with modifications, which is not accepted"
    raise TimestampError(message)


def _bit_names(bit_string: bytes) -> list[str]:
    unused, bits = bit_string[0], bit_string[1:]
    names = []
    for index in range(len(bits) * 8 - unused):
        if bits[index // 8] & (0x80 >> (index % 8)):
            names.append(_FAILURE_NAMES.get(index, f"failure bit {index}"))
    return names


def _parse(response: bytes) -> tuple[TimeStampResponse, list[x509.Certificate]]:
    """The library's view of ``response`` and the certificates in the token."""
    try:
        ordered = _der_ordered_certificates(response)
    except asn1.DerError as exc:
        raise TimestampError(f"not a time-stamp: malformed token ({exc})") from exc
    try:
        parsed = decode_timestamp_response(ordered)
        # Fields are parsed lazily, and some failures are Rust panics (PanicException,
        # a BaseException): touch everything used later while they can be caught.
        parsed.tst_info.message_imprint  # noqa: B018
        certs = [x509.load_der_x509_certificate(c) for c in parsed.signed_data.certificates]
        list(parsed.signed_data.signer_infos)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise TimestampError(
            f"not a time-stamp: the token does not parse, it is damaged or not RFC 3161 ({exc})"
        ) from exc
    return parsed, certs


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


def _build_chain(
    signer: x509.Certificate, token_certs: list[x509.Certificate], trust: TrustStore
) -> list[x509.Certificate]:
    """The path from the signer to a trusted self-signed root, trying trusted issuers first.

    A path, not the first issuer found: TSAs send cross-signed intermediates
    (same name and key as a root, issued by an older root), so a name can have
    two issuers and only one of them may lead to a root we trust.
    """

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        if _self_issued(current):
            return path if trust.contains(current) else None
        if len(path) >= _MAX_CHAIN:
            return None
        for candidate in [*trust.roots, *token_certs]:
            if candidate in path or candidate.subject != current.issuer:
                continue
            if _issued_by(current, candidate) and (found := extend([*path, candidate])):
                return found
        return None

    chain = extend([signer])
    if chain is None:
        top = signer  # follow the token's own certificates, to say where the path ends
        for _ in range(_MAX_CHAIN):
            issuer = next((c for c in token_certs if c != top and _issued_by(top, c)), None)
            if _self_issued(top) or issuer is None:
                break
            top = issuer
        if _self_issued(top):
            fingerprint = top.fingerprint(hashes.SHA256()).hex()
            end = (
                f"chains to the root {top.subject.rfc4514_string()} (certificate SHA-256"
                f" {fingerprint[:16]}...), which is not trusted"
            )
        elif any(c.subject == top.issuer for c in [*trust.roots, *token_certs]):
            end = (
                f"names the issuer {top.issuer.rfc4514_string()}, but no certificate of "
                f"that name in the token or the trust store signed it (an altered "
                f"certificate, or another CA with the same name)"
            )
        else:
            end = (
                f"needs the issuer {top.issuer.rfc4514_string()}, which is neither in "
                f"the token nor in the trust store"
            )
        raise UntrustedChain(
            f"untrusted chain: the TSA certificate {signer.subject.rfc4514_string()} {end} "
            f"(trust store: {trust.describe()}; if this authority is to be trusted, obtain "
            f"its root from it and add it with --tsa-trust ROOT.pem)"
        )
    return chain


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, unsupported key types, bad extensions
        return False
    return True


def _self_issued(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)


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
        attributes = _signed_attributes(response)
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
            algorithm = _HASH_BY_OID.get(asn1.decode_oid(value[oid.start : oid.end]))
            fields = fields[1:]
    if fields[0].tag != 0x04:
        raise asn1.DerError("ESSCertID without certHash")
    return algorithm, value[fields[0].start : fields[0].end]


def _gen_time(response: bytes, fallback: datetime) -> datetime:
    """``genTime`` with its fractions of a second, which ``rfc3161_client`` drops."""
    try:
        tst_info = _tst_info(response)
        fields = asn1.children(tst_info, *asn1.content(tst_info, 0, len(tst_info), expect=0x30))
        field = next(f for f in fields if f.tag == 0x18)
        text = tst_info[field.start : field.end].decode("ascii")
        match = re.fullmatch(r"(\d{14})(?:\.(\d+))?Z", text)
        if match is None:
            raise asn1.DerError(f"genTime {text!r} is not YYYYMMDDhhmmss[.f]Z")
        moment = datetime.strptime(match[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        micros = int((match[2] or "0")[:6].ljust(6, "0"))
        moment = moment.replace(microsecond=micros)
    except (asn1.DerError, StopIteration, ValueError) as exc:
        raise TimestampError(f"not a time-stamp: unreadable genTime ({exc})") from exc
    if moment.replace(microsecond=0) != fallback.astimezone(UTC):
        raise TimestampError(f"not a time-stamp: genTime {text!r} reads two ways")
    return moment


# --- the token's structure -----------------------------------------------------------


def _signed_data(response: bytes) -> list[asn1.Element]:
    """The fields of the token's SignedData (RFC 5652 §5.1)."""
    resp = asn1.children(response, *asn1.content(response, 0, len(response), expect=0x30))
    if len(resp) < 2:
        raise asn1.DerError("no token in the reply")
    content_info = asn1.children(response, resp[1].start, resp[1].end)
    if asn1.decode_oid(response[content_info[0].start : content_info[0].end]) != _SIGNED_DATA_OID:
        raise asn1.DerError("the token is not SignedData")
    explicit = content_info[1]
    start, end = asn1.content(response, explicit.start, explicit.end, expect=0x30)
    return asn1.children(response, start, end)


def _der_ordered_certificates(response: bytes) -> bytes:
    """``response`` with the token's certificate set in DER order (see the module docstring)."""
    fields = _signed_data(response)
    certificates = next((f for f in fields if f.tag == 0xA0), None)
    if certificates is None:
        return response
    members = [
        response[c.begin : c.end]
        for c in asn1.children(response, certificates.start, certificates.end)
    ]
    ordered = sorted(members)
    if ordered == members:
        return response
    return response[: certificates.start] + b"".join(ordered) + response[certificates.end :]


def _tst_info(response: bytes) -> bytes:
    fields = _signed_data(response)
    encap = asn1.children(response, fields[2].start, fields[2].end)
    explicit = encap[1]
    return response[slice(*asn1.content(response, explicit.start, explicit.end, expect=0x04))]


def _signed_attributes(response: bytes) -> list[tuple[str, bytes]]:
    """(OID, first value's DER) of each signed attribute of the token's one SignerInfo."""
    signer_infos = _signed_data(response)[-1]
    signer_info = asn1.children(response, signer_infos.start, signer_infos.end)[0]
    fields = asn1.children(response, signer_info.start, signer_info.end)
    signed = next((f for f in fields if f.tag == 0xA0), None)
    if signed is None:
        return []
    attributes = []
    for attribute in asn1.children(response, signed.start, signed.end):
        oid, values = asn1.children(response, attribute.start, attribute.end)[:2]
        first = asn1.children(response, values.start, values.end)[0]
        attributes.append(
            (asn1.decode_oid(response[oid.start : oid.end]), response[first.begin : first.end])
        )
    return attributes
