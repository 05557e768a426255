"""Offline verification of a WACZ package written by :mod:`archive.export`.

:func:`verify_package` checks everything a recipient can check with the package alone
(plus the time-stamp authorities' roots, ``trust``, and optionally the sender's key
fingerprint obtained through another channel):

- the file is a readable ZIP (else :class:`NotAPackage`), with no entry name that is
  absolute or climbs out (``..``), no duplicate names, and declared sizes and entry
  counts within bounds (ZIP bombs); nothing is ever extracted to disk: every member is
  read as a stream, a chunk at a time;
- every file's SHA-256 and size equal ``datapackage.json``'s, and the ZIP holds exactly
  the files it lists (plus the two datapackage files);
- every line of ``evidence/SHA256SUMS``;
- ``datapackage-digest.json``: its hash is datapackage.json's, and its signature (over
  the UTF-8 text of that hash) verifies; its package time-stamps, when present;
- each capture's manifest signature, every manifest artifact against the file in the
  package, every RFC 3161 token against the manifest's SHA-256;
- every WARC record's ``WARC-Block-Digest`` and ``WARC-Payload-Digest``;
- the custody slice (hashes and links) and, for each capture, a ``captured`` event with
  the manifest's SHA-256 (and the signing key's fingerprint, when the event names one).

Each check is a :class:`Check`; a failure names the file and what differs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

from archive.custody import SEALING_ACTIONS, CustodyError, verify_slice
from archive.export import (
    ARCHIVE_DIR,
    CUSTODY_PATH,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    EVIDENCE_DIR,
    SUMS_PATH,
)
from archive.hashing import CHUNK_SIZE
from archive.manifest import MANIFEST_NAME
from archive.signing import (
    SignatureError,
    fingerprint_of,
    signature_from_b64,
    verify_signature,
    verify_signed,
)
from archive.timestamps import TimestampError, TrustStore, verify_token

#: Refuse packages whose entries declare more than this, in all (ZIP bombs).
MAX_TOTAL_BYTES = 64 * 1024**3
MAX_ENTRIES = 100_000
#: WARC content read in all, once decompressed. The ZIP's declared sizes bound only what
#: the WARCs' gzip members hold compressed, and gzip expands about a thousandfold.
MAX_WARC_BYTES = MAX_TOTAL_BYTES
#: JSON and other small members are read into memory, up to this size each.
MAX_SMALL_MEMBER = 64 * 1024**2
#: An HTTP header block in a WARC record longer than this is not parsed for the payload.
MAX_HTTP_HEADERS = 1024**2
#: A line of a WARC record's header longer than this is refused, and so is a record
#: header longer than MAX_HTTP_HEADERS: warcio reads a line whole, however long.
MAX_WARC_LINE = 64 * 1024
#: What a failure quotes of an error message (warcio's quote the bytes they choked on).
MAX_QUOTE = 300
#: Failing WARC records reported one by one per file; the rest are counted.
MAX_RECORD_FAILURES = 20

_SIGNATURE_SUFFIX = ".manifest.sig.json"
_MANIFEST_SUFFIX = "." + MANIFEST_NAME
_TOKEN = re.compile(r"evidence/(?P<id>.+)\.timestamp-(?P<n>\d+)\.tsr")
_DIGEST = re.compile(r"sha256:(?P<hex>[0-9a-f]{64})")
_UNLISTED = (DATAPACKAGE, DATAPACKAGE_DIGEST)


class NotAPackage(Exception):
    """The file is not a readable ZIP, so not a package at all (the CLI exits 2)."""


@dataclass(frozen=True)
class Check:
    """One thing checked: ``ok``, and why (what was found, or what differs)."""

    name: str
    ok: bool
    reason: str = ""

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.reason}"


@dataclass
class VerifyReport:
    path: Path
    checks: list[Check] = field(default_factory=list)
    #: The captures the package holds (by their manifests' names).
    captures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def summary(self) -> str:
        verdict = "verified" if self.ok else f"{len(self.failures)} check(s) FAILED"
        return "\n".join([f"{self.path}: {verdict}", *(f"  {check}" for check in self.checks)])

    def add(self, name: str, ok: bool, reason: str = "") -> None:
        self.checks.append(Check(name, ok, reason))


@dataclass(frozen=True)
class _Member:
    sha256: str
    size: int


def verify_package(
    path: Path, *, trust: TrustStore, expected_fingerprint: str | None = None
) -> VerifyReport:
    """Check a ``.wacz`` made by :func:`archive.export.export_wacz`, offline.

    Raises :class:`NotAPackage` when ``path`` is not a readable ZIP (missing, truncated,
    or another kind of file); every other problem is a failing :class:`Check` in the
    report. Blocking (reads every byte): run it in a thread from async code.
    """
    path = Path(path)
    report = VerifyReport(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise NotAPackage(f"{path} is not a readable ZIP (WACZ) file: {exc}") from exc
    with zf:
        try:
            infos = zf.infolist()
        except Exception as exc:  # pragma: no cover - infolist is built when opening
            raise NotAPackage(f"{path}: cannot read the ZIP directory: {exc}") from exc
        report.add("zip", True, f"readable ZIP with {len(infos)} entries")
        if not _check_entries(report, infos):
            return report
        names = {info.filename for info in infos if _safe_name(info.filename)}
        warcs: dict[str, tuple[int, list[str]]] = {}
        members = _hash_members(report, zf, names, warcs)
        small = _SmallReader(zf, members)
        _check_datapackage(report, small, members)
        _check_sums(report, small, members)
        _check_digest_file(report, small, expected_fingerprint, trust)
        manifests = _check_captures(report, small, members, trust, expected_fingerprint)
        _report_warcs(report, warcs)
        _check_custody(report, small, members, manifests)
    return report


# -- the ZIP itself ---------------------------------------------------------------------------


def _safe_name(name: str) -> bool:
    if not name or "\x00" in name or name.startswith(("/", "\\")):
        return False
    if re.match(r"[A-Za-z]:", name):
        return False
    return ".." not in re.split(r"[/\\]", name)


def _check_entries(report: VerifyReport, infos: list[zipfile.ZipInfo]) -> bool:
    """Names and bounds. False when reading on would be unsafe (a bomb)."""
    unsafe = [info.filename for info in infos if not _safe_name(info.filename)]
    seen: set[str] = set()
    duplicates = sorted({i.filename for i in infos if i.filename in seen or seen.add(i.filename)})
    report.add(
        "entry names",
        not unsafe and not duplicates,
        "; ".join(
            [f"refused (absolute or '..'): {', '.join(map(repr, unsafe))}"] * bool(unsafe)
            + [f"duplicate entries: {', '.join(map(repr, duplicates))}"] * bool(duplicates)
        )
        or "no absolute, climbing or duplicate names",
    )
    total = sum(info.file_size for info in infos)
    within = len(infos) <= MAX_ENTRIES and total <= MAX_TOTAL_BYTES
    report.add(
        "size limits",
        within,
        f"{len(infos)} entries, {total} bytes uncompressed"
        + (
            ""
            if within
            else f": over the limits ({MAX_ENTRIES} entries, {MAX_TOTAL_BYTES} bytes);"
            " refusing to read further (ZIP bomb?)"
        ),
    )
    return within


class _HashingReader:
    """A member stream, hashed and counted as it is read; refuses to pass its declared size."""

    def __init__(self, raw: IO[bytes], name: str, declared: int) -> None:
        self.raw = raw
        self.name = name
        self.declared = declared
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(CHUNK_SIZE if n is None or n < 0 else min(n, CHUNK_SIZE))
        self.sha.update(data)
        self.size += len(data)
        if self.size > self.declared:
            raise zipfile.BadZipFile(f"{self.name} holds more bytes than its entry declares")
        return data

    def tell(self) -> int:
        return self.size

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass


def _is_warc(name: str) -> bool:
    return name.startswith(f"{ARCHIVE_DIR}/") and name.endswith((".warc.gz", ".warc"))


def _hash_members(
    report: VerifyReport,
    zf: zipfile.ZipFile,
    names: set[str],
    warcs: dict[str, tuple[int, list[str]]],
) -> dict[str, _Member]:
    """SHA-256 and size of every member, streamed; WARC records are checked in the same read."""
    members: dict[str, _Member] = {}
    budget = _Budget(MAX_WARC_BYTES)
    for info in zf.infolist():
        name = info.filename
        if name not in names or name.endswith("/"):
            continue
        try:
            with zf.open(info) as raw:
                reader = _HashingReader(raw, name, info.file_size)
                if _is_warc(name):
                    warcs[name] = _check_records(reader, budget)
                reader.drain()
        except Exception as exc:  # a corrupt member: bad CRC, bad header, bad compression
            report.add("zip member", False, f"{name}: cannot be read: {exc}")
            continue
        members[name] = _Member(reader.sha.hexdigest(), reader.size)
    return members


class _SmallReader:
    """Small members (JSON, tokens, sums) read whole, once, within a bound."""

    def __init__(self, zf: zipfile.ZipFile, members: dict[str, _Member]) -> None:
        self.zf = zf
        self.members = members
        self._cache: dict[str, bytes] = {}

    def get(self, name: str) -> bytes | None:
        if name not in self.members or self.members[name].size > MAX_SMALL_MEMBER:
            return None
        if name not in self._cache:
            with self.zf.open(name) as fh:
                self._cache[name] = fh.read(MAX_SMALL_MEMBER + 1)[:MAX_SMALL_MEMBER]
        return self._cache[name]


def _load_json(report: VerifyReport, small: _SmallReader, name: str, check: str) -> Any:
    data = small.get(name)
    if data is None:
        why = "too large to be" if name in small.members else "missing: no"
        report.add(check, False, f"{name} is {why} such file in the package")
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        report.add(check, False, f"{name} is not JSON: {exc}")
        return None


# -- datapackage.json, SHA256SUMS, datapackage-digest.json -----------------------------------


def _check_datapackage(
    report: VerifyReport, small: _SmallReader, members: dict[str, _Member]
) -> set[str]:
    check = "datapackage"
    package = _load_json(report, small, DATAPACKAGE, check)
    if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
        if package is not None:
            report.add(check, False, f"{DATAPACKAGE} has no list of resources")
        return set()
    listed: set[str] = set()
    bad = 0
    for resource in package["resources"]:
        where = resource.get("path") if isinstance(resource, dict) else None
        if not isinstance(where, str):
            report.add(check, False, f"{DATAPACKAGE} lists a resource without a path: {resource}")
            bad += 1
            continue
        if where in listed:
            report.add(check, False, f"{DATAPACKAGE} lists {where} twice")
            bad += 1
        listed.add(where)
        member = members.get(where)
        if member is None:
            report.add(check, False, f"{where}: listed in {DATAPACKAGE} but not in the package")
            bad += 1
            continue
        expected_hash = f"sha256:{member.sha256}"
        if resource.get("hash") != expected_hash:
            report.add(
                check,
                False,
                f"{where}: SHA-256 is {member.sha256} but {DATAPACKAGE} says"
                f" {resource.get('hash')}",
            )
            bad += 1
        if resource.get("bytes") != member.size:
            report.add(
                check,
                False,
                f"{where}: {member.size} bytes but {DATAPACKAGE} says {resource.get('bytes')}",
            )
            bad += 1
    for name in sorted(set(members) - listed - set(_UNLISTED)):
        report.add(check, False, f"{name}: in the package but not listed in {DATAPACKAGE}")
        bad += 1
    if not bad:
        report.add(check, True, f"{len(listed)} files, each with its listed SHA-256 and size")
    return listed


def _check_sums(report: VerifyReport, small: _SmallReader, members: dict[str, _Member]) -> None:
    check = "SHA256SUMS"
    data = small.get(SUMS_PATH)
    if data is None:
        report.add(check, False, f"{SUMS_PATH} is missing or too large")
        return
    bad = lines = 0
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        lines += 1
        digest, sep, where = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
            report.add(check, False, f"{SUMS_PATH} line {number} is not 'sha256  path': {line!r}")
            bad += 1
            continue
        member = members.get(where)
        if member is None:
            report.add(check, False, f"{where}: in {SUMS_PATH} (line {number}) but not in package")
            bad += 1
        elif member.sha256 != digest:
            report.add(
                check,
                False,
                f"{where}: SHA-256 is {member.sha256} but {SUMS_PATH} line {number} says {digest}",
            )
            bad += 1
    if not bad:
        report.add(check, True, f"{lines} lines, all match")


def _check_digest_file(
    report: VerifyReport,
    small: _SmallReader,
    expected_fingerprint: str | None,
    trust: TrustStore,
) -> None:
    check = "package signature"
    digest = _load_json(report, small, DATAPACKAGE_DIGEST, check)
    datapackage = small.get(DATAPACKAGE)
    if not isinstance(digest, dict) or datapackage is None:
        if digest is not None:
            report.add(check, False, f"{DATAPACKAGE_DIGEST} is not a JSON object")
        return
    actual = f"sha256:{hashlib.sha256(datapackage).hexdigest()}"
    signed = digest.get("signedData")
    signed = signed if isinstance(signed, dict) else {}
    if digest.get("hash") != actual or signed.get("hash") != actual:
        report.add(
            "datapackage digest",
            False,
            f"{DATAPACKAGE} has {actual} but {DATAPACKAGE_DIGEST} says hash"
            f" {digest.get('hash')} and signedData.hash {signed.get('hash')}",
        )
    else:
        report.add("datapackage digest", True, f"{DATAPACKAGE_DIGEST} holds {actual}")
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
    if expected_fingerprint is not None and fingerprint != expected_fingerprint:
        report.add(
            check,
            False,
            f"{DATAPACKAGE_DIGEST}: signed by key {fingerprint}, not by the expected key"
            f" {expected_fingerprint}",
        )
        return
    report.add(check, True, f"{DATAPACKAGE_DIGEST}: signature by key {fingerprint} verifies")
    _check_package_timestamps(report, digest.get("timestamps"), signature, trust)


def _check_package_timestamps(
    report: VerifyReport, stamps: object, signature: bytes, trust: TrustStore
) -> None:
    if not isinstance(stamps, list):
        return
    digest = hashlib.sha256(signature).digest()
    for number, stamp in enumerate(stamps, 1):
        check = "package time-stamp"
        where = f"{DATAPACKAGE_DIGEST} timestamps[{number}]"
        if not isinstance(stamp, dict):
            report.add(check, False, f"{where} is not an object")
            continue
        tsa = str(stamp.get("tsa", ""))
        if "token" not in stamp:
            # A TSA that did not answer at export time: listed, not a failure.
            report.add(check, True, f"{where}: no token from {tsa}: {stamp.get('error')}")
            continue
        try:
            token = base64.b64decode(str(stamp["token"]), validate=True)
            stamped = verify_token(token, digest, trust=trust, tsa_url=tsa)
        except (binascii.Error, ValueError, TimestampError) as exc:
            report.add(check, False, f"{where} ({tsa}): {exc}")
            continue
        report.add(check, True, f"{where}: {tsa} at {stamped.gen_time.isoformat()}")


# -- captures ----------------------------------------------------------------------------------


@dataclass
class _Manifest:
    id: str
    sha256: str
    fingerprint: str | None


def _capture_ids(members: dict[str, _Member]) -> list[str]:
    ids = set()
    for name in members:
        for suffix in (_MANIFEST_SUFFIX, _SIGNATURE_SUFFIX):
            if name.startswith(f"{EVIDENCE_DIR}/") and name.endswith(suffix):
                ids.add(name[len(EVIDENCE_DIR) + 1 : -len(suffix)])
    return sorted(ids)


def _check_captures(
    report: VerifyReport,
    small: _SmallReader,
    members: dict[str, _Member],
    trust: TrustStore,
    expected_fingerprint: str | None,
) -> list[_Manifest]:
    ids = _capture_ids(members)
    report.captures = ids
    if not ids:
        report.add("captures", False, f"no {EVIDENCE_DIR}/<id>{_MANIFEST_SUFFIX} in the package")
        return []
    manifests = []
    for capture_id in ids:
        manifest_path = f"{EVIDENCE_DIR}/{capture_id}{_MANIFEST_SUFFIX}"
        data = small.get(manifest_path)
        if data is None:
            report.add("manifest", False, f"{manifest_path}: missing or too large")
            continue
        sha = hashlib.sha256(data).hexdigest()
        fingerprint = _check_manifest_signature(
            report, small, capture_id, data, sha, expected_fingerprint
        )
        manifests.append(_Manifest(capture_id, sha, fingerprint))
        _check_artifacts(report, members, capture_id, manifest_path, data)
        _check_tokens(report, small, members, capture_id, sha, trust)
    return manifests


def _check_manifest_signature(
    report: VerifyReport,
    small: _SmallReader,
    capture_id: str,
    manifest: bytes,
    sha: str,
    expected_fingerprint: str | None,
) -> str | None:
    check = "manifest signature"
    sig_path = f"{EVIDENCE_DIR}/{capture_id}{_SIGNATURE_SUFFIX}"
    record = _load_json(report, small, sig_path, check)
    if record is None:
        return None
    if not isinstance(record, dict):
        report.add(check, False, f"{sig_path} is not a JSON object")
        return None
    try:
        verify_signed(record, manifest, expected_fingerprint=expected_fingerprint)
    except SignatureError as exc:
        report.add(check, False, f"{sig_path} over {capture_id}{_MANIFEST_SUFFIX}: {exc}")
        return None
    if "sha256" in record and record["sha256"] != sha:
        report.add(
            check,
            False,
            f"{sig_path} says the manifest's SHA-256 is {record['sha256']}, it is {sha}",
        )
        return None
    fingerprint = str(record.get("fingerprint"))
    report.add(check, True, f"{sig_path}: signed by {fingerprint}")
    return fingerprint


def _check_artifacts(
    report: VerifyReport,
    members: dict[str, _Member],
    capture_id: str,
    manifest_path: str,
    data: bytes,
) -> None:
    check = "manifest artifacts"
    try:
        manifest = json.loads(data)
        artifacts = manifest["artifacts"]
        if not isinstance(artifacts, list):
            raise TypeError("artifacts is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        report.add(check, False, f"{manifest_path} is not a manifest: {exc}")
        return
    if manifest.get("id") != capture_id:
        report.add(check, False, f"{manifest_path} is the manifest of {manifest.get('id')!r}")
    bad = 0
    for artifact in artifacts:
        try:
            name, kind = str(artifact["path"]), str(artifact.get("kind"))
            sha, size = artifact["sha256"], artifact["size"]
        except (KeyError, TypeError):
            report.add(check, False, f"{manifest_path}: malformed artifact {artifact!r}")
            bad += 1
            continue
        where = f"{ARCHIVE_DIR}/{name}" if kind == "warc" else f"{EVIDENCE_DIR}/{capture_id}.{name}"
        member = members.get(where)
        if member is None:
            report.add(check, False, f"{where}: listed in {manifest_path} but not in the package")
            bad += 1
        elif member.sha256 != sha or member.size != size:
            report.add(
                check,
                False,
                f"{where}: SHA-256 {member.sha256} ({member.size} bytes) but {manifest_path}"
                f" says {sha} ({size} bytes)",
            )
            bad += 1
    if not bad:
        report.add(check, True, f"{manifest_path}: {len(artifacts)} files match")


def _check_tokens(
    report: VerifyReport,
    small: _SmallReader,
    members: dict[str, _Member],
    capture_id: str,
    sha: str,
    trust: TrustStore,
) -> None:
    for name in sorted(members):
        match = _TOKEN.fullmatch(name)
        if not match or match["id"] != capture_id:
            continue
        data = small.get(name)
        try:
            if data is None:
                raise TimestampError("too large to be a time-stamp token")
            stamped = verify_token(data, bytes.fromhex(sha), trust=trust)
        except (TimestampError, ValueError) as exc:
            report.add("time-stamp", False, f"{name} over {capture_id}{_MANIFEST_SUFFIX}: {exc}")
            continue
        report.add(
            "time-stamp",
            True,
            f"{name}: the manifest existed at {stamped.gen_time.isoformat()} (TSA time)",
        )


# -- WARC records ------------------------------------------------------------------------------


class _OverBudget(Exception):
    pass


@dataclass
class _Budget:
    """Decompressed WARC bytes still allowed, across every WARC of the package."""

    left: int

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise _OverBudget


class _BoundedReader(DecompressingBufferedReader):
    """warcio's reader, with header lines bounded.

    warcio reads a header line until its newline, growing one buffer (quadratic in
    time, unbounded in memory): 64 MB of zeros took 80 s and 300 MB. Lines here stop
    at MAX_WARC_LINE, and the lines of one record's header at MAX_HTTP_HEADERS.
    """

    head_bytes = 0

    def readline(self, length: int | None = None) -> bytes:
        limit = MAX_WARC_LINE if length is None else min(length, MAX_WARC_LINE)
        line = super().readline(limit)
        self.head_bytes += len(line)
        if len(line) >= MAX_WARC_LINE and not line.endswith(b"\n"):
            raise ValueError(f"a header line longer than {MAX_WARC_LINE} bytes (not a WARC?)")
        if self.head_bytes > MAX_HTTP_HEADERS:
            raise ValueError(f"a record header longer than {MAX_HTTP_HEADERS} bytes")
        return line


class _Records(ArchiveIterator):
    """warcio's iterator over :class:`_BoundedReader`."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(stream, no_record_parse=True)
        self.reader = _BoundedReader(self.fh)


