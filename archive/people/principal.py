"""Who is acting: a person, how they came in, and the one check of what they may do.

Every request the server answers, and every custody or access event it writes, has a
:class:`Principal`. The check is :meth:`Principal.require`: the role must carry the
permission (:mod:`archive.people.roles`) and, for evidence, the person must belong to
its case. Admins are no exception to the second rule: they see a case's evidence only
after adding themselves to it, which the custody log records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.catalog.visibility import Visibility
from archive.errors import Denied
from archive.people.roles import Permission, Role, allows

#: The device of a dashboard session and of the command line, in custody events.
DASHBOARD = "dashboard"
COMMAND_LINE = "command line"
#: What a 403 names when only a second factor was missing (a sensitive case).
SECOND_FACTOR = "second-factor"


@dataclass(frozen=True)
class Principal:
    """A person acting now.

    ``device`` names how: a token's name (an extension, a script), :data:`DASHBOARD`
    or :data:`COMMAND_LINE`. ``cases`` are the cases they belong to, read when they
    came in (a request is short; a change of membership counts from the next one).
    ``sensitive``: those of them whose evidence opens only after a second factor;
    ``second_factor``: this session passed one (a TOTP code, or the provider's), so they
    open. The command line passes by definition: who runs it holds the data directory.
    """

    user: str
    role: Role
    device: str
    cases: frozenset[str] = field(default_factory=frozenset)
    second_factor: bool = False
    sensitive: frozenset[str] = field(default_factory=frozenset)

    @property
    def open_cases(self) -> frozenset[str]:
        """The cases whose evidence this person may open now."""
        if self.second_factor or self.device == COMMAND_LINE:
            return self.cases
        return self.cases - self.sensitive

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        """Raise :class:`Denied` naming ``permission`` unless the role carries it."""
        if not self.can(permission):
            raise Denied(
                f"{self.user} ({self.role}) may not {_DOING[permission]}: that needs the"
                f" '{permission}' permission, which the {self.role} role does not have",
                permission=permission,
            )

    def require_case(
        self, permission: Permission, case: str | None, *, collector: str | None = None
    ) -> None:
        """Raise :class:`Denied` unless the role carries ``permission`` and the person
        belongs to ``case``; evidence filed under no case is its collector's alone."""
        self.require(permission)
        if case is None:
            if collector is not None and collector == self.user:
                return
            raise Denied(
                f"{self.user} may not {_DOING[permission]}: it is filed under no case, and"
                f" only {collector or 'the person who collected it'} has the"
                f" '{permission}' permission on it",
                permission=permission,
            )
        if case not in self.cases:
            raise Denied(
                f"{self.user} may not {_DOING[permission]} in case {case!r}: the"
                f" '{permission}' permission holds only in one's own cases, and they are"
                " not a member of it (an admin adds members with"
                f" `osint-capture case add-member {case!r} {self.user}`)",
                permission=permission,
            )
        if case not in self.open_cases:
            raise Denied(
                f"case {case!r} is sensitive: its evidence opens only in a session that"
                " passed a second factor; log in to the dashboard with your authenticator"
                " app's code (or your organisation's login with its second factor)",
                permission=SECOND_FACTOR,
            )

    def sees(self, case: str | None, collector: str | None) -> bool:
        """May this person see evidence of ``case`` (collected by ``collector``) at all."""
        if not self.can(Permission.READ_EVIDENCE):
            return False
        if case is None:
            return collector is not None and collector == self.user
        return case in self.open_cases

    def visibility(self) -> Visibility:
        """What the catalog's listings, searches and alerts show this person (filtered in
        the query; :mod:`archive.catalog.visibility`), for one who may read evidence."""
        return Visibility(self.user, self.open_cases)

    @property
    def actor(self) -> str:
        """The custody log's ``actor``: the person's account name."""
        return self.user


_DOING: dict[Permission, str] = {
    Permission.READ_EVIDENCE: "open this evidence",
    Permission.CAPTURE: "capture",
    Permission.WATCH: "watch pages",
    Permission.EXPORT: "export",
    Permission.READ_CUSTODY: "read the custody log",
    Permission.READ_ACCESS_LOG: "read the access log",
    Permission.LIST_CASES: "list cases",
    Permission.MANAGE_CASES: "manage cases",
    Permission.MANAGE_USERS: "manage people",
    Permission.HOLD: "put cases on hold",
    Permission.DELETE: "delete evidence",
}
