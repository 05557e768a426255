"""A case named by a capture or a watch: its namer becomes its first member, and nobody
joins a case of others by naming it.

An investigator files evidence under a case name as they capture (the extension's case
field, ``--case``): a name that is new makes the case, with them as its member, so they
see what they filed; a name that is someone else's case is refused (403, naming the
permission), since naming a case must never be a way into its evidence. The case's
making is a ``case-created`` custody event, written in one step with the catalog's
change: its ``actor`` is who named it, its details the members, the device they acted
through and the SHA-256 of the case's name (an export carries other cases' events,
which name no case; docs/evidence.md).

Cases made by an admin, and members added or removed, are :mod:`archive.people.changes`',
recorded with the same event names and, in team mode, in the case's own chain as these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.catalog import StateConflict, validate_case_name
from archive.evidence.custody_events import device_details
from archive.hashing import sha256_bytes
from archive.people.changes import append_event
from archive.people.principal import Principal
from archive.people.roles import Permission

if TYPE_CHECKING:
    from archive.datadir import Archive


def admit(archive: Archive, who: Principal, permission: Permission, case: str) -> bool:
    """May ``who`` do ``permission`` (``capture``, ``watch``) in ``case``: as a member, yes;
    a case that does not exist yet is made now with them as its first member (and the
    custody log says so); a case of others is :class:`archive.errors.Denied`, naming the
    permission. Returns whether the case was made now.
    """
    who.require(permission)
    name = validate_case_name(case)
    if name in who.cases or name in archive.catalog.cases_of(who.user):
        return False  # a member (since the request began, too: their own capture made it)
    if any(row.name == name for row in archive.catalog.list_cases()):
        # Made between the two looks, perhaps by another request of theirs (twenty
        # captures named into a new case at once): the case and its first member are
        # written in one transaction, so a case seen now shows its members too.
        if name in archive.catalog.cases_of(who.user):
            return False
        who.require_case(permission, name)  # raises: a case of others
    details = {
        "case_sha256": sha256_bytes(name.encode()),
        "members": [who.user],
        "second_factor": False,
        "named_by": str(permission),
        **device_details(who.device),
    }
    try:
        append_event(  # in the case's own chain in team mode, as every case's making
            archive,
            "case-created",
            who.actor,
            details,
            lambda: archive.catalog.create_case(name, member=who.user, added_by=who.user),
            name,
        )
    except StateConflict:
        # Made by someone else since we looked: theirs, unless we were added meanwhile.
        if name not in archive.catalog.cases_of(who.user):
            who.require_case(permission, name)
        return False
    return True
