"""Offline verification of a WACZ package written by :mod:`archive.wacz.export`.

:func:`verify_package` checks everything a recipient can check with the package alone,
plus what only the recipient can bring: the time-stamp authorities' roots (``trust``)
and the keys they trust (``keys``: pinned, from a trusted-keys file, or their own
installation's; see :mod:`archive.evidence.trust`). In order:

1. the ZIP: readable (else :class:`NotAPackage`), no entry name that is absolute or
   climbs out, no duplicates, sizes within bounds (ZIP bombs), and every byte of the
   file accounted for (:mod:`archive.wacz.ziplayout`); nothing is ever extracted;
2. every member hashed as it streams (:mod:`archive.wacz.members`); every WARC record's
   digests required and recomputed as they pass (:mod:`archive.wacz.warc_check`);
3. ``datapackage.json`` lists exactly the package's files with their SHA-256 and size;
   ``SHA256SUMS`` lists every file but itself and the two datapackage files;
4. ``datapackage-digest.json``: its hash, its signature, and the package's trusted
   time, each token compared with ``signedData.created`` (:mod:`archive.wacz.verify_signature`);
5. each capture: manifest signature, files, trusted time (:mod:`archive.wacz.verify_captures`);
6. the CDXJ index and the page list against the records (:mod:`archive.wacz.index_check`);
7. the custody slice, each capture's sealing event, and the anchors that prove the
   slice up to the head at export; for migrated captures the embedded log's slice and
   its own earlier anchors (:mod:`archive.wacz.verify_custody`,
   :mod:`archive.evidence.package_anchors`);
8. the signers, judged together against the keys the verifier trusts.

Each check ends ``ok``, ``failed`` or ``unproven`` (:mod:`archive.evidence.checks`); the verdict
is the worst of them, and says first what it rests on (:mod:`archive.wacz.verify_report`).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.errors import BadInput
from archive.evidence.package_anchors import EMBEDDED
from archive.evidence.trust import TrustedKeys, judge_signers
from archive.evidence.tsa_roots import TrustStore
from archive.wacz.index_check import check_index, check_pages, parse_index
from archive.wacz.layout import (
    ARCHIVE_DIR,
    CUSTODY_PATH,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    EVIDENCE_DIR,
    INDEX_PATH,
    PAGES_PATH,
    SUMS_PATH,
)
from archive.wacz.members import HashingReader, Member, SmallReader
from archive.wacz.verify_addenda import check_addenda
from archive.wacz.verify_captures import check_captures
from archive.wacz.verify_custody import (
    check_anchors,
    check_sealing_events,
    read_imported,
    read_slice,
)
from archive.wacz.verify_report import VerifyReport
from archive.wacz.verify_signature import check_digest_file
from archive.wacz.warc_check import Budget, RecordFacts, check_warc
from archive.wacz.ziplayout import check_layout

#: Refuse packages whose entries declare more than this, in all (ZIP bombs).
MAX_TOTAL_BYTES = 64 * 1024**3
MAX_ENTRIES = 100_000
#: Failing WARC records reported one by one per file; the rest are counted.
MAX_RECORD_FAILURES = 20

_UNLISTED = (DATAPACKAGE, DATAPACKAGE_DIGEST)

__all__ = ["NotAPackage", "VerifyReport", "verify_package"]


class NotAPackage(BadInput):
    """The file is not a readable ZIP, so not a package at all (unreadable input: exit 2)."""


def verify_package(
    path: Path, *, trust: TrustStore, keys: TrustedKeys | None = None
) -> VerifyReport:
    """Check a ``.wacz`` made by :func:`archive.wacz.export.export_wacz`, offline.

    Raises :class:`NotAPackage` when ``path`` is not a readable ZIP (missing, truncated,
    or another kind of file); every other problem is a :class:`~archive.evidence.checks.Check`
    in the report. Blocking (reads every byte): run it in a thread from async code.
    """
    path = Path(path)
    report = VerifyReport(path, keys or TrustedKeys())
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise NotAPackage(f"{path} is not a readable ZIP (WACZ) file: {exc}") from exc
    with zf:
        infos = zf.infolist()
        report.add("zip", True, f"readable ZIP with {len(infos)} entries")
        if not _check_entries(report, infos):
            return report
        report.extend(check_layout(path, zf))
        names = {info.filename for info in infos if _safe_name(info.filename)}
        small = SmallReader(zf, names)
        _check_contents(report, zf, small, names, trust)
    return report


def _check_contents(
    report: VerifyReport,
    zf: zipfile.ZipFile,
    small: SmallReader,
    names: set[str],
    trust: TrustStore,
) -> None:
    index = small.get(INDEX_PATH)
    lines, malformed = parse_index(index or b"", INDEX_PATH)
    if index is None:
        malformed = [f"{INDEX_PATH} is missing or too large: replay would find nothing"]
    warcs: dict[str, Mapping[int, RecordFacts]] = {}
    members = _read_members(report, zf, names, warcs)
    _check_datapackage(report, small, members)
    _check_sums(report, small, members)
    check_digest_file(report, small, trust)
    manifests = check_captures(
        report, small, members, trust, evidence_dir=EVIDENCE_DIR, archive_dir=ARCHIVE_DIR
    )
    check_addenda(
        report, small, members, manifests, trust, evidence_dir=EVIDENCE_DIR, archive_dir=ARCHIVE_DIR
    )
    report.extend(
        check_index(lines, malformed, warcs, index_path=INDEX_PATH, archive_dir=ARCHIVE_DIR)
    )
    report.extend(
        check_pages(
            small.get(PAGES_PATH),
            {cid: m.content for cid, m in manifests.items()},
            warcs,
            pages_path=PAGES_PATH,
            archive_dir=ARCHIVE_DIR,
        )
    )
    events = read_slice(report, small, CUSTODY_PATH)
    if events is not None:
        imported = read_imported(report, small, events)
        check_sealing_events(
            report,
            imported + events,
            manifests,
            custody_path=CUSTODY_PATH,
            evidence_dir=EVIDENCE_DIR,
        )
        check_anchors(report, small, events, trust)
        if imported:
            check_anchors(report, small, imported, trust, segment=EMBEDDED)
    report.extend([judge_signers(report.signers, report.keys)])


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


def _is_warc(name: str) -> bool:
    return name.startswith(f"{ARCHIVE_DIR}/") and name.endswith((".warc.gz", ".warc"))


def _read_members(
    report: VerifyReport,
    zf: zipfile.ZipFile,
    names: set[str],
    warcs: dict[str, Mapping[int, RecordFacts]],
) -> dict[str, Member]:
    """SHA-256 and size of every member, streamed; WARC records are checked in the same read."""
    members: dict[str, Member] = {}
    budget = Budget()
    for info in zf.infolist():
        name = info.filename
        if name not in names or name.endswith("/"):
            continue
        try:
            with zf.open(info) as raw:
                reader = HashingReader(raw, name, info.file_size)
                if _is_warc(name):
                    result = check_warc(reader, budget)  # type: ignore[arg-type]
                    warcs[name] = result.records
                    _report_warc(report, name, result.count, result.problems)
                reader.drain()
        except Exception as exc:  # a corrupt member: bad CRC, bad header, bad compression
            report.add("zip member", False, f"{name}: cannot be read: {exc}")
            continue
        members[name] = reader.member()
    return members


def _report_warc(report: VerifyReport, name: str, count: int, problems: list[str]) -> None:
    if not problems:
        report.add(
            "WARC records",
            True,
            f"{name}: {count} records, each with its block and payload digests, all matching",
        )
        return
    for problem in problems[:MAX_RECORD_FAILURES]:
        report.add("WARC records", False, f"{name}: {problem}")
    if len(problems) > MAX_RECORD_FAILURES:
        report.add(
            "WARC records",
            False,
            f"{name}: {len(problems) - MAX_RECORD_FAILURES} more record(s) fail",
        )


# -- datapackage.json, SHA256SUMS --------------------------------------------------------------


def _check_datapackage(
    report: VerifyReport, small: SmallReader, members: dict[str, Member]
) -> None:
    check = "datapackage"
    package, why = small.json(DATAPACKAGE)
    if why is not None or not isinstance(package, dict):
        report.add(check, False, why or f"{DATAPACKAGE} is not a JSON object")
        return
    resources = package.get("resources")
    if not isinstance(resources, list) or not resources:
        report.add(check, False, f"{DATAPACKAGE} has no list of resources")
        return
    problems: list[str] = []
    listed: set[str] = set()
    for resource in resources:
        where = resource.get("path") if isinstance(resource, dict) else None
        if not isinstance(where, str):
            problems.append(f"{DATAPACKAGE} lists a resource without a path: {resource}")
            continue
        if where in listed:
            problems.append(f"{DATAPACKAGE} lists {where} twice")
        listed.add(where)
        problems += _resource_problems(resource, where, members.get(where))
    problems += [
        f"{name}: in the package but not listed in {DATAPACKAGE}"
        for name in sorted(set(members) - listed - set(_UNLISTED))
    ]
    for problem in problems:
        report.add(check, False, problem)
    if not problems:
        report.add(check, True, f"{len(listed)} files, each with its listed SHA-256 and size")


def _resource_problems(resource: dict[str, Any], where: str, member: Member | None) -> list[str]:
    if member is None:
        return [f"{where}: listed in {DATAPACKAGE} but not in the package"]
    problems = []
    if resource.get("hash") != f"sha256:{member.sha256}":
        problems.append(
            f"{where}: SHA-256 is {member.sha256} but {DATAPACKAGE} says {resource.get('hash')}"
        )
    if resource.get("bytes") != member.size:
        problems.append(
            f"{where}: {member.size} bytes but {DATAPACKAGE} says {resource.get('bytes')}"
        )
    return problems


def _check_sums(report: VerifyReport, small: SmallReader, members: dict[str, Member]) -> None:
    """Every line matches, and every file but the sums and the datapackage files is listed."""
    check = "SHA256SUMS"
    data = small.get(SUMS_PATH)
    if data is None:
        report.add(check, False, f"{SUMS_PATH} is missing or too large")
        return
    problems: list[str] = []
    listed: set[str] = set()
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, where = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
            problems.append(f"{SUMS_PATH} line {number} is not 'sha256  path': {line!r}")
            continue
        if where in listed:
            problems.append(f"{where}: listed twice in {SUMS_PATH} (line {number})")
        listed.add(where)
        member = members.get(where)
        if member is None:
            problems.append(f"{where}: in {SUMS_PATH} (line {number}) but not in the package")
        elif member.sha256 != digest:
            problems.append(
                f"{where}: SHA-256 is {member.sha256} but {SUMS_PATH} line {number} says {digest}"
            )
    unlisted = sorted(set(members) - listed - {SUMS_PATH, *_UNLISTED})
    problems += [f"{name}: in the package but not in {SUMS_PATH}" for name in unlisted]
    for problem in problems:
        report.add(check, False, problem)
    if not problems:
        report.add(check, True, f"{len(listed)} lines, one for every file but itself; all match")
