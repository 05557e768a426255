"""Passwords, kept only as Argon2id hashes.

Argon2id with argon2-cffi's defaults (RFC 9106's second recommended set: 64 MiB, 3
passes): slow on purpose, so a stolen catalog does not give up its passwords. A hash
made with older parameters is re-made at the next successful login
(:func:`needs_rehash`).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archive.errors import BadInput

#: Shortest password accepted: a passphrase of a few words, not a PIN.
MIN_LENGTH = 12
_HASHER = PasswordHasher()


class WeakPassword(BadInput):
    """A password too short to be kept (exit 2, 400)."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"a password must be at least {MIN_LENGTH} characters (got {len(password)});"
            " a few unrelated words make a good one"
        )
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Does ``password`` hash to ``password_hash``? ``False`` for a malformed hash too."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