def _check_records(stream: _HashingReader, budget: _Budget) -> tuple[int, list[str]]:
    """Read every record of a WARC stream; return the count and the problems found."""
    problems: list[str] = []
    count = 0
    try:
        records = _Records(stream)  # type: ignore[arg-type]
        for record in records:
            records.reader.head_bytes = 0
            count += 1
            problem = _check_record(record, budget)
            if problem:
                problems.append(f"record {count}: {problem}")
    except _OverBudget:
        problems.append(
            f"record {count}: the WARC content expands past {MAX_WARC_BYTES} bytes in all;"
            " refusing to read further (gzip bomb?)"
        )
    except Exception as exc:
        message = str(exc)
        if len(message) > MAX_QUOTE:
            message = message[:MAX_QUOTE] + f"... ({len(message)} characters)"
        problems.append(f"unreadable after record {count}: {message}")
    return count, problems


def _check_record(record: Any, budget: _Budget) -> str | None:
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID") or "?"
    record_type = headers.get_header("WARC-Type") or "?"
    block_expected = headers.get_header("WARC-Block-Digest")
    payload_expected = headers.get_header("WARC-Payload-Digest")
    if record_type == "revisit":
        payload_expected = None  # it names the payload of the record it revisits
    is_http = (headers.get_header("Content-Type") or "").startswith("application/http")
    block, payload = hashlib.sha256(), hashlib.sha256()
    head = b""
    in_head = is_http
    for chunk in _chunks(record.raw_stream):
        budget.spend(len(chunk))
        block.update(chunk)
        if in_head:
            head += chunk
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                payload.update(head[end + 4 :])
                head, in_head = b"", False
            elif len(head) > MAX_HTTP_HEADERS:
                return f"{record_type} {record_id}: HTTP header block over {MAX_HTTP_HEADERS} bytes"
        else:
            payload.update(chunk)
    found = []
    for label, expected, actual in (
        ("WARC-Block-Digest", block_expected, block.hexdigest()),
        ("WARC-Payload-Digest", payload_expected, payload.hexdigest()),
    ):
        if expected is None:
            continue
        match = _DIGEST.fullmatch(expected.strip())
        if match is None:
            found.append(f"{label} {expected!r} is not sha256:<hex>")
        elif label == "WARC-Payload-Digest" and in_head:
            found.append(f"{label}: the HTTP header block never ends")
        elif match["hex"] != actual:
            found.append(f"{label} says {match['hex']}, content hashes to {actual}")
    if found:
        return f"{record_type} {record_id}: " + "; ".join(found)
    return None


