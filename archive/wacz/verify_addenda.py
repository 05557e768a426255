"""Each analysis addendum in a package: signed, whole, tied to its capture, time-stamped.

An addendum (:mod:`archive.evidence.addendum`) holds machine readings of a capture, made
after it was sealed. Verification holds it to the same standard as a capture's
manifest, and to its capture:

- its signature verifies (the signer is judged with every other signer);
- it names its capture and number as the package does, and the SHA-256 of the
  capture's manifest in this package: a reading of other bytes is a failure;
- it claims to have started no earlier than its capture finished;
- every file it lists is in the package with its SHA-256 and size;
- a token over its SHA-256 verifies and agrees with its ``finished_at``; without
  one its time rests on the machine's clock (unproven, said by name);
- no file of an analysis run is in the package without an addendum listing it.

Readings stay machine drafts however well they verify: "intact" says the drafts are
what the machine wrote then, not that they are right.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from archive.evidence.addendum import analysis_number, signature_name, token_names
from archive.evidence.checks import Outcome
from archive.evidence.signing import SignatureError, verify_signed
from archive.evidence.tsa_roots import TrustStore
from archive.timeutil import parse_rfc3339
from archive.wacz.members import Member, SmallReader
from archive.wacz.verify_captures import CaptureManifest, check_tokens
from archive.wacz.verify_report import VerifyReport

_ADDENDUM = re.compile(r"(?P<id>[^/]+)\.analysis-(?P<n>[1-9][0-9]*)\.addendum\.json")


def check_addenda(
    report: VerifyReport,
    small: SmallReader,
    members: Mapping[str, Member],
    manifests: Mapping[str, CaptureManifest],
    trust: TrustStore,
    *,
    evidence_dir: str,
    archive_dir: str,
) -> None:
    """Check every addendum of the package, and that no analysis file is without one."""
    listed: set[str] = set()
    for name in sorted(members):
        match = _ADDENDUM.fullmatch(name.removeprefix(f"{evidence_dir}/"))
        if not name.startswith(f"{evidence_dir}/") or match is None:
            continue
        capture_id, number = match["id"], int(match["n"])
        data = small.get(name)
        if data is None:
            report.add("addendum", False, f"{name}: too large to be an addendum")
            continue
        where = _Where(capture_id, number, evidence_dir, archive_dir)
        listed |= where.own_files(members)
        content = _content(report, name, data, capture_id, number)
        if content is None:
            continue
        sha = hashlib.sha256(data).hexdigest()
        _check_signature(report, small, where, data, sha)
        _check_capture(report, name, content, manifests.get(capture_id))
        listed |= _check_files(report, members, where, name, content)
        _check_time(report, small, members, where, sha, content, trust)
    _check_orphans(report, members, listed, evidence_dir, archive_dir)


class _Where:
    """Where the files of one run are in a package."""

    def __init__(self, capture_id: str, number: int, evidence_dir: str, archive_dir: str) -> None:
        self.capture_id, self.number = capture_id, number
        self.evidence_dir, self.archive_dir = evidence_dir, archive_dir

    def file(self, name: str, kind: str = "") -> str:
        folder = self.archive_dir if kind == "analysis-warc" else self.evidence_dir
        return f"{folder}/{self.capture_id}.{name}"

    def own_files(self, members: Mapping[str, Member]) -> set[str]:
        """The addendum, its signature and its tokens (not listed in it: made after it)."""
        own = {
            self.file(f"analysis-{self.number}.addendum.json"),
            self.file(signature_name(self.number)),
        }
        token = 1
        while self.file(token_names(self.number, token)[0]) in members:
            own |= {self.file(name) for name in token_names(self.number, token)}
            token += 1
        return own


def _content(
    report: VerifyReport, name: str, data: bytes, capture_id: str, number: int
) -> dict[str, Any] | None:
    try:
        content = json.loads(data)
        if not isinstance(content, dict) or not isinstance(content.get("artifacts"), list):
            raise TypeError("no list of artifacts")
    except (ValueError, TypeError) as exc:
        report.add("addendum", False, f"{name} is not an addendum: {exc}")
        return None
    if content.get("capture") != capture_id or content.get("number") != number:
        report.add(
            "addendum",
            False,
            f"{name} says it is analysis {content.get('number')!r} of capture"
            f" {content.get('capture')!r}",
        )
        return None
    if content.get("machine_draft") is not True:
        report.add("addendum", False, f"{name} does not say its readings are machine drafts")
    return content


def _check_signature(
    report: VerifyReport, small: SmallReader, where: _Where, data: bytes, sha: str
) -> None:
    sig_path = where.file(signature_name(where.number))
    record, why = small.json(sig_path)
    if why is not None or not isinstance(record, dict):
        report.add("addendum signature", False, why or f"{sig_path} is not a JSON object")
        return
    try:
        verify_signed(record, data)
    except SignatureError as exc:
        report.add("addendum signature", False, f"{sig_path}: {exc}")
        return
    if record.get("sha256") != sha:
        report.add(
            "addendum signature",
            False,
            f"{sig_path} says the addendum's SHA-256 is {record.get('sha256')}, it is {sha}",
        )
        return
    fingerprint = str(record["fingerprint"])
    report.add("addendum signature", True, f"{sig_path}: signed by {fingerprint}, verifies")
    report.signed(fingerprint, sig_path)


def _check_capture(
    report: VerifyReport, name: str, content: Mapping[str, Any], capture: CaptureManifest | None
) -> None:
    """The addendum reads this package's capture, after it was sealed."""
    if capture is None:
        report.add("addendum capture", False, f"{name}: its capture's manifest is not here")
        return
    refers = content.get("refers_to") or {}
    if not isinstance(refers, dict) or refers.get("sha256") != capture.sha256:
        report.add(
            "addendum capture",
            False,
            f"{name} read a capture manifest with SHA-256 {refers.get('sha256')!r}, but this"
            f" package's manifest of {capture.id} has {capture.sha256}",
        )
        return
    try:
        started = parse_rfc3339(str(content.get("started_at")))
        finished = parse_rfc3339(str(content.get("finished_at")))
        sealed = parse_rfc3339(str(capture.content.get("finished_at")))
    except ValueError as exc:
        report.add("addendum capture", False, f"{name}: its times are not RFC 3339: {exc}")
        return
    if started < sealed or finished < started:
        report.add(
            "addendum capture",
            False,
            f"{name} claims it ran from {content.get('started_at')} to"
            f" {content.get('finished_at')}, but its capture was sealed at"
            f" {capture.content.get('finished_at')}",
        )
        return
    report.add("addendum capture", True, f"{name} reads capture {capture.id} as sealed")


