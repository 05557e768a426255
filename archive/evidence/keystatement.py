"""A key statement: the installation's public key, who holds it, and proof of when it existed.

A signature says nothing about when the key that made it came to be. An
organisation that publishes its keys needs to show, years later, that a key existed
*before* the captures it signed, and was not made afterwards to sign a forgery. The
statement (``DATA/keys/key-statement.json``) says whose key it is: public key,
fingerprint, when it was created, by which operator, on which host, with which
software. It is signed by the key itself (``key-statement.sig.json``: the holder has
the private half), and each time-stamp authority stamps its SHA-256
(``key-statement-N.tsr`` with the chain its verification used,
``key-statement-N.chain.pem``): the key existed no later than the token's time.

The statement is written once per key and never rewritten; a statement not yet
stamped (no authority answered) gets its tokens the next time ``osint-capture key``
runs with an authority. By hand::

    openssl ts -verify -in key-statement-1.tsr -data key-statement.json -CAfile ROOT.pem
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archive import __version__
from archive.evidence.signing import (
    ALGORITHM,
    KEYS_DIR,
    SigningError,
    SigningKey,
    sign_file_bytes,
    write_key_file,
)
from archive.evidence.timestamps import Timestamp, TimestampError
from archive.evidence.tsa_client import request_token
from archive.evidence.tsa_roots import TrustStore
from archive.hashing import sha256_file
from archive.store import fsync_dir
from archive.timeutil import CLOCK_SOURCE, now_rfc3339

STATEMENT_NAME = "key-statement.json"
SIGNATURE_NAME = "key-statement.sig.json"
#: Sealed files are read-only for everyone.
_SEALED_MODE = 0o444


@dataclass(frozen=True)
class KeyStatement:
    path: Path
    signature: Path
    #: The tokens kept beside it, as files, oldest first.
    tokens: tuple[Path, ...]


def statement_for(
    key: SigningKey, data_dir: Path, *, created: tuple[str, str], operator: str
) -> KeyStatement:
    """The key's statement, written now if there is none; refuses one for another key.

    ``created`` is when the key was made (RFC 3339) and where that time comes from.
    """
    keys_dir = Path(data_dir) / KEYS_DIR
    path = keys_dir / STATEMENT_NAME
    if path.exists():
        _check_belongs(path, key)
    else:
        document = {
            "statement": "osint-capture signing key",
            "algorithm": ALGORITHM,
            "fingerprint": key.fingerprint,
            "publicKey": key.public_key_b64,
            "public_key_pem": key.public_key_pem,
            "key_created": created[0],
            "key_created_from": created[1],
            "operator": operator,
            "host": socket.gethostname(),
            "software": f"osint-capture {__version__}",
            "stated_at": now_rfc3339(),
            "clock": CLOCK_SOURCE,
        }
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        write_key_file(path, data, _SEALED_MODE)
        signature = sign_file_bytes(key, data)
        write_key_file(
            keys_dir / SIGNATURE_NAME,
            (json.dumps({**signature, "signs": STATEMENT_NAME}, indent=2) + "\n").encode(),
            _SEALED_MODE,
        )
        fsync_dir(keys_dir)
    return KeyStatement(path, keys_dir / SIGNATURE_NAME, _tokens(keys_dir))


def stamp_statement(
    statement: KeyStatement, tsas: Sequence[str], *, trust: TrustStore
) -> tuple[list[Timestamp], list[str]]:
    """Ask each authority for a token over the statement; keep each verified one.

    Returns the tokens obtained and, for each authority that gave none, why.
    """
    digest = bytes.fromhex(sha256_file(statement.path)[0])
    stamps, problems = [], []
    number = len(statement.tokens)
    for tsa in tsas:
        try:
            stamp = request_token(digest, tsa, trust=trust)
        except TimestampError as exc:
            problems.append(f"{tsa}: {exc}")
            continue
        number += 1
        stem = f"key-statement-{number}"
        write_key_file(statement.path.with_name(f"{stem}.tsr"), stamp.token_der, _SEALED_MODE)
        chain = stamp.tsa_chain_pem.encode("ascii")
        write_key_file(statement.path.with_name(f"{stem}.chain.pem"), chain, _SEALED_MODE)
        stamps.append(stamp)
    fsync_dir(statement.path.parent)
    return stamps, problems


def _tokens(keys_dir: Path) -> tuple[Path, ...]:
    found = keys_dir.glob("key-statement-*.tsr")
    return tuple(sorted(found, key=lambda p: int(p.stem.rsplit("-", 1)[1])))


def _check_belongs(path: Path, key: SigningKey) -> None:
    try:
        fingerprint = json.loads(path.read_bytes()).get("fingerprint")
    except (OSError, ValueError, AttributeError) as exc:
        raise SigningError(f"key statement {path} cannot be read: {exc}") from exc
    if fingerprint != key.fingerprint:
        raise SigningError(
            f"key statement {path} is for key {fingerprint}, not for this installation's key"
            f" {key.fingerprint}: the key was replaced. Keep the old statement elsewhere (it"
            " still proves when the old key existed) and run `osint-capture key` again"
        )