def _chunks(stream: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def _report_warcs(report: VerifyReport, warcs: dict[str, tuple[int, list[str]]]) -> None:
    for name, (count, problems) in sorted(warcs.items()):
        if not problems and count:
            report.add("WARC records", True, f"{name}: {count} records, every digest matches")
            continue
        if not count and not problems:
            problems = ["no WARC records"]
        for problem in problems[:MAX_RECORD_FAILURES]:
            report.add("WARC records", False, f"{name}: {problem}")
        if len(problems) > MAX_RECORD_FAILURES:
            report.add(
                "WARC records",
                False,
                f"{name}: {len(problems) - MAX_RECORD_FAILURES} more record(s) fail",
            )


# -- custody -----------------------------------------------------------------------------------


def _check_custody(
    report: VerifyReport,
    small: _SmallReader,
    members: dict[str, _Member],
    manifests: list[_Manifest],
) -> None:
    check = "custody"
    data = small.get(CUSTODY_PATH)
    if data is None:
        report.add(
            check,
            False,
            f"{CUSTODY_PATH} is missing or too large: no chain of custody for the captures",
        )
        return
    events: list[dict[str, Any]] = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError as exc:
            report.add(check, False, f"{CUSTODY_PATH} line {number} is not JSON: {exc}")
            return
        if not isinstance(event, dict):
            report.add(check, False, f"{CUSTODY_PATH} line {number} is not an event")
            return
        events.append(event)
    try:
        verify_slice(events)
    except CustodyError as exc:
        report.add(check, False, f"{CUSTODY_PATH}: {exc}")
    else:
        report.add(check, True, f"{CUSTODY_PATH}: {len(events)} events, every hash and link holds")
    for manifest in manifests:
        captured = [
            e
            for e in events
            if e.get("action") in SEALING_ACTIONS
            and manifest.id in (e.get("captures") or [])
            and isinstance(e.get("details"), dict)
        ]
        if not captured:
            report.add(
                "custody captured",
                False,
                f"{CUSTODY_PATH} has no 'captured' (or 're-captured') event for {manifest.id}",
            )
            continue
        hashes = [e["details"].get("manifest_sha256") for e in captured]
        if manifest.sha256 not in hashes:
            report.add(
                "custody captured",
                False,
                f"{CUSTODY_PATH}: the sealing event of {manifest.id} records manifest SHA-256"
                f" {', '.join(map(str, hashes))}, but {EVIDENCE_DIR}/{manifest.id}"
                f"{_MANIFEST_SUFFIX} hashes to {manifest.sha256}",
            )
            continue
        event = captured[hashes.index(manifest.sha256)]
        signed_by = event["details"].get("signed_by")
        if signed_by and manifest.fingerprint and signed_by != manifest.fingerprint:
            report.add(
                "custody captured",
                False,
                f"{CUSTODY_PATH}: capture {manifest.id} was sealed with key {signed_by} (seq"
                f" {event.get('seq')}), but {EVIDENCE_DIR}/{manifest.id}{_SIGNATURE_SUFFIX} is"
                f" signed by {manifest.fingerprint}",
            )
            continue
        report.add(
            "custody captured",
            True,
            f"capture {manifest.id}: seq {event.get('seq')} records its manifest SHA-256",
        )
