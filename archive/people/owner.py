"""The first person of an installation: made at the first start, so a laptop works as it
always did.

A fresh embedded archive has no accounts. The first start makes one, the *owner*: an
admin named after the computer's login, holding the token in ``DATA/api-token`` (what
``osint-capture token`` prints and the extension is given) as their device
``this-computer``. Captures and cases made before there were accounts are the
owner's: each such case gets the owner as member, each such capture filed under no
case the owner as collector, so nothing that was visible before becomes invisible.
The adoption is returned so the caller records it in the custody log.
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from archive.catalog import Catalog, StateConflict, UserRow
from archive.people.directory import Directory, secret_sha256
from archive.people.roles import Role

#: The owner's device, holding the token of ``DATA/api-token``.
OWNER_DEVICE = "this-computer"
_FALLBACK_NAME = "owner"


@dataclass(frozen=True)
class Adoption:
    """What the first start made: the owner, and the cases that were there before."""

    owner: UserRow
    cases: tuple[str, ...]
    captures: int


def ensure_owner(catalog: Catalog, token_path: Path) -> Adoption | None:
    """Make the owner if there is no account yet; ``None`` when there already was one.

    Two processes starting at once both find no account; the catalog refuses the
    second name (a conflict), and that process finds the first one's owner.
    """
    if catalog.users():
        return None
    token = load_or_create_token(token_path)
    name = owner_name()
    try:
        owner = Directory(catalog).add_user(name, Role.ADMIN, by=None)
    except StateConflict:
        return None  # another process starting at the same moment made it
    catalog.add_token(name, OWNER_DEVICE, secret_sha256(token))
    cases = tuple(case.name for case in catalog.list_cases())
    for case in cases:
        catalog.add_member(case, name, added_by=name)
    captures = catalog.adopt_uncased_captures(name)
    return Adoption(owner, cases, captures)


def owner_name() -> str:
    """The computer's login name as an account name (lower case, safe characters)."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):
        return _FALLBACK_NAME
    name = re.sub(r"[^a-z0-9._-]", "", login.lower()).lstrip("._-")[:64]
    return name or _FALLBACK_NAME


def load_or_create_token(path: Path) -> str:
    """The token kept at ``path`` (``DATA/api-token``), made on first use, readable by its
    owner only.

    The new token is written to a private temporary file and linked into place, so
    a server starting and ``osint-capture token`` running at the same moment agree.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # someone else made it first: theirs is the token
        finally:
            tmp.unlink()
    token = path.read_text().strip()
    if len(token) < 32:
        raise RuntimeError(f"{path} does not hold a valid token; delete it to make a new one")
    return token
