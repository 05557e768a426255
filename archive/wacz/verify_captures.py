"""Each capture in a package: its manifest's signature, its files, and its trusted time.

For every ``evidence/<id>.manifest.json``: the signature beside it verifies (and who
signed is handed to :func:`archive.evidence.trust.judge_signers` with every other signer), each
file the manifest lists is in the package with its SHA-256 and size, and the capture
has trusted time: at least one RFC 3161 token over the manifest's SHA-256 that
verifies and agrees with the manifest's ``finished_at`` (:mod:`archive.evidence.timecheck`).
A capture without a token is not a failure but is not authenticated either: its times
rest on the capturing machine's clock alone, and the verdict says so by name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archive.evidence.checks import Check, Outcome
from archive.evidence.sealing import SIGNATURE_NAME
from archive.evidence.signing import SignatureError, verify_signed
from archive.evidence.timecheck import CAPTURE_WINDOW, authority_of, judge_time, verify_stamp
from archive.evidence.tsa_roots import TrustStore
from archive.manifest import MANIFEST_NAME
from archive.timeutil import parse_rfc3339
from archive.wacz.members import Member, SmallReader
from archive.wacz.verify_report import VerifyReport

SIGNATURE_SUFFIX = "." + SIGNATURE_NAME
MANIFEST_SUFFIX = "." + MANIFEST_NAME
_TOKEN = re.compile(r"(?P<id>.+)\.timestamp-(?P<n>\d+)\.tsr")


@dataclass(frozen=True)
class CaptureManifest:
    """A manifest read from the package, with what its checks found."""

    id: str
    sha256: str
    content: dict[str, Any]
    #: The key that signed it, when its signature verified.
    fingerprint: str | None


def capture_ids(members: Mapping[str, Member], evidence_dir: str) -> list[str]:
    ids = set()
    for name in members:
        for suffix in (MANIFEST_SUFFIX, SIGNATURE_SUFFIX):
            if name.startswith(f"{evidence_dir}/") and name.endswith(suffix):
                ids.add(name[len(evidence_dir) + 1 : -len(suffix)])
    return sorted(ids)


def check_captures(
    report: VerifyReport,
    small: SmallReader,
    members: Mapping[str, Member],
    trust: TrustStore,
    *,
    evidence_dir: str,
    archive_dir: str,
) -> dict[str, CaptureManifest]:
    """Check every capture of the package; return the manifests that could be read."""
    ids = capture_ids(members, evidence_dir)
    report.captures = ids
    if not ids:
        report.add("captures", False, f"no {evidence_dir}/<id>{MANIFEST_SUFFIX} in the package")
        return {}
    manifests = {}
    for capture_id in ids:
        path = f"{evidence_dir}/{capture_id}{MANIFEST_SUFFIX}"
        data = small.get(path)
        if data is None:
            report.add("manifest", False, f"{path}: missing or too large")
            continue
        content = _manifest_content(report, path, capture_id, data)
        sha = hashlib.sha256(data).hexdigest()
        fingerprint = _check_signature(report, small, capture_id, data, sha, evidence_dir)
        manifests[capture_id] = CaptureManifest(capture_id, sha, content, fingerprint)
        _check_artifacts(report, members, capture_id, path, content, evidence_dir, archive_dir)
        _check_trusted_time(report, small, members, capture_id, sha, content, trust, evidence_dir)
    return manifests


def _manifest_content(
    report: VerifyReport, path: str, capture_id: str, data: bytes
) -> dict[str, Any]:
    try:
        content = json.loads(data)
        if not isinstance(content, dict) or not isinstance(content.get("artifacts"), list):
            raise TypeError("no list of artifacts")
    except (ValueError, TypeError) as exc:
        report.add("manifest", False, f"{path} is not a manifest: {exc}")
        return {}
    if content.get("id") != capture_id:
        report.add("manifest", False, f"{path} is the manifest of {content.get('id')!r}")
    try:
        started = parse_rfc3339(str(content.get("started_at")))
        finished = parse_rfc3339(str(content.get("finished_at")))
    except ValueError as exc:
        report.add("manifest", False, f"{path}: its times are not RFC 3339 UTC times: {exc}")
    else:
        if finished < started:
            report.add(
                "manifest",
                False,
                f"{path} claims the capture finished ({content['finished_at']}) before it"
                f" started ({content['started_at']})",
            )
    return content


def _check_signature(
    report: VerifyReport,
    small: SmallReader,
    capture_id: str,
    manifest: bytes,
    sha: str,
    evidence_dir: str,
) -> str | None:
    check = "manifest signature"
    sig_path = f"{evidence_dir}/{capture_id}{SIGNATURE_SUFFIX}"
    record, why = small.json(sig_path)
    if why is not None or not isinstance(record, dict):
        report.add(check, False, why or f"{sig_path} is not a JSON object")
        return None
    try:
        verify_signed(record, manifest)
    except SignatureError as exc:
        report.add(check, False, f"{sig_path} over {capture_id}{MANIFEST_SUFFIX}: {exc}")
        return None
    if record.get("sha256") != sha:
        report.add(
            check,
            False,
            f"{sig_path} says the manifest's SHA-256 is {record.get('sha256')}, it is {sha}",
        )
        return None
    fingerprint = str(record["fingerprint"])
    report.add(check, True, f"{sig_path}: the manifest's signature by {fingerprint} verifies")
    report.signed(fingerprint, sig_path)
    return fingerprint


def _check_artifacts(
    report: VerifyReport,
    members: Mapping[str, Member],
    capture_id: str,
    manifest_path: str,
    content: Mapping[str, Any],
    evidence_dir: str,
    archive_dir: str,
) -> None:
    check = "manifest artifacts"
    artifacts = content.get("artifacts") or []
    bad = 0
    for artifact in artifacts:
        try:
            name, kind = str(artifact["path"]), str(artifact.get("kind"))
            sha, size = artifact["sha256"], artifact["size"]
        except (KeyError, TypeError, AttributeError):
            report.add(check, False, f"{manifest_path}: malformed artifact {artifact!r}")
            bad += 1
            continue
        where = f"{archive_dir}/{name}" if kind == "warc" else f"{evidence_dir}/{capture_id}.{name}"
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
    if not artifacts:
        report.add(check, False, f"{manifest_path} lists no files")
    elif not bad:
        report.add(check, True, f"{manifest_path}: {len(artifacts)} files match")


def _check_trusted_time(
    report: VerifyReport,
    small: SmallReader,
    members: Mapping[str, Member],
    capture_id: str,
    sha: str,
    content: Mapping[str, Any],
    trust: TrustStore,
    evidence_dir: str,
) -> None:
    """Every token over the manifest verifies and agrees with ``finished_at``; one is needed."""
    subject = f"capture {capture_id} ({content.get('url', '?')})"
    tokens = []
    for name in sorted(members):
        match = _TOKEN.fullmatch(name.removeprefix(f"{evidence_dir}/"))
        if name.startswith(f"{evidence_dir}/") and match and match["id"] == capture_id:
            tokens.append((name, f"{name} over {capture_id}{MANIFEST_SUFFIX}"))
    proven = check_tokens(
        report,
        small,
        tokens,
        sha,
        subject,
        content.get("finished_at"),
        trust,
        names=("time-stamp", "trusted time"),
    )
    if not proven:
        report.add(
            "trusted time",
            Outcome.UNPROVEN,
            f"{subject} has no verified time-stamp: its times rest on the capturing machine's"
            " clock alone. If it is pending (no authority answered when it was sealed), run"
            " `osint-capture timestamp --pending` on the capturing machine and export again;"
            " if a token is there but its authority is not trusted, pass its root with"
            " --tsa-trust",
        )


def check_tokens(
    report: VerifyReport,
    small: SmallReader,
    tokens: list[tuple[str, str]],
    sha: str,
    subject: str,
    finished_at: object,
    trust: TrustStore,
    *,
    names: tuple[str, str],
) -> int:
    """Verify each ``(member, description)`` token over ``sha`` and judge its time against
    the ``finished_at`` that ``subject`` claims (a capture's manifest, an addendum); return
    how many verified. ``names`` are the checks' names: the token's, the time's."""
    proven = 0
    for name, where in tokens:
        token = small.get(name)
        if token is None:
            report.add(names[0], False, f"{where}: too large to be a time-stamp token")
            continue
        stamped = verify_stamp(names[0], where, token, bytes.fromhex(sha), trust)
        if isinstance(stamped, Check):
            report.extend([stamped])
            continue
        check, time = judge_time(
            names[1],
            subject,
            ("finished at", finished_at),
            stamped,
            authority_of(stamped, trust),
            window=CAPTURE_WINDOW,
        )
        report.extend([Check(check.name, check.outcome, f"{name}: {check.reason}")])
        report.times.append(time)
        proven += 1
    return proven
