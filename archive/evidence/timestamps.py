"""Trusted time: what a verified RFC 3161 time-stamp is, and how getting or checking one fails.

The system clock (:mod:`archive.timeutil`) says when *we* think a capture was made.
A time-stamp authority (TSA) signs that a given SHA-256 existed at a given time,
which anyone can check later without trusting us or our clock. The work is split
by concern, and every part hands back or raises what is defined here:

- :mod:`archive.evidence.tsa_client`: which TSAs are asked by default, and asking
  one over HTTP (:func:`~archive.evidence.tsa_client.request_token`);
- :mod:`archive.evidence.tsa_token`: reading a reply or token's DER, without trusting it
  (:func:`~archive.evidence.tsa_token.read_claim`);
- :mod:`archive.evidence.tsa_roots`: the roots a TSA must chain to, and the path to one;
- :mod:`archive.evidence.tsa_verify`: checking a token against a digest and those roots,
  offline (:func:`~archive.evidence.tsa_verify.verify_token`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archive.errors import BadInput, Failed, Unavailable

SHA256_OID = "2.16.840.1.101.3.4.2.1"
#: Hash names by OID: imprints and ESS attributes name their hash by OID.
HASH_BY_OID = {
    "1.3.14.3.2.26": "sha1",
    SHA256_OID: "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


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


def check_digest(digest: bytes) -> None:
    """Refuse anything but 32 raw bytes: a hex string or another hash would be stamped as is."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("digest must be the 32 raw bytes of a SHA-256, not hex or another hash")
