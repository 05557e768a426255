"""Changes to people, their device tokens and who belongs to which case: each checked
against the person asking, and recorded in custody in one step with the catalog's change.

Who may: ``manage-users`` for accounts and for other people's passwords, second factors
and tokens (a person changes their own without it: a lost laptop should not wait for an
admin);
``manage-cases`` for cases and their members. An admin who adds themselves to a case to
see its evidence is recorded like anyone else (docs/access.md).

Where each event goes: accounts and tokens to the installation's chain; a case's creation
and its members to the case's own chain in team mode (:mod:`archive.evidence.chain_names`),
so an auditor of one case reads who was let into it beside what was done to its evidence.
An embedded archive has one log, and every event goes there.

What an event says: the actor (who asked), ``device`` in its details (how: the command
line, the dashboard, a token's name), the person changed, their role, a token's name;
a case only as the SHA-256 of its name, as a legal hold does (an embedded export carries
other cases' events). Never a password, its hash, a token or a second factor's seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from archive.catalog import NotInCatalog, StateConflict, TokenRow, UserRow, validate_case_name
from archive.errors import BadInput, Unauthenticated
from archive.evidence.chain_names import case_chain
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_events import SYSTEM_ACTOR, Event
from archive.hashing import sha256_bytes
from archive.people.directory import Directory, check_name
from archive.people.owner import OWNER_DEVICE, Adoption, ensure_owner
from archive.people.principal import Principal
from archive.people.roles import Permission, Role, parse_role

if TYPE_CHECKING:
    from archive.datadir import Archive

T = TypeVar("T")


@dataclass(frozen=True)
class Recorded(Generic[T]):
    """What a change left (the row as it is after), and the custody event recording it."""

    row: T
    event: Event


# -- accounts -------------------------------------------------------------------------------


def add_user(
    archive: Archive, by: Principal, name: str, role: Role | str, *, password: str | None = None
) -> Recorded[UserRow]:
    """A new account; with no password the person comes in by a token (or OIDC) only."""
    by.require(Permission.MANAGE_USERS)
    name, role = check_name(name), _role(role)
    directory = Directory(archive.catalog)
    made: list[UserRow] = []
    event = _record(
        archive,
        by,
        "user-added",
        lambda: made.append(directory.add_user(name, role, password=password, by=by.user)),
        {"user": name, "role": role.value, "password": password is not None},
    )
    return Recorded(made[0], event)


def _role(role: Role | str) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return parse_role(role)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def disable_user(archive: Archive, by: Principal, name: str) -> Recorded[UserRow]:
    """No more logins or tokens for ``name``; their sessions end now."""
    by.require(Permission.MANAGE_USERS)
    if name == by.user:
        raise StateConflict(f"{name} may not disable their own account: ask another admin")
    return _change_user(archive, by, "user-disabled", name, Directory(archive.catalog).disable)


def enable_user(archive: Archive, by: Principal, name: str) -> Recorded[UserRow]:
    """``name`` may log in again (a lockout is lifted too); their old sessions stay ended."""
    by.require(Permission.MANAGE_USERS)
    return _change_user(archive, by, "user-enabled", name, Directory(archive.catalog).enable)


def reset_password(archive: Archive, by: Principal, name: str, password: str) -> Recorded[UserRow]:
    """A new password for ``name``: every session of theirs ends, a lockout is lifted."""
    _require_self_or_admin(by, name)
    directory = Directory(archive.catalog)
    return _change_user(
        archive, by, "password-reset", name, lambda user: directory.set_password(user, password)
    )


def enrol_second_factor(
    archive: Archive, by: Principal, name: str, secret: str
) -> Recorded[UserRow]:
    """Keep ``secret`` as ``name``'s TOTP seed (checked against a code by the caller)."""
    _require_self_or_admin(by, name)
    catalog = archive.catalog
    return _change_user(
        archive,
        by,
        "second-factor-enrolled",
        name,
        lambda user: catalog.update_user(user, totp_secret=secret),
    )


def _change_user(
    archive: Archive, by: Principal, action: str, name: str, change: Callable[[str], UserRow]
) -> Recorded[UserRow]:
    changed: list[UserRow] = []
    event = _record(archive, by, action, lambda: changed.append(change(name)), {"user": name})
    return Recorded(changed[0], event)


# -- tokens ---------------------------------------------------------------------------------


