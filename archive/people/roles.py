"""Roles and what each may do: the one table every route, page and command checks.

A role says what kind of work a person does; a case's membership says on which
evidence (:mod:`archive.people.principal`). Both must allow an action. The table is
written out role by role, not derived, so that a reader (and docs/access.md, whose
table a test compares with this one) sees exactly what each role may do.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    """The kinds of work; a person has exactly one."""

    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    ARCHIVIST = "archivist"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """One thing a person may be allowed to do. A 403 names the one that was missing."""

    #: Open captures, their files, replays and search hits of one's cases.
    READ_EVIDENCE = "read-evidence"
    #: Request a capture (or an analysis run) into one of one's cases.
    CAPTURE = "capture"
    #: Add, pause, resume and remove watched targets of one's cases.
    WATCH = "watch"
    #: Export signed packages of one's cases' captures.
    EXPORT = "export"
    #: Read the custody log and verify chains (names and hashes, no evidence content).
    READ_CUSTODY = "read-custody"
    #: Read the access log: who opened, downloaded, replayed or exported what.
    READ_ACCESS_LOG = "read-access-log"
    #: See the list of cases (names only) and one's memberships.
    LIST_CASES = "list-cases"
    #: Create cases and change who belongs to them.
    MANAGE_CASES = "manage-cases"
    #: Add, disable and reset people, and revoke anyone's tokens.
    MANAGE_USERS = "manage-users"
    #: Put a case on legal hold or release it.
    HOLD = "hold"
    #: Delete a capture's files (leaving a tombstone and a custody event).
    DELETE = "delete"


P = Permission

#: What each role may do. Evidence permissions apply only within the person's cases.
GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {P.READ_EVIDENCE, P.CAPTURE, P.WATCH, P.EXPORT, P.READ_CUSTODY, P.READ_ACCESS_LOG}
        | {P.LIST_CASES, P.MANAGE_CASES, P.MANAGE_USERS, P.HOLD, P.DELETE}
    ),
    Role.INVESTIGATOR: frozenset(
        {P.READ_EVIDENCE, P.CAPTURE, P.WATCH, P.EXPORT, P.READ_CUSTODY, P.LIST_CASES}
    ),
    Role.ARCHIVIST: frozenset(
        {P.READ_EVIDENCE, P.CAPTURE, P.WATCH, P.EXPORT, P.READ_CUSTODY, P.LIST_CASES}
    ),
    Role.REVIEWER: frozenset({P.READ_EVIDENCE, P.EXPORT, P.READ_CUSTODY, P.LIST_CASES}),
    Role.AUDITOR: frozenset({P.READ_CUSTODY, P.READ_ACCESS_LOG, P.LIST_CASES}),
}

#: Why each role exists, as docs/access.md says it.
PURPOSE: Mapping[Role, str] = {
    Role.ADMIN: "people, cases, holds and deletion; evidence only of cases they join",
    Role.INVESTIGATOR: "captures and watches in the cases they belong to",
    Role.ARCHIVIST: "watched targets and schedules across their cases",
    Role.REVIEWER: "reads and exports the evidence of their cases; captures nothing",
    Role.AUDITOR: "reads the custody and access logs; never the evidence itself",
}


def parse_role(text: str) -> Role:
    """The role called ``text``; a :class:`ValueError` lists the roles there are."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"no role {text!r}: choose one of {', '.join(role.value for role in Role)}"
        ) from None


def allows(role: Role, permission: Permission) -> bool:
    """Does ``role`` carry ``permission`` (before any case membership is considered)."""
    return permission in GRANTS[role]
