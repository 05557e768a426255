"""Who a command acts as: the owner of this computer's token, or the account ``--as`` names.

A laptop has one person, the owner, made at the first start (:func:`archive.people.
ensure_owner`: an admin named after the login, holding ``DATA/api-token``), so its
commands need no name; a team server's operators name themselves (``--as USER``, where
the command line has it). Either way the command acts through the device ``command
line``, and what it may do is that account's role's and cases' (docs/access.md).
"""

from __future__ import annotations

from pathlib import Path

from archive.datadir import TOKEN_FILE, Archive
from archive.errors import Unauthenticated
from archive.evidence.custody_events import SYSTEM_ACTOR
from archive.hashing import sha256_bytes
from archive.people import (
    COMMAND_LINE,
    Adoption,
    Directory,
    Principal,
    ensure_owner,
    secret_sha256,
)


def acting(archive: Archive, data_dir: Path, as_user: str | None) -> Principal:
    """The person a command acts as; the owner is made (and the cases it adopted recorded
    in custody) first if the archive has no account yet."""
    token_path = data_dir / TOKEN_FILE
    adoption = ensure_owner(archive.catalog, token_path)
    if adoption is not None:
        _record_first_start(archive, adoption)
    name = as_user if as_user is not None else owner_of(archive, token_path)
    return Directory(archive.catalog).principal(name, COMMAND_LINE)


def owner_of(archive: Archive, token_path: Path) -> str:
    """Whose live token ``DATA/api-token`` is: the person this computer acts as."""
    secret = token_path.read_text().strip() if token_path.is_file() else ""
    row = archive.catalog.token_by_hash(secret_sha256(secret)) if secret else None
    if row is None or row.revoked_at is not None:
        raise Unauthenticated(
            f"this computer's token ({token_path}) is no account's live token, so the"
            " command does not know who acts: name the account with --as USER"
        )
    return row.user


def _record_first_start(archive: Archive, adoption: Adoption) -> None:
    """Each case made before there were accounts, now the owner's: a ``member-added``
    event (the system its actor: nobody asked for it)."""
    for case in adoption.cases:
        archive.custody.append(
            "member-added",
            actor=SYSTEM_ACTOR,
            details={
                "case_sha256": sha256_bytes(case.encode()),
                "user": adoption.owner.name,
                "first_start": True,
            },
        )
