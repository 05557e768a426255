"""``osint-capture verify`` and ``osint-capture key``: checking evidence, and the key it rests on.

``verify`` checks a package offline and exits with its verdict (:mod:`archive.evidence.checks`):
0 verified, 1 failed, 2 unreadable input (the package, a trust file, a keys file: the
path is named), 4 intact but not authenticated. What the verdict rests on is what the
verifier brings: ``--key-fingerprint`` (pinned, from the key's holder through another
channel), ``--trusted-keys FILE``, or ``--data DIR`` for this installation's own key;
and ``--tsa-trust`` for the time-stamp authorities' roots.

``key`` prints the installation's public key and writes its key statement
(:mod:`archive.evidence.keystatement`), time-stamped by the configured authorities.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.datadir import Archive
from archive.evidence.checks import ExitStatus
from capture.cli.exits import complain
from capture.cli.options import data_option, tsa_config, tsa_options

if TYPE_CHECKING:
    from archive.evidence.custody import CustodyLog
    from archive.wacz.verify_report import VerifyReport
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    """``verify`` and ``key``: checking a package, and the key a package's checker pins."""
    _verify_parser(commands)
    _key_parser(commands)


def _verify_parser(commands: Commands) -> None:
    verify = commands.add_parser(
        "verify",
        help="check an exported package offline: hashes, signatures, trusted time, custody",
        description="Exit 0 verified; 1 failed (altered, damaged, contradicting itself);"
        " 2 unreadable input; 4 intact but not authenticated (a signer or trusted time the"
        " verifier has not established: the first line says which, and how). With --data,"
        " the key of the installation there is trusted and the check is logged in its"
        " chain of custody.",
    )
    verify.add_argument("package", type=Path, metavar="FILE.wacz")
    verify.add_argument(
        "--key-fingerprint",
        action="append",
        metavar="SHA256",
        help="pin the signer: the fingerprint `osint-capture key` prints on the sender's"
        " machine, obtained from its holder through another channel, never from the package"
        " (with or without sha256:, any case; repeatable)",
    )
    verify.add_argument(
        "--trusted-keys",
        action="append",
        type=Path,
        metavar="FILE",
        help="a file of trusted keys, one `FINGERPRINT NAME` a line (repeatable)",
    )
    verify.add_argument(
        "--tsa-trust",
        action="append",
        type=Path,
        metavar="FILE",
        help="PEM file of trust roots for the time-stamp authorities (repeatable); obtain it"
        " from the authority, not from the package",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    data_option(verify)


def _key_parser(commands: Commands) -> None:
    key = commands.add_parser(
        "key",
        help="print the installation's public key and fingerprint; write its time-stamped"
        " key statement",
    )
    key.add_argument("--operator", help="who holds the key, for the statement (default: $USER)")
    data_option(key)
    tsa_options(key)


def run_verify(args: argparse.Namespace, data_dir: Path) -> int:
    """Check a package; exit with its verdict. ``--data`` given: trust its key, log the check."""
    from archive.evidence.trust import TrustedKeys
    from archive.evidence.tsa_roots import TrustStore
    from archive.wacz.verify import verify_package

    # What cannot be read at all (the package, a trust or keys file) raises bad input,
    # exit 2: ExitStatus.UNREADABLE, said by main() like any other error.
    trust = TrustStore.load(args.tsa_trust or ())
    keys = TrustedKeys.from_options(
        pins=args.key_fingerprint or (),
        files=args.trusted_keys or (),
        data_dir=args.data,
    )
    try:
        report = verify_package(args.package, trust=trust, keys=keys)
    except OSError as exc:
        return complain(f"cannot read {args.package}: {exc}", ExitStatus.UNREADABLE)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    _log_verification(args.package, data_dir, report)
    return report.exit_status


def _log_verification(package: Path, data_dir: Path, report: VerifyReport) -> None:
    """Verifying evidence is an action on it: logged when this machine holds the archive."""
    from archive.evidence.custody import CustodyError

    if not Archive.exists(data_dir):
        return
    with Archive.open(data_dir) as archive:
        known = [cid for cid in report.captures if archive.catalog.get_capture(cid) is not None]
        try:
            _append_verified(archive.custody, known, package, report)
        except CustodyError as exc:
            # The verdict above stands (it is about the package); the exit code keeps it.
            print(
                f"osint-capture: this check is NOT recorded in the chain of custody of"
                f" {data_dir}: {exc}",
                file=sys.stderr,
            )


def _append_verified(
    log: CustodyLog, captures: list[str], package: Path, report: VerifyReport
) -> None:
    from archive.hashing import sha256_file

    log.append(
        "verified",
        actor=os.environ.get("USER") or "operator",
        captures=captures,
        details={
            "package_sha256": sha256_file(package)[0],
            "verdict": report.outcome.value,
            "ok": report.ok,
            "checks": len(report.checks),
            "failed": len(report.failures),
            "unproven": len(report.unproven),
        },
    )


def run_key(args: argparse.Namespace, data_dir: Path) -> int:
    """The public key that signs this installation's captures, and its key statement."""
    from archive.evidence.keystatement import stamp_statement, statement_for

    config = tsa_config(args)
    operator = args.operator or os.environ.get("USER") or "operator"
    with Archive.open(data_dir) as archive:
        key = archive.signing_key()
        created = _key_created(archive, key.fingerprint)
    statement = statement_for(key, data_dir, created=created, operator=operator)
    print(key.public_key_pem.strip())
    print(f"fingerprint: {key.fingerprint}")
    print(f"statement: {statement.path} (signed by the key: {statement.signature.name})")
    problems: list[str] = []
    if config.tsas and not statement.tokens:
        stamps, problems = stamp_statement(statement, config.tsas, trust=config.trust())
        statement = statement_for(key, data_dir, created=created, operator=operator)
        for stamp in stamps:
            print(f"  time-stamped by {stamp.tsa_url} at {stamp.gen_time.isoformat()}")
    for token in statement.tokens:
        print(f"  token: {token}")
    for problem in problems:
        print(f"  no token from {problem}", file=sys.stderr)
    if not statement.tokens:
        print(
            "  not time-stamped yet: run `osint-capture key --tsa URL` to prove when this key"
            " existed",
            file=sys.stderr,
        )
    return ExitStatus.VERIFIED


def _key_created(archive: Archive, fingerprint: str) -> tuple[str, str]:
    """When the key was made, and where that time comes from: its ``key-created``
    custody event, else (a key older than the log) its file's modification time."""
    from archive.evidence.signing import KEYS_DIR, PRIVATE_KEY_NAME
    from archive.timeutil import rfc3339

    for event in archive.custody.events():
        if event.action == "key-created" and event.details.get("fingerprint") == fingerprint:
            return event.time, f"custody event seq {event.seq} (key-created)"
    mtime = (archive.root / KEYS_DIR / PRIVATE_KEY_NAME).stat().st_mtime
    return rfc3339(datetime.fromtimestamp(mtime, UTC)), "the key file's modification time"
