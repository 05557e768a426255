"""Asking a time-stamp authority: the default TSAs, the RFC 3161 request, the HTTP round trip.

The caller hashes the manifest's bytes; :func:`request_token` asks a TSA to sign
that digest and verifies the reply (:mod:`archive.evidence.tsa_verify`) before
returning it.

What is stored is the TSA's whole reply (a ``TimeStampResp``, conventionally a
``.tsr`` file) exactly as it arrived, not the token cut out of it:

- ``openssl ts -verify -in FILE.tsr -data manifest.json -CAfile root.pem`` reads
  it as it is; a bare token needs ``-token_in``, which verifiers forget;
- it keeps the status the TSA gave with the token;
- the token can always be cut from it (``openssl ts -reply -in FILE.tsr -token_out``);
  the reverse would mean writing bytes the TSA never sent.

``rfc3161_client``'s request builder hashes the data itself, but we are handed a
digest: the request (a fixed, small structure) is encoded here with a few lines of
DER (:mod:`archive.evidence.asn1`), and a test checks it equals the library's own
encoding byte for byte.
"""

from __future__ import annotations

import http.client
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request

import certifi

from archive.evidence import asn1
from archive.evidence.timestamps import (
    SHA256_OID,
    Timestamp,
    TimestampError,
    TSAUnavailable,
    check_digest,
)
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_verify import verify_reply

#: Public TSAs whose certificates chain to a root in certifi's (Mozilla's) store,
#: each with the root it chains to (a test checks those roots are in the bundle).
#: Their replies are reported to carry the intermediates (DigiCert and Sectigo a
#: cross-signed one, which :func:`~archive.evidence.tsa_roots.build_chain` handles);
#: no TSA is contacted in tests, and none could be from here, so this was not
#: checked against live replies. FreeTSA (https://freetsa.org/tsr) is left out on
#: purpose: its root is its own, in no public store, so its tokens would only
#: verify with ``--trust freetsa.pem``.
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


def request_token(
    digest: bytes, tsa_url: str, *, trust: TrustStore, timeout: float = DEFAULT_TIMEOUT
) -> Timestamp:
    """Ask the TSA at ``tsa_url`` to time-stamp ``digest`` (a SHA-256), verify the reply.

    Blocking (``urllib``; ``timeout`` bounds the connection and each read); run it
    in a thread from async code. Raises :class:`TSAUnavailable` when asking again
    later may help (network, HTTP, timeout, a TSA that is busy) and
    :class:`TimestampError` when the reply is refused or does not verify.
    """
    check_digest(digest)
    nonce = secrets.randbits(64)
    reply = _post(tsa_url, build_request(digest, nonce), timeout)
    return verify_reply(reply, digest, trust, tsa_url=tsa_url, nonce=nonce)


def build_request(digest: bytes, nonce: int) -> bytes:
    """DER of a TimeStampReq (RFC 3161 §2.4.1) over a SHA-256 digest, asking for certificates.

    ``rfc3161_client``'s builder only takes the data and hashes it itself; the
    structure is small and fixed, so it is encoded here.
    """
    check_digest(digest)
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
    """POST the request and return the reply's bytes; every way it can fail is TSAUnavailable."""
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
