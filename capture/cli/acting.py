"""Who a command acts as: the owner of the installation, unless ``--as USER`` names another.

On a laptop the one person at the keyboard is the owner (the admin the first start
made, named after the login: :func:`archive.people.ensure_owner`), so a command needs
no login and its custody events name them. On a team server an admin runs commands
for others with ``--as``: the account must exist and be enabled, and what it may do is
its own role's and cases', exactly as through the API. Either way the device is
:data:`archive.people.COMMAND_LINE`.
"""

from __future__ import annotations

from archive.catalog import Catalog, UserRow
from archive.datadir import TOKEN_FILE, Archive
from archive.errors import Unauthenticated
from archive.people import COMMAND_LINE, Directory, Principal, Role, ensure_owner
from archive.people.membership import record_adoption


def command_line_principal(archive: Archive, name: str | None) -> Principal:
    """The person a command acts as: ``name`` (``--as``), else the owner, made now if
    this archive has no account yet (the first start), its adoption in custody."""
    directory = Directory(archive.catalog)
    if name is not None:
        return directory.principal(name, COMMAND_LINE)
    adoption = ensure_owner(archive.catalog, archive.root / TOKEN_FILE)
    if adoption is not None:
        record_adoption(archive, adoption)
    return directory.principal(owner(archive.catalog).name, COMMAND_LINE)


def owner(catalog: Catalog) -> UserRow:
    """The installation's owner: its first admin still enabled."""
    admins = [
        user
        for user in catalog.users()
        if user.role == Role.ADMIN.value and user.disabled_at is None
    ]
    if not admins:
        raise Unauthenticated(
            "this archive has no enabled admin to act as: name an account with --as USER"
        )
    return min(admins, key=lambda user: (user.created_at, user.name))
