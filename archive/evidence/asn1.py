"""A little DER: just enough to read and write the RFC 3161 structures this project needs.

Definite lengths, one-byte tags, nothing more. ``rfc3161_client`` parses tokens, but
not everything that must be checked in them (the order of a certificate set, the
ESS attribute, the fractions of ``genTime``), nor a request over a digest we already
have: :mod:`archive.evidence.tsa_token`, :mod:`archive.evidence.tsa_verify` and
:mod:`archive.evidence.tsa_client` walk and write those parts with these helpers. Anything
outside the subset (indefinite lengths, multi-byte tags, a length past its
container) is refused with :class:`DerError`.
"""

from __future__ import annotations

from dataclasses import dataclass


class DerError(ValueError):
    """Bytes outside the DER subset read here.

    A parsing internal, deliberately not an :class:`archive.errors.OsintCaptureError`:
    only :mod:`archive.evidence.timestamps` uses this module, and it turns every
    ``DerError`` into a ``TimestampError`` naming the token (a test keeps it so)."""


@dataclass(frozen=True)
class Element:
    tag: int
    #: Offset of the tag byte.
    begin: int
    #: Content starts here and ends before ``end``.
    start: int
    end: int


def element(data: bytes, pos: int, limit: int) -> Element:
    if pos + 2 > limit:
        raise DerError(f"truncated at byte {pos}")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise DerError(f"multi-byte tag at byte {pos}")
    start = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError(f"indefinite length at byte {pos} (not DER)")
    else:
        count = first & 0x7F
        if count > 4 or start + count > limit:
            raise DerError(f"bad length at byte {pos}")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > limit:
        raise DerError(f"element at byte {pos} runs past its container")
    return Element(tag, pos, start, start + length)


def content(data: bytes, pos: int, limit: int, *, expect: int) -> tuple[int, int]:
    found = element(data, pos, limit)
    if found.tag != expect:
        raise DerError(f"tag 0x{found.tag:02x} at byte {pos}, expected 0x{expect:02x}")
    return found.start, found.end


def children(data: bytes, start: int, end: int) -> list[Element]:
    children = []
    pos = start
    while pos < end:
        child = element(data, pos, end)
        children.append(child)
        pos = child.end
    return children


def encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def encode_int(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are encoded here")
    return encode(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def encode_oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    out = bytearray()
    for arc in [first * 40 + second, *rest]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def decode_oid(content: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return ""
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])
