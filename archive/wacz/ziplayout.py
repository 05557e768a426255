"""Every byte of a package's ZIP accounted for, before any member is trusted.

A ZIP has room for bytes that no file list or hash covers: data before the first
member (how self-extracting archives wrap one), gaps between members, a ZIP
comment, per-entry comments, extra fields, and directory entries, which most tools
never show but which can hold data. A package that hides anything there is not the
package that was signed, whatever its members' hashes say, so each of these is a
failure. The strictness is deliberate: osint-capture writes none of them, and the
SHA-256 of the file, recorded in the sender's custody log at export, changes if
anything re-zips it; a package re-zipped by another tool should be checked in its
original form.

The layout is read from the file itself, never extracted: the end-of-central-directory
record (ZIP64 where present) says where the directory starts; each member's local
header, its data and its data descriptor must follow the one before with no byte in
between, end exactly where the central directory starts, and name the same file as
the directory does (two tools reading different names is a classic way to show
each a different file).
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from archive.evidence.checks import Check, Outcome

CHECK = "zip layout"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
#: The only extra field osint-capture writes: ZIP64 sizes and offsets.
_ZIP64_EXTRA = 0x0001
_DATA_DESCRIPTOR_FLAG = 0x08
_UTF8_FLAG = 0x800
#: Failures reported one by one; the rest are counted.
MAX_REPORTED = 20


def check_layout(path: Path, zf: zipfile.ZipFile) -> list[Check]:
    """One check per kind of unaccounted byte found, or one ``ok`` check."""
    problems: list[str] = []
    infos = zf.infolist()
    if zf.comment:
        problems.append(f"a ZIP comment of {len(zf.comment)} bytes, which nothing hashes")
    problems += _entry_problems(infos)
    with open(path, "rb") as fh:
        try:
            directory_start = _directory_start(fh, len(zf.comment))
            problems += _tiling_problems(fh, infos, directory_start)
        except ValueError as exc:
            problems.append(str(exc))
        except (OSError, struct.error) as exc:
            problems.append(f"the ZIP's layout cannot be followed: {exc}")
    if not problems:
        return [
            Check(
                CHECK,
                Outcome.OK,
                f"{len(infos)} members follow one another with no byte outside them; no"
                " comments, directory entries or unknown extra fields",
            )
        ]
    checks = [Check(CHECK, Outcome.FAILED, problem) for problem in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        checks.append(
            Check(CHECK, Outcome.FAILED, f"{len(problems) - MAX_REPORTED} more layout problems")
        )
    return checks


def _entry_problems(infos: Sequence[zipfile.ZipInfo]) -> list[str]:
    problems = []
    for info in infos:
        name = info.filename
        if name.endswith("/"):
            held = (
                f"carries {info.file_size} bytes that nothing lists or hashes"
                if (info.file_size)
                else "is a directory entry, which osint-capture never writes (re-zipped?)"
            )
            problems.append(f"{name!r} {held}")
        if info.comment:
            problems.append(f"{name!r} has an entry comment of {len(info.comment)} bytes")
        foreign = [tag for tag, _ in _extra_fields(info.extra) if tag != _ZIP64_EXTRA]
        if foreign:
            tags = ", ".join(f"0x{tag:04x}" for tag in foreign)
            problems.append(f"{name!r} carries extra fields {tags} in the central directory")
    return problems


def _extra_fields(extra: bytes) -> list[tuple[int, bytes]]:
    fields = []
    position = 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, position)
        fields.append((tag, extra[position + 4 : position + 4 + size]))
        position += 4 + size
    if position != len(extra):
        fields.append((-1, extra[position:]))
    return fields


def _directory_start(fh: IO[bytes], comment_length: int) -> int:
    """Where the central directory physically starts; refuses bytes before the first member.

    The end record is the file's last 22 bytes, before the ZIP comment (reported on
    its own; zipfile has read its length).
    """
    size = fh.seek(0, 2)
    end = size - comment_length - _EOCD.size
    fh.seek(end)
    signature, _, _, _, _, directory_size, directory_offset, comment = _EOCD.unpack(
        fh.read(_EOCD.size)
    )
    if signature != _EOCD_SIGNATURE or comment != comment_length:
        raise ValueError("the file does not end with the end-of-central-directory record")
    if directory_offset == 0xFFFFFFFF or directory_size == 0xFFFFFFFF:
        end, directory_size, directory_offset = _zip64_end(fh, end)
    start = end - directory_size
    if start != directory_offset:
        raise ValueError(
            f"{start - directory_offset} bytes before the first member, which nothing lists"
            " or hashes (a wrapper, as self-extracting archives have)"
            if start > directory_offset
            else "the central directory is not where the end record says"
        )
    return start


def _zip64_end(fh: IO[bytes], eocd: int) -> tuple[int, int, int]:
    """(where the ZIP64 end record starts, directory size, directory offset)."""
    fh.seek(eocd - _ZIP64_LOCATOR.size)
    signature, _, record_offset, _ = _ZIP64_LOCATOR.unpack(fh.read(_ZIP64_LOCATOR.size))
    if signature != _ZIP64_LOCATOR_SIGNATURE:
        raise ValueError("a ZIP64 package without its ZIP64 end locator")
    record = eocd - _ZIP64_LOCATOR.size - 56
    fh.seek(record)
    data = fh.read(56)
    if data[:4] != _ZIP64_EOCD_SIGNATURE or struct.unpack_from("<Q", data, 4)[0] != 44:
        raise ValueError("the ZIP64 end record is not right before its locator")
    if record_offset != record:
        raise ValueError(
            f"{record - record_offset} bytes before the first member, which nothing lists or hashes"
        )
    directory_size, directory_offset = struct.unpack_from("<QQ", data, 40)
    return record, directory_size, directory_offset


def _tiling_problems(
    fh: IO[bytes], infos: Sequence[zipfile.ZipInfo], directory_start: int
) -> list[str]:
    """Members must follow one another from byte 0 to the directory, nothing between."""
    problems = []
    ordered = sorted(infos, key=lambda info: info.header_offset)
    position = 0
    for index, info in enumerate(ordered):
        if info.header_offset != position:
            problems.append(_gap(position, info.header_offset, f"before {info.filename!r}"))
        following = (
            ordered[index + 1].header_offset if index + 1 < len(ordered) else directory_start
        )
        member_problem, position = _member_end(fh, info, following)
        if member_problem:
            problems.append(member_problem)
    if position != directory_start:
        problems.append(_gap(position, directory_start, "before the central directory"))
    return problems


def _gap(start: int, end: int, where: str) -> str:
    if end < start:
        return f"members overlap at byte {end} ({where}): two entries share bytes"
    return f"{end - start} bytes at offset {start} {where} belong to no member"


def _member_end(fh: IO[bytes], info: zipfile.ZipInfo, following: int) -> tuple[str | None, int]:
    """Where a member's bytes end (data descriptor included), or why they cannot be followed."""
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL.size)
    if len(header) < _LOCAL.size:
        return f"{info.filename!r}: its local header is cut short", info.header_offset
    fields = _LOCAL.unpack(header)
    signature, flags, name_length, extra_length = fields[0], fields[2], fields[9], fields[10]
    if signature != _LOCAL_SIGNATURE:
        return f"{info.filename!r}: no local header where the directory says", info.header_offset
    raw_name = fh.read(name_length)
    local_name = raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437", "replace")
    if local_name != info.orig_filename:
        return (
            f"the directory names {info.filename!r} but its local header names"
            f" {local_name!r}: tools would disagree on what the file is called",
            info.header_offset,
        )
    foreign = [tag for tag, _ in _extra_fields(fh.read(extra_length)) if tag != _ZIP64_EXTRA]
    data_end = info.header_offset + _LOCAL.size + name_length + extra_length + info.compress_size
    if foreign:
        tags = ", ".join(f"0x{tag:04x}" for tag in foreign)
        return f"{info.filename!r} carries extra fields {tags} in its local header", data_end
    if not flags & _DATA_DESCRIPTOR_FLAG:
        return None, data_end
    return _descriptor_problem(fh, info, data_end, following)


def _descriptor_problem(
    fh: IO[bytes], info: zipfile.ZipInfo, data_end: int, following: int
) -> tuple[str | None, int]:
    """A data descriptor is 12, 16, 20 or 24 bytes; the next member says which."""
    length = following - data_end
    forms = {12: ("", "<III"), 16: ("sig", "<III"), 20: ("", "<IQQ"), 24: ("sig", "<IQQ")}
    if length not in forms:
        return (
            f"{info.filename!r}: {length} bytes lie between its data and what follows, which"
            " is no data descriptor",
            following,
        )
    signed, layout = forms[length]
    fh.seek(data_end)
    data = fh.read(length)
    if signed and data[:4] != _DESCRIPTOR_SIGNATURE:
        return f"{info.filename!r}: {length} bytes after its data are not its descriptor", following
    crc, compressed, size = struct.unpack(layout, data[4:] if signed else data)
    if (crc, compressed, size) != (info.CRC, info.compress_size, info.file_size):
        return (
            f"{info.filename!r}: its data descriptor disagrees with the central directory",
            following,
        )
    return None, following