def create_token(
    archive: Archive, by: Principal, user: str, device: str
) -> tuple[Recorded[TokenRow], str]:
    """A token for ``user``'s ``device`` and its secret, which is shown once and kept
    nowhere (the catalog keeps its SHA-256)."""
    _require_self_or_admin(by, user)
    account = archive.catalog.user(user)
    if account is None:
        raise NotInCatalog(f"no user called {user!r} (see `osint-capture user list`)")
    if account.disabled_at is not None:
        raise StateConflict(
            f"{user}'s account is disabled: a token would be refused; enable it first"
            f" (`osint-capture user enable {user}`)"
        )
    made: list[tuple[TokenRow, str]] = []
    directory = Directory(archive.catalog)
    event = _record(
        archive,
        by,
        "token-created",
        lambda: made.append(directory.create_token(user, device)),
        {"user": user, "token": device},
    )
    row, secret = made[0]
    return Recorded(row, event), secret


def revoke_token(archive: Archive, by: Principal, user: str, device: str) -> Recorded[TokenRow]:
    """Revoke ``user``'s live token called ``device``: refused at its next request."""
    _require_self_or_admin(by, user)
    revoked: list[TokenRow] = []
    event = _record(
        archive,
        by,
        "token-revoked",
        lambda: revoked.append(archive.catalog.revoke_token(user, device)),
        {"user": user, "token": device},
    )
    return Recorded(revoked[0], event)


def _require_self_or_admin(by: Principal, user: str) -> None:
    if user != by.user:
        by.require(Permission.MANAGE_USERS)


# -- cases ----------------------------------------------------------------------------------


def create_case(
    archive: Archive,
    by: Principal,
    name: str,
    *,
    members: Iterable[str] = (),
    sensitive: bool = False,
) -> Recorded[tuple[str, ...]]:
    """A new case whose members are its creator and ``members``; ``sensitive``: its
    evidence opens only in a session that passed a second factor. The members, in order."""
    by.require(Permission.MANAGE_CASES)
    name = validate_case_name(name)
    everyone = tuple(dict.fromkeys([by.user, *(check_name(m) for m in members)]))
    catalog = archive.catalog

    def create() -> None:
        if name in {case.name for case in catalog.list_cases()}:
            raise StateConflict(
                f"there is already a case called {name!r}: add people to it with"
                f" `osint-capture case add-member {name!r} USER`"
            )
        for member in everyone:
            catalog.add_member(name, member, added_by=by.user)
        if sensitive:
            catalog.set_case_second_factor(name, True)

    details = {
        "case_sha256": _case_hash(name),
        "members": list(everyone),
        "second_factor": sensitive,
    }
    event = _record(archive, by, "case-created", create, details, case=name)
    return Recorded(everyone, event)


def add_member(archive: Archive, by: Principal, case: str, user: str) -> Recorded[str]:
    """Let ``user`` into ``case`` (which must exist): they see its evidence from their
    next request on."""
    by.require(Permission.MANAGE_CASES)
    case = validate_case_name(case)
    catalog = archive.catalog

    def add() -> None:
        _require_case(archive, case)
        if not catalog.add_member(case, user, added_by=by.user):
            raise StateConflict(f"{user} is already a member of case {case!r}")

    details = {"case_sha256": _case_hash(case), "user": user}
    return Recorded(user, _record(archive, by, "member-added", add, details, case=case))


def remove_member(archive: Archive, by: Principal, case: str, user: str) -> Recorded[str]:
    """Take ``user`` out of ``case``: its evidence closes to them from their next request."""
    by.require(Permission.MANAGE_CASES)
    case = validate_case_name(case)

    def remove() -> None:
        _require_case(archive, case)
        if not archive.catalog.remove_member(case, user):
            raise NotInCatalog(f"{user} is not a member of case {case!r}")

    details = {"case_sha256": _case_hash(case), "user": user}
    return Recorded(user, _record(archive, by, "member-removed", remove, details, case=case))


def members(archive: Archive, by: Principal, case: str) -> list[UserRow]:
    """Who belongs to ``case``: for those who manage cases, and for its own members."""
    case = validate_case_name(case)
    if case not in by.cases:
        by.require(Permission.MANAGE_CASES)
    _require_case(archive, case)
    names = archive.catalog.members(case)
    return [user for user in archive.catalog.users() if user.name in names]


def _require_case(archive: Archive, case: str) -> None:
    if case not in {row.name for row in archive.catalog.list_cases()}:
        raise NotInCatalog(
            f"no case {case!r} in the catalog: create it with `osint-capture case create`"
        )


