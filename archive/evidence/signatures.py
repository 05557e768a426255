"""Checking a signature with nothing but its record: the public key it carries, the raw
``r || s`` form, low S, and the key's fingerprint.

What a verifier needs (``verify``, the trusted-keys file, a key statement), with no key
file and nothing secret: :mod:`archive.evidence.signing` makes the signatures these
check, and its module docstring says why the form is raw ``r || s`` and always low-S.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from archive.errors import BadInput, Tampered

#: What a signature record says it is; checked on verification.
ALGORITHM = "ECDSA-P256-SHA256"
#: Bytes of one P-256 coordinate; a raw ``r || s`` signature is twice this.
COORDINATE_SIZE = 32
SIGNATURE_SIZE = 2 * COORDINATE_SIZE
FINGERPRINT_PREFIX = "sha256:"
#: Hex digits of the fingerprint shown in short form (64 bits: enough to tell keys apart
#: by eye, not to trust; compare the full fingerprint for that).
SHORT_FINGERPRINT_HEX = 16
#: The order of the P-256 group; a canonical (low-S) signature has ``s <= n // 2``.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_ORDER = P256_ORDER // 2

#: The fields of a signature record (``signing.sign_file_bytes``), in the order read.
_RECORD_FIELDS = ("algorithm", "publicKey", "fingerprint", "signature")


class SignatureError(Tampered):
    """A signature does not verify, or is not in the form osint-capture writes: what it
    signs, or the record itself, is not what was signed."""


class BadFingerprint(BadInput):
    """Text given as a key fingerprint is not one (the message says the form expected)."""


class NonCanonicalSignature(SignatureError):
    """A high-S signature: valid for the key, but not the form osint-capture writes.

    Its low-S twin is what was made; a high-S one was changed after signing (by a
    tool, or by someone showing that signatures can be changed without the key).
    """


# -- one signature ---------------------------------------------------------------------------


def verify_signature(public_key_b64: str, signature: bytes, data: bytes) -> None:
    """Check that ``signature`` (raw ``r || s``) is ``public_key_b64``'s over ``data``.

    Raises :class:`SignatureError` saying what is wrong; returns nothing when it holds.
    """
    public_key = _load_public_key(public_key_b64)
    if len(signature) != SIGNATURE_SIZE:
        hint = " (it looks DER-encoded)" if signature[:1] == b"\x30" else ""
        raise SignatureError(
            f"signature is {len(signature)} bytes{hint}; expected the {SIGNATURE_SIZE}-byte"
            " raw r || s (IEEE P1363) form of an ECDSA P-256 signature"
        )
    r = int.from_bytes(signature[:COORDINATE_SIZE], "big")
    s = int.from_bytes(signature[COORDINATE_SIZE:], "big")
    key = fingerprint_of_der(public_der(public_key))
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError(
            f"signature does not match the data for key {key}:"
            " the data changed since it was signed, or it was signed by another key"
        ) from None
    if s > HALF_ORDER:
        raise NonCanonicalSignature(
            f"signature by key {key} is in its high-S form, which"
            " osint-capture never writes: it was changed after signing (anyone can do that"
            " without the key), so it is not the signature that was made"
        )


def signature_to_b64(signature: bytes) -> str:
    """A signature as it goes into JSON."""
    return base64.b64encode(signature).decode("ascii")


def signature_from_b64(text: str) -> bytes:
    """A signature back from JSON; :class:`SignatureError` if it is not base64."""
    return _b64decode(text, "signature")


def fingerprint_of(public_key_b64: str) -> str:
    """The fingerprint of a ``publicKey`` as found in a signature record."""
    return fingerprint_of_der(public_der(_load_public_key(public_key_b64)))


def parse_fingerprint(text: str) -> str:
    """A fingerprint as people type it, in its one canonical form: ``sha256:`` + 64 hex.

    Accepts it with or without ``sha256:``, in any case, with spaces or colons between
    the digits (as some tools print them). Raises :class:`BadFingerprint` saying what
    it expects.
    """
    cleaned = "".join(str(text).split()).lower()
    cleaned = cleaned.removeprefix(FINGERPRINT_PREFIX).replace(":", "")
    if len(cleaned) != 64 or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise BadFingerprint(
            f"{text!r} is not a key fingerprint: expected 64 hexadecimal digits, optionally"
            f" after {FINGERPRINT_PREFIX} (as `osint-capture key` prints it)"
        )
    return FINGERPRINT_PREFIX + cleaned


def short_fingerprint(fingerprint: str) -> str:
    """``sha256:`` + the first 16 hex digits of a full fingerprint."""
    if not fingerprint.startswith(FINGERPRINT_PREFIX):
        raise ValueError(f"not a fingerprint: {fingerprint!r}")
    return fingerprint[: len(FINGERPRINT_PREFIX) + SHORT_FINGERPRINT_HEX]


# -- a signature record ---------------------------------------------------------------------


def verify_signed(
    record: dict[str, object], data: bytes, *, expected_fingerprint: str | None = None
) -> None:
    """Check a record made by :func:`sign_file_bytes` against ``data``.

    The record carries its own public key, so on its own this proves only that the
    bytes are what *that* key signed. Pass ``expected_fingerprint`` (the
    installation's, obtained out of band) to also prove *whose* key it is.
    """
    values = {name: record.get(name) for name in _RECORD_FIELDS}
    missing = [name for name, value in values.items() if not isinstance(value, str)]
    if missing:
        raise SignatureError(f"signature record lacks {', '.join(missing)} (as strings)")
    algorithm, public_key_b64, fingerprint, signature_b64 = (str(values[n]) for n in _RECORD_FIELDS)
    if algorithm != ALGORITHM:
        raise SignatureError(f"signature record uses {algorithm!r}; only {ALGORITHM} is understood")
    actual = fingerprint_of(public_key_b64)
    if fingerprint != actual:
        raise SignatureError(
            f"signature record says fingerprint {fingerprint} but its public key is {actual}:"
            " the record was altered"
        )
    if expected_fingerprint is not None and actual != parse_fingerprint(expected_fingerprint):
        raise SignatureError(
            f"signed by key {actual}, not by the expected key {expected_fingerprint}"
        )
    verify_signature(public_key_b64, signature_from_b64(signature_b64), data)


# -- keys -------------------------------------------------------------------------------


def fingerprint_of_der(public_der: bytes) -> str:
    """``sha256:`` and the hex SHA-256 of a DER SubjectPublicKeyInfo."""
    return FINGERPRINT_PREFIX + hashlib.sha256(public_der).hexdigest()


def public_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """A public key as DER SubjectPublicKeyInfo: what its fingerprint is over."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise SignatureError(f"{what} is not valid base64: {exc}") from exc


def _load_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    der = _b64decode(public_key_b64, "public key")
    try:
        public_key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"public key is not a DER SubjectPublicKeyInfo: {exc}") from exc
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise SignatureError("public key is not an ECDSA P-256 key")
    return public_key
