"""Joining cases: the one way a person becomes a member, and its custody event.

Membership decides who sees a case's evidence, so a change of it is recorded like an
action on evidence: a ``member-added`` custody event, written in one step with the
catalog's change (``together_with``). Its ``actor`` is who made the change and its
details say who joined, through what device, and the SHA-256 of the case's name (an
export carries other cases' events, which name no case; docs/evidence.md).

A case comes to be in two ways: named by a capture or a watch (:func:`admit`), or made
by an admin (:func:`add_member`). Either way whoever makes it is its first member, so
an investigator who files evidence under a new name can see it, and nobody joins a case
of others by naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archive.catalog import StateConflict, validate_case_name
from archive.evidence.custody_events import Event, device_details
from archive.hashing import sha256_bytes
from archive.people.owner import Adoption
from archive.people.principal import Principal
from archive.people.roles import Permission

if TYPE_CHECKING:
    from archive.datadir import Archive


def admit(archive: Archive, who: Principal, permission: Permission, case: str) -> bool:
    """May ``who`` do ``permission`` (``capture``, ``watch``) in ``case``: as a member, yes;
    a case that does not exist yet is made now with them as its first member (and the
    custody log says so); a case of others is :class:`archive.errors.Denied`, naming the
    permission.
    Returns whether the case was made now.
    """
    who.require(permission)
    name = validate_case_name(case)
    if name in who.cases:
        return False
    if any(row.name == name for row in archive.catalog.list_cases()):
        who.require_case(permission, name)  # raises: a case of others
    try:
        _record(
            archive,
            who,
            name,
            who.user,
            lambda: archive.catalog.create_case(name, member=who.user, added_by=who.user),
            created=True,
        )
    except StateConflict:
        # Made by someone else since we looked: theirs, unless we were added meanwhile.
        if name not in archive.catalog.cases_of(who.user):
            who.require_case(permission, name)
        return False
    return True


def add_member(archive: Archive, by: Principal, case: str, user: str) -> Event:
    """Make ``user`` a member of ``case`` (made if new), as ``by``, who must be allowed to
    manage cases. An admin opening a case's evidence adds themselves this way, and the
    event records it. :class:`StateConflict` when ``user`` is a member already."""
    by.require(Permission.MANAGE_CASES)
    name = validate_case_name(case)

    def change() -> None:
        if not archive.catalog.add_member(name, user, added_by=by.user):
            raise StateConflict(f"{user} is already a member of case {name!r}")

    return _record(archive, by, name, user, change, created=False)


def _record(
    archive: Archive,
    by: Principal,
    case: str,
    member: str,
    change: Callable[[], object],
    *,
    created: bool,
) -> Event:
    """The ``member-added`` event, with the catalog's ``change`` in the same step."""
    details: dict[str, object] = {
        "case_sha256": sha256_bytes(case.encode()),
        "member": member,
        **device_details(by.device),
    }
    if created:
        details["case_created"] = True
    return archive.custody.append(
        "member-added",
        actor=by.actor,
        details=details,
        together_with=change,
    )


def record_adoption(archive: Archive, adoption: Adoption) -> list[Event]:
    """The custody log's account of the first start (:func:`archive.people.ensure_owner`):
    one ``member-added`` event per case made before there were accounts, now the owner's
    (``adopted``). The owner's captures of no case need none: their events already
    name the operator who made them, and their rows now name the owner as collector."""
    name = adoption.owner.name
    return [
        archive.custody.append(
            "member-added",
            actor=name,
            details={
                "case_sha256": sha256_bytes(case.encode()),
                "member": name,
                "adopted": True,
            },
        )
        for case in adoption.cases
    ]
