"""The directory of people: making accounts and tokens, and knowing who presents one.

One object over the catalog (:class:`archive.catalog.Catalog`'s people tables), used
by the CLI's ``user``/``token``/``case`` commands and by the server's authentication.
Secrets are made here and shown once: the catalog keeps a token's and a session's
SHA-256 and a password's Argon2id hash, so nothing in it (or in a backup of it) lets
anyone in.

Logging in with a password counts failures per account: after
:data:`LOCKOUT_AFTER` in a row the account is locked for :data:`LOCKOUT_SECONDS`,
whatever password comes next, and every refusal reads the same whether the name
exists or not.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import timedelta

from archive.catalog import Catalog, TokenRow, UserRow
from archive.errors import BadInput, Denied, Unauthenticated
from archive.people import passwords, totp
from archive.people.principal import DASHBOARD, Principal
from archive.people.roles import Role, parse_role
from archive.timeutil import parse_rfc3339, rfc3339, utc_now

#: Failed logins in a row that lock an account, and for how long.
LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 15 * 60
#: A session ends after this long without a request.
SESSION_IDLE_SECONDS = 12 * 3600
#: A token's or a session's use is written down at most this often (seconds): every
#: request the server answers looks one up, and a write each time would be a write per
#: request; "last used" and the idle limit need no finer grain.
NOTE_USE_EVERY = 60
#: What a token starts with, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "ocp_"

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_WRONG_LOGIN = (
    "wrong user name or password, or a wrong or missing code (or the account is disabled or locked)"
)


class BadUserName(BadInput):
    """A user or device name the directory refuses (exit 2, 400)."""


class TokenOfAnotherExtension(Denied):
    """A good token presented by an extension other than the one it is bound to (exit 1,
    403): a copied token is no use in another browser."""


def check_name(name: str, what: str = "user name") -> str:
    if not _NAME.fullmatch(name):
        raise BadUserName(
            f"a {what} is 1-64 characters of lower-case letters, digits, '.', '_' or '-',"
            f" starting with a letter or digit; got {name!r}"
        )
    return name


def secret_sha256(secret: str) -> str:
    """How a token or session id is kept: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Directory:
    """People, tokens and sessions over ``catalog``."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- accounts -------------------------------------------------------------------------

    def add_user(
        self, name: str, role: Role | str, *, password: str | None = None, by: str | None = None
    ) -> UserRow:
        role = role if isinstance(role, Role) else _role(role)
        password_hash = passwords.hash_password(password) if password is not None else None
        return self.catalog.add_user(
            check_name(name), role.value, password_hash=password_hash, created_by=by
        )

    def set_password(self, name: str, password: str) -> UserRow:
        """A new password; every session of the person ends and the lockout is lifted."""
        user = self.catalog.update_user(
            name,
            password_hash=passwords.hash_password(password),
            failed_logins=0,
            locked_until=None,
        )
        self.catalog.close_sessions(user=name)
        return user

    def disable(self, name: str) -> UserRow:
        """The person can no longer log in or use any token; their sessions end now."""
        user = self.catalog.update_user(name, disabled_at=rfc3339(utc_now()))
        self.catalog.close_sessions(user=name)
        return user

    def enable(self, name: str) -> UserRow:
        return self.catalog.update_user(name, disabled_at=None, failed_logins=0, locked_until=None)

    # -- tokens ---------------------------------------------------------------------------

    def create_token(self, user: str, device: str) -> tuple[TokenRow, str]:
        """A new token for ``user``'s ``device``, and its secret (shown once, kept nowhere)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = self.catalog.add_token(user, check_name(device, "device name"), secret_sha256(secret))
        return row, secret

    def token_principal(self, secret: str, *, origin: str | None = None) -> Principal:
        """Who presents this token. Refused (:class:`Unauthenticated`) when it is unknown,
        revoked or its person disabled; an extension ``origin`` binds a token on first use,
        and a token bound to another extension is refused to this one
        (:class:`TokenOfAnotherExtension`: the token is good, this extension may not use
        it)."""
        row = self.catalog.token_by_hash(secret_sha256(secret.strip()))
        if row is None:
            raise Unauthenticated(
                "unknown token: ask for a new one (`osint-capture token create --user NAME"
                " --name DEVICE`)"
            )
        if row.revoked_at is not None:
            raise Unauthenticated(
                f"this token ({row.user}'s {row.name!r}) was revoked at {row.revoked_at}"
            )
        user = self._active_user(row.user)
        if origin is not None and row.origin is not None and origin != row.origin:
            raise TokenOfAnotherExtension(
                f"this token ({row.user}'s {row.name!r}) belongs to another extension"
                f" ({row.origin}); make a token for this one (`osint-capture token create"
                f" --user {row.user} --name DEVICE`)"
            )
        binds = origin is not None and row.origin is None
        if binds or _due(row.last_used_at):
            self.catalog.use_token(row.id, origin=origin)
        return self._principal(user, row.name, second_factor=False)

    # -- passwords and sessions -----------------------------------------------------------

    def password_principal(self, name: str, password: str, code: str | None = None) -> Principal:
        """Who logs in with ``name``, ``password`` and, when they enrolled a second
        factor (:mod:`archive.people.totp`), the ``code`` their app shows now; the
        principal then counts as having passed it.

        Every refusal says the same (:data:`_WRONG_LOGIN`), so a guesser cannot tell
        a wrong name from a wrong password, a wrong code or a locked account. A wrong
        code counts towards the lockout as a wrong password does, and the count starts
        again only when both are right, so knowing the password does not buy guesses.
        """
        user = self.catalog.user(name)
        if user is None or user.password_hash is None or user.disabled_at is not None:
            passwords.password_matches(_decoy(), password)  # as long as a real check
            raise Unauthenticated(_WRONG_LOGIN)
        now = utc_now()
        if user.locked_until is not None and parse_rfc3339(user.locked_until) > now:
            raise Unauthenticated(_WRONG_LOGIN)
        if not passwords.password_matches(user.password_hash, password):
            self._note_failure(user)
            raise Unauthenticated(_WRONG_LOGIN)
        secret = user.totp_secret
        if secret is not None and not totp.take_code(self, name, secret, code or ""):
            self._note_failure(user)
            raise Unauthenticated(_WRONG_LOGIN)
        changes: dict[str, str | int | None] = {"failed_logins": 0, "locked_until": None}
        if passwords.needs_rehash(user.password_hash):
            changes["password_hash"] = passwords.hash_password(password)
        user = self.catalog.update_user(name, **changes)
        return self._principal(user, DASHBOARD, second_factor=secret is not None)

    def open_session(self, principal: Principal) -> str:
        """A new session for ``principal``; the id to put in its cookie (kept hashed)."""
        session_id = secrets.token_urlsafe(32)
        self.catalog.open_session(
            secret_sha256(session_id), principal.user, second_factor=principal.second_factor
        )
        return session_id

    def session_principal(self, session_id: str) -> Principal | None:
        """Who holds this session, or ``None`` (unknown, idle too long, person disabled)."""
        key = secret_sha256(session_id)
        row = self.catalog.session(key)
        if row is None:
            return None
        now = utc_now()
        if now - parse_rfc3339(row.last_used_at) > timedelta(seconds=SESSION_IDLE_SECONDS):
            self.catalog.close_sessions(id_sha256=key)
            return None
        user = self.catalog.user(row.user)
        if user is None or user.disabled_at is not None:
            return None
        if _due(row.last_used_at):
            self.catalog.touch_session(key, rfc3339(now))
        return self._principal(user, DASHBOARD, second_factor=row.second_factor)

    def close_session(self, session_id: str) -> None:
        self.catalog.close_sessions(id_sha256=secret_sha256(session_id))

    # -- helpers --------------------------------------------------------------------------

    def principal(self, name: str, device: str) -> Principal:
        """An active person acting through ``device`` (the command line, a job)."""
        return self._principal(self._active_user(name), device, second_factor=False)

    def _active_user(self, name: str) -> UserRow:
        user = self.catalog.user(name)
        if user is None or user.disabled_at is not None:
            raise Unauthenticated(f"the account {name!r} is disabled or gone")
        return user

    def _principal(self, user: UserRow, device: str, *, second_factor: bool) -> Principal:
        cases = frozenset(self.catalog.cases_of(user.name))
        return Principal(
            user=user.name,
            role=Role(user.role),
            device=device,
            cases=cases,
            second_factor=second_factor,
            sensitive=cases & frozenset(self.catalog.sensitive_cases()),
        )

    def _note_failure(self, user: UserRow) -> None:
        failures = user.failed_logins + 1
        locked_until = None
        if failures >= LOCKOUT_AFTER:
            locked_until = rfc3339(utc_now() + timedelta(seconds=LOCKOUT_SECONDS))
            failures = 0
        self.catalog.update_user(user.name, failed_logins=failures, locked_until=locked_until)


def _role(text: str) -> Role:
    try:
        return parse_role(text)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _due(last_used_at: str | None) -> bool:
    """Is it time to write down another use (:data:`NOTE_USE_EVERY`)?"""
    if last_used_at is None:
        return True
    return utc_now() - parse_rfc3339(last_used_at) >= timedelta(seconds=NOTE_USE_EVERY)


@functools.cache
def _decoy() -> str:
    """A hash checked when the name is unknown, so refusals take as long either way."""
    return passwords.hash_password(secrets.token_urlsafe(16))