def _check_files(
    report: VerifyReport,
    members: Mapping[str, Member],
    where: _Where,
    name: str,
    content: Mapping[str, Any],
) -> set[str]:
    found: set[str] = set()
    problems = []
    for artifact in content.get("artifacts") or []:
        try:
            path = where.file(str(artifact["path"]), str(artifact.get("kind")))
            sha, size = artifact["sha256"], artifact["size"]
        except (KeyError, TypeError, AttributeError):
            problems.append(f"{name}: malformed artifact {artifact!r}")
            continue
        if analysis_number(str(artifact["path"])) != where.number:
            problems.append(f"{name} lists {artifact['path']!r}, not a file of its own run")
            continue
        member = members.get(path)
        found.add(path)
        if member is None:
            problems.append(f"{path}: listed in {name} but not in the package")
        elif member.sha256 != sha or member.size != size:
            problems.append(
                f"{path}: SHA-256 {member.sha256} ({member.size} bytes) but {name} says"
                f" {sha} ({size} bytes)"
            )
    for problem in problems:
        report.add("addendum files", False, problem)
    if not content.get("artifacts"):
        report.add("addendum files", False, f"{name} lists no files")
    elif not problems:
        report.add("addendum files", True, f"{name}: {len(found)} files match")
    return found


def _check_time(
    report: VerifyReport,
    small: SmallReader,
    members: Mapping[str, Member],
    where: _Where,
    sha: str,
    content: Mapping[str, Any],
    trust: TrustStore,
) -> None:
    subject = f"analysis {where.number} of capture {where.capture_id}"
    tokens = []
    token = 1
    while (path := where.file(token_names(where.number, token)[0])) in members:
        tokens.append((path, path))
        token += 1
    proven = check_tokens(
        report,
        small,
        tokens,
        sha,
        subject,
        content.get("finished_at"),
        trust,
        names=("addendum time-stamp", "addendum trusted time"),
    )
    if not proven:
        report.add(
            "addendum trusted time",
            Outcome.UNPROVEN,
            f"{subject} has no verified time-stamp: when its readings were made rests on the"
            " machine's clock alone (`osint-capture timestamp --pending` gets one)",
        )


def _check_orphans(
    report: VerifyReport,
    members: Mapping[str, Member],
    listed: set[str],
    evidence_dir: str,
    archive_dir: str,
) -> None:
    """Files of analysis runs that no verified addendum accounts for."""
    orphans = []
    for name in sorted(members):
        folder, _, base = name.partition("/")
        if folder not in (evidence_dir, archive_dir) or "." not in base:
            continue
        if analysis_number(base.split(".", 1)[1]) is not None and name not in listed:
            orphans.append(name)
    for name in orphans:
        report.add("addendum files", False, f"{name}: a file of an analysis no addendum lists")