def _case_hash(case: str) -> str:
    return sha256_bytes(case.encode())


# -- the first start ------------------------------------------------------------------------


def first_start(archive: Archive, token_path: Path) -> Adoption | None:
    """Make the owner if the archive has no account yet (:func:`archive.people.
    ensure_owner`) and record what that made in custody; ``None`` if there was one. The
    one way in for every caller: the server's start and every command."""
    adoption = ensure_owner(archive.catalog, token_path)
    if adoption is not None:
        record_first_start(archive, adoption)
    return adoption


def record_first_start(archive: Archive, adoption: Adoption) -> Event:
    """The owner :func:`archive.people.ensure_owner` made, as custody events: the account
    (and its token ``this-computer``) in the installation's chain, and each case it
    adopted as a ``member-added`` in that case's chain. The system is the actor: nobody
    asked for it. The installation's event is returned."""
    owner = adoption.owner.name
    details = {"user": owner, "role": adoption.owner.role, "password": False}
    details |= {"first_start": True, "token": OWNER_DEVICE, "captures_adopted": adoption.captures}
    event = archive.custody.append("user-added", actor=SYSTEM_ACTOR, details=details)
    for case in adoption.cases:
        append_event(
            archive,
            "member-added",
            SYSTEM_ACTOR,
            {"case_sha256": _case_hash(case), "user": owner, "first_start": True},
            None,
            case,
        )
    return event


# -- OpenID Connect ---------------------------------------------------------------------

#: The device of the custody events an OpenID Connect login makes.
OIDC_DEVICE = "openid connect"


def oidc_account(archive: Archive, *, subject: str, name: str, role: Role) -> UserRow:
    """The account an OpenID Connect login is (``subject``: ``issuer|sub``).

    Found by its subject. The first login makes it (``user-added``, the system acting:
    the provider vouched for the person and the installation's mapping gave the role),
    unless a local account already has that name: a provider must not take over an
    account it did not make. A later login whose groups map to another role changes it
    (``role-changed``): the provider's groups are the source of truth.
    """
    catalog = archive.catalog
    user = catalog.user_by_subject(subject)
    if user is None:
        if catalog.user(name) is not None:
            raise Unauthenticated(
                f"an account called {name!r} exists here and is not linked to this provider;"
                " an admin renames one of them (nothing was changed)"
            )
        made: list[UserRow] = []

        def add() -> None:
            Directory(catalog).add_user(name, role, by=OIDC_DEVICE)
            made.append(catalog.update_user(name, oidc_subject=subject))

        details = {"user": name, "role": role.value, "password": False, "oidc": True}
        append_event(
            archive, "user-added", SYSTEM_ACTOR, {**details, "device": OIDC_DEVICE}, add, None
        )
        return made[0]
    if user.disabled_at is not None:
        raise Unauthenticated(f"the account {user.name!r} is disabled")
    if user.role == role.value:
        return user
    changed: list[UserRow] = []
    details = {"user": user.name, "from": user.role, "to": role.value, "device": OIDC_DEVICE}
    append_event(
        archive,
        "role-changed",
        SYSTEM_ACTOR,
        details,
        lambda: changed.append(catalog.update_user(user.name, role=role.value)),
        None,
    )
    return changed[0]


# -- writing --------------------------------------------------------------------------------


def _record(
    archive: Archive,
    by: Principal,
    action: str,
    change: Callable[[], object],
    details: dict[str, Any],
    *,
    case: str | None = None,
) -> Event:
    """Run ``change`` (in one catalog transaction) and append its event, as one step:
    a refused change writes no event."""

    def together() -> None:
        with archive.catalog.transaction():
            change()

    return append_event(archive, action, by.actor, {**details, "device": by.device}, together, case)


def append_event(
    archive: Archive,
    action: str,
    actor: str,
    details: dict[str, Any],
    together_with: Callable[[], object] | None,
    case: str | None,
) -> Event:
    """Append to ``case``'s chain in team mode, else to the one log (or the
    installation's chain). Also :func:`archive.people.membership.admit`'s, for a case
    a capture names."""
    custody = archive.custody
    if case is not None and isinstance(custody, DbCustodyLog):
        return custody.append_to(
            case_chain(case), action, actor=actor, details=details, together_with=together_with
        )
    return custody.append(action, actor=actor, details=details, together_with=together_with)
