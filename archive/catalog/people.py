"""People in the catalog: accounts, their device tokens, case membership and dashboard
sessions. Only rows here: hashing passwords, making tokens and deciding who may do
what is :mod:`archive.people`'s.

Membership names cases by name and people by name, as the CLI and the API do; a case
is created when it is first given a member, as it is when a capture first names it.
"""

from __future__ import annotations

from archive.catalog.cases import validate_case_name
from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import CaseRow, SessionRow, TokenRow, UserRow
from archive.catalog.session import Row, Session
from archive.catalog.shared import NotInCatalog, StateConflict, ensure_case_row
from archive.timeutil import now_rfc3339

_USER_COLUMNS = (
    "name, role, password_hash, totp_secret, oidc_subject, disabled_at, failed_logins,"
    " locked_until, created_at, created_by"
)
_TOKEN_COLUMNS = "id, user_name, name, origin, created_at, last_used_at, revoked_at"


class PeopleTables(CatalogConnection):
    """Accounts, tokens, members and sessions. Part of :class:`archive.catalog.Catalog`."""

    # -- accounts -------------------------------------------------------------------------

    def add_user(
        self, name: str, role: str, *, password_hash: str | None, created_by: str | None
    ) -> UserRow:
        """A new account; :class:`StateConflict` when the name is taken."""
        with self._write() as conn:
            if _user(conn, name) is not None:
                raise StateConflict(f"there is already a user called {name!r}")
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, role, password_hash, now_rfc3339(), created_by),
            )
            return _must_user(conn, name)

    def user(self, name: str) -> UserRow | None:
        with self._read() as conn:
            return _user(conn, name)

    def users(self) -> list[UserRow]:
        """Every account, by name (disabled ones included: they still name past actions)."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()
        return [_user_row(row) for row in rows]

    def update_user(self, name: str, **changes: str | int | None) -> UserRow:
        """Set some of ``role``, ``password_hash``, ``totp_secret``, ``oidc_subject``,
        ``disabled_at``, ``failed_logins``, ``locked_until``; the row as it is after."""
        allowed = {"role", "password_hash", "totp_secret", "oidc_subject", "disabled_at"}
        allowed |= {"failed_logins", "locked_until"}
        unknown = set(changes) - allowed
        if unknown or not changes:
            raise ValueError(f"cannot change {sorted(unknown) or 'nothing'} of a user")
        columns = sorted(changes)
        assignments = ", ".join(f"{column} = ?" for column in columns)
        with self._write() as conn:
            _must_user(conn, name)
            conn.execute(
                f"UPDATE users SET {assignments} WHERE name = ?",
                (*(changes[column] for column in columns), name),
            )
            return _must_user(conn, name)

    def user_by_subject(self, subject: str) -> UserRow | None:
        """The account linked to an OpenID Connect subject (``issuer|sub``)."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE oidc_subject = ?", (subject,)
            ).fetchone()
        return _user_row(row) if row is not None else None

    def take_totp_step(self, name: str, step: int) -> bool:
        """Record ``step`` as ``name``'s last second-factor step if it is newer than the
        last one (one statement: two servers cannot both take it); ``False`` if not."""
        with self._write() as conn:
            taken = conn.execute(
                "UPDATE users SET totp_last_step = ? WHERE name = ?"
                " AND (totp_last_step IS NULL OR totp_last_step < ?) RETURNING name",
                (step, name, step),
            ).fetchone()
        return taken is not None

    # -- tokens ---------------------------------------------------------------------------

    def add_token(self, user: str, name: str, token_sha256: str) -> TokenRow:
        """A new device token of ``user``; refused while another live one has that name."""
        with self._write() as conn:
            _must_user(conn, user)
            live = conn.execute(
                "SELECT 1 FROM api_tokens WHERE user_name = ? AND name = ? AND revoked_at IS NULL",
                (user, name),
            ).fetchone()
            if live is not None:
                raise StateConflict(
                    f"{user} already has a token called {name!r}: revoke it first"
                    f" (`osint-capture token revoke {name} --user {user}`) or pick another name"
                )
            row = conn.execute(
                "INSERT INTO api_tokens (user_name, name, token_sha256, created_at)"
                f" VALUES (?, ?, ?, ?) RETURNING {_TOKEN_COLUMNS}",
                (user, name, token_sha256, now_rfc3339()),
            ).fetchone()
        return _token_row(row)

    def tokens(self, user: str | None = None, *, revoked: bool = False) -> list[TokenRow]:
        """Live tokens (and revoked ones too with ``revoked``), of one person or all."""
        where = ["revoked_at IS NULL"] if not revoked else []
        if user is not None:
            where.append("user_name = ?")
        sql = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as conn:
            params = (user,) if user is not None else ()
            rows = conn.execute(sql + " ORDER BY user_name, name, id", params).fetchall()
        return [_token_row(row) for row in rows]

    def token_by_hash(self, token_sha256: str) -> TokenRow | None:
        """The token whose secret hashes to ``token_sha256`` (revoked ones too: the caller
        says why it is refused)."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_sha256 = ?", (token_sha256,)
            ).fetchone()
        return _token_row(row) if row is not None else None

    def revoke_token(self, user: str, name: str) -> TokenRow:
        """Revoke ``user``'s live token called ``name``; :class:`NotInCatalog` if none."""
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE api_tokens SET revoked_at = ? WHERE user_name = ? AND name = ?"
                f" AND revoked_at IS NULL RETURNING {_TOKEN_COLUMNS}",
                (now_rfc3339(), user, name),
            ).fetchone()
        if row is None:
            raise NotInCatalog(f"{user} has no live token called {name!r}")
        return _token_row(row)

    def use_token(self, token_id: int, *, origin: str | None) -> None:
        """Note a token's use; bind it to ``origin`` if it has none yet."""
        with self._write() as conn:
            conn.execute(
                "UPDATE api_tokens SET last_used_at = ?, origin = COALESCE(origin, ?) WHERE id = ?",
                (now_rfc3339(), origin, token_id),
            )

    # -- members --------------------------------------------------------------------------

    def add_member(self, case: str, user: str, *, added_by: str | None) -> bool:
        """Make ``user`` a member of ``case`` (created if new); ``False`` if already one."""
        case = validate_case_name(case)
        with self._write() as conn:
            _must_user(conn, user)
            row = ensure_case_row(conn, case)
            inserted = conn.execute(
                "INSERT INTO case_members (case_id, user_name, added_by, added_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING user_name",
                (row.id, user, added_by, now_rfc3339()),
            ).fetchone()
        return inserted is not None

    def create_case(self, case: str, *, member: str, added_by: str | None) -> CaseRow:
        """A new case with ``member`` as its first member, in one transaction; refused
        (:class:`StateConflict`) when the case exists, so the one who names a new case
        first is its member and a second never joins someone else's case by racing them."""
        case = validate_case_name(case)
        with self._write() as conn:
            _must_user(conn, member)
            created = conn.execute(
                "INSERT INTO cases (name, created_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING RETURNING id",
                (case, now_rfc3339()),
            ).fetchone()
            if created is None:
                raise StateConflict(f"there is already a case called {case!r}")
            conn.execute(
                "INSERT INTO case_members (case_id, user_name, added_by, added_at)"
                " VALUES (?, ?, ?, ?)",
                (created["id"], member, added_by, now_rfc3339()),
            )
            return ensure_case_row(conn, case)

    def remove_member(self, case: str, user: str) -> bool:
        """``False`` if ``user`` was not a member of ``case``."""
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM case_members WHERE user_name = ? AND case_id ="
                " (SELECT id FROM cases WHERE name = ?) RETURNING user_name",
                (user, case),
            ).fetchone()
        return removed is not None

    def members(self, case: str) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT user_name FROM case_members JOIN cases ON cases.id = case_members.case_id"
                " WHERE cases.name = ? ORDER BY user_name",
                (case,),
            ).fetchall()
        return [row["user_name"] for row in rows]

    def cases_of(self, user: str) -> list[str]:
        """The names of the cases ``user`` belongs to."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT cases.name FROM case_members JOIN cases ON cases.id = case_members.case_id"
                " WHERE case_members.user_name = ? ORDER BY cases.name",
                (user,),
            ).fetchall()
        return [row["name"] for row in rows]

    def set_case_second_factor(self, case: str, required: bool) -> None:
        """Mark a case sensitive: opened only in sessions that passed a second factor."""
        with self._write() as conn:
            done = conn.execute(
                "UPDATE cases SET second_factor = ? WHERE name = ? RETURNING id",
                (int(required), case),
            ).fetchone()
        if done is None:
            raise NotInCatalog(f"no case {case!r} in the catalog")

    def sensitive_cases(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name FROM cases WHERE second_factor = 1 ORDER BY name"
            ).fetchall()
        return [row["name"] for row in rows]

    def adopt_uncased_captures(self, user: str) -> int:
        """Make ``user`` the collector of every capture filed under no case that has none
        (made before there were accounts), and of every such watched target, so its
        later runs are theirs too; how many captures."""
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE captures SET collector = ? WHERE collector IS NULL AND case_id IS NULL"
                " RETURNING id",
                (user,),
            ).fetchall()
            conn.execute(
                "UPDATE targets SET collector = ? WHERE collector IS NULL AND case_id IS NULL",
                (user,),
            )
        return len(rows)

    # -- sessions -------------------------------------------------------------------------

    def open_session(self, id_sha256: str, user: str, *, second_factor: bool) -> SessionRow:
        now = now_rfc3339()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sessions (id_sha256, user_name, second_factor, created_at,"
                " last_used_at) VALUES (?, ?, ?, ?, ?)",
                (id_sha256, user, int(second_factor), now, now),
            )
        return SessionRow(id_sha256, user, second_factor, now, now)

    def session(self, id_sha256: str) -> SessionRow | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id_sha256, user_name, second_factor, created_at, last_used_at"
                " FROM sessions WHERE id_sha256 = ?",
                (id_sha256,),
            ).fetchone()
        if row is None:
            return None
        return SessionRow(
            row["id_sha256"],
            row["user_name"],
            bool(row["second_factor"]),
            row["created_at"],
            row["last_used_at"],
        )

    def touch_session(self, id_sha256: str, at: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE sessions SET last_used_at = ? WHERE id_sha256 = ?", (at, id_sha256)
            )

    def close_sessions(self, *, id_sha256: str | None = None, user: str | None = None) -> int:
        """End one session, or all of one person's (disabled, password reset); how many."""
        if (id_sha256 is None) == (user is None):
            raise ValueError("close one session or one person's sessions")
        column, value = ("id_sha256", id_sha256) if id_sha256 else ("user_name", user)
        with self._write() as conn:
            rows = conn.execute(
                f"DELETE FROM sessions WHERE {column} = ? RETURNING id_sha256", (value,)
            ).fetchall()
        return len(rows)

    def close_idle_sessions(self, before: str) -> int:
        """End every session last used before ``before`` (an RFC 3339 time)."""
        with self._write() as conn:
            rows = conn.execute(
                "DELETE FROM sessions WHERE last_used_at < ? RETURNING id_sha256", (before,)
            ).fetchall()
        return len(rows)


def _user(conn: Session, name: str) -> UserRow | None:
    row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
    return _user_row(row) if row is not None else None


def _must_user(conn: Session, name: str) -> UserRow:
    user = _user(conn, name)
    if user is None:
        raise NotInCatalog(f"no user called {name!r} (see `osint-capture user list`)")
    return user


def _user_row(row: Row) -> UserRow:
    return UserRow(
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        totp_secret=row["totp_secret"],
        oidc_subject=row["oidc_subject"],
        disabled_at=row["disabled_at"],
        failed_logins=int(row["failed_logins"]),
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _token_row(row: Row) -> TokenRow:
    return TokenRow(
        id=int(row["id"]),
        user=row["user_name"],
        name=row["name"],
        origin=row["origin"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )
