"""Reading an RFC 3161 reply or token: its status, its structure, what it claims.

Nothing here proves anything: these functions take the bytes apart, for
:mod:`archive.evidence.tsa_verify` to check and for :func:`read_claim` to compare a
token with what was recorded beside it. A bare token (a ``ContentInfo``, as other
tools store them) is read as a granted reply (:func:`as_response`).

``rfc3161_client`` parses tokens, with three gaps handled here with a few lines of
DER (:mod:`archive.evidence.asn1`):

- It insists that the token's certificate set be in DER order, which OpenSSL-based
  TSAs do not write when they send a chain (OpenSSL writes the signer first, then
  its ``certs=`` list, whatever their encodings): such tokens are refused with
  ``InvalidSetOrdering``. The certificate set is not covered by the signature
  (RFC 5652 §5.4 signs the content and the signed attributes), so
  :func:`_der_ordered_certificates` sorts it in a copy handed to the library; every
  signed byte is unchanged and the stored bytes are the TSA's. Verification is
  never skipped.
- Its ``gen_time`` drops fractions of a second, so the time is read from the
  token's ``genTime`` here (:func:`gen_time`).
- It cannot describe a refusal, so the status is read here (:func:`check_status`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cryptography import x509
from rfc3161_client import PKIStatus, TimeStampResponse, decode_timestamp_response

from archive.evidence import asn1
from archive.evidence.timestamps import TimestampError, TSAUnavailable

SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
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


def read_claim(token_der: bytes) -> tuple[bytes, datetime]:
    """The SHA-256 a token says it stamps, and the time it says, read without verifying.

    Never proof of anything: for comparing a token with what was recorded beside it
    (which must agree whoever signed it) and for naming its time in a message.
    :func:`~archive.evidence.tsa_verify.verify_token` is what establishes either.
    Raises :class:`TimestampError` when the bytes are not a granted RFC 3161 reply
    or token.
    """
    response = as_response(token_der)
    check_status(response, "time-stamp")
    parsed, _certs = parse_response(response)
    info = parsed.tst_info
    return info.message_imprint.message, gen_time(response, info.gen_time)


def as_response(der: bytes) -> bytes:
    """The TimeStampResp for ``der``, wrapping a bare token in a granted status."""
    try:
        outer = asn1.children(der, *asn1.content(der, 0, len(der), expect=0x30))
        if outer and outer[0].tag == 0x06:  # ContentInfo: contentType first
            if asn1.decode_oid(der[outer[0].start : outer[0].end]) != SIGNED_DATA_OID:
                raise TimestampError("not a time-stamp: the ContentInfo is not SignedData")
            return asn1.encode(0x30, asn1.encode(0x30, asn1.encode_int(0)) + der)
        if not outer or outer[0].tag != 0x30:
            raise asn1.DerError("no PKIStatusInfo")
        return der
    except asn1.DerError as exc:
        raise TimestampError(f"not a time-stamp: not an RFC 3161 reply or token ({exc})") from exc


def check_status(response: bytes, source: str) -> None:
    """Read PKIStatusInfo ourselves: the library cannot describe a refusal.

    Raises :class:`TSAUnavailable` when asking again later may help (waiting, a busy
    or failing TSA), :class:`TimestampError` for any other refusal or a grant
    without a token.
    """
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


def parse_response(response: bytes) -> tuple[TimeStampResponse, list[x509.Certificate]]:
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


def gen_time(response: bytes, fallback: datetime) -> datetime:
    """``genTime`` with its fractions of a second, which ``rfc3161_client`` drops.

    ``fallback`` is the library's reading; the two must agree to the second.
    """
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


def signed_attributes(response: bytes) -> list[tuple[str, bytes]]:
    """(OID, first value's DER) of each signed attribute of the token's one SignerInfo.

    Raises :class:`asn1.DerError` (or ``IndexError``) for a structure it cannot read.
    """
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


# --- the token's structure -----------------------------------------------------------


def _signed_data(response: bytes) -> list[asn1.Element]:
    """The fields of the token's SignedData (RFC 5652 §5.1)."""
    resp = asn1.children(response, *asn1.content(response, 0, len(response), expect=0x30))
    if len(resp) < 2:
        raise asn1.DerError("no token in the reply")
    content_info = asn1.children(response, resp[1].start, resp[1].end)
    if asn1.decode_oid(response[content_info[0].start : content_info[0].end]) != SIGNED_DATA_OID:
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
