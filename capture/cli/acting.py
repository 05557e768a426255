"""Who a command acts as: the owner of this computer's token, or the account ``--as`` names.

A laptop has one person, the owner, made at the first start (:func:`archive.people.
ensure_owner`: an admin named after the login, holding ``DATA/api-token``), so its
commands need no name. A team server's operators name themselves with the global
``--as USER``. Either way the command acts through the device ``command line``, and what
it may do is that account's role's (docs/access.md): the command line is no way around it.
"""

from __future__ import annotations

from pathlib import Path

from archive.datadir import TOKEN_FILE, Archive
from archive.errors import Unauthenticated
from archive.people import COMMAND_LINE, Directory, Principal, secret_sha256
from archive.people.changes import first_start


def acting(archive: Archive, data_dir: Path, as_user: str | None) -> Principal:
    """The person a command acts as; the owner is made (and recorded in custody) first
    if the archive has no account yet."""
    token_path = data_dir / TOKEN_FILE
    first_start(archive, token_path)
    name = as_user if as_user is not None else owner_of(archive, token_path)
    return Directory(archive.catalog).principal(name, COMMAND_LINE)


def owner_of(archive: Archive, token_path: Path) -> str:
    """Whose live token ``DATA/api-token`` is: the person this computer acts as."""
    try:
        secret = token_path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    row = archive.catalog.token_by_hash(secret_sha256(secret)) if secret else None
    if row is None or row.revoked_at is not None:
        raise Unauthenticated(
            f"this computer's token ({token_path}) is no account's live token, so the"
            " command does not know who you are: name yourself with `osint-capture --as"
            " USER ...`"
        )
    return row.user
