"""The tables of people, written once for both databases (SQLite migration 10,
PostgreSQL step 6): only the key and text types differ between them.

Secrets are never stored as given: a password as its Argon2id hash, a token and a
session id as their SHA-256 (a stolen copy of the catalog opens no door). The TOTP
seed is the exception a second factor needs: it must be read to check a code.
"""

from __future__ import annotations

#: The roles the catalog accepts (archive.people.roles.Role; a test keeps them equal).
ROLES = ("admin", "investigator", "archivist", "reviewer", "auditor")


def people_statements(*, key: str, text: str, case_key: str) -> tuple[str, ...]:
    """The statements, with ``key`` the type of a generated row id, ``text`` of text and
    ``case_key`` of a reference to ``cases(id)``."""
    roles = ", ".join(f"'{role}'" for role in ROLES)
    return (
        # One row per person. password_hash NULL: no password (yet, or OIDC only).
        f"""
        CREATE TABLE users (
            name {text} NOT NULL PRIMARY KEY,
            role {text} NOT NULL CHECK (role IN ({roles})),
            password_hash {text},
            totp_secret {text},
            oidc_subject {text} UNIQUE,
            disabled_at {text},
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until {text},
            created_at {text} NOT NULL,
            created_by {text}
        )
        """,
        # A person's tokens, one per device; bound to the first extension that uses it.
        f"""
        CREATE TABLE api_tokens (
            id {key},
            user_name {text} NOT NULL REFERENCES users(name),
            name {text} NOT NULL,
            token_sha256 {text} NOT NULL UNIQUE,
            origin {text},
            created_at {text} NOT NULL,
            last_used_at {text},
            revoked_at {text}
        )
        """,
        "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (user_name, name)"
        " WHERE revoked_at IS NULL",
        *_membership_statements(text=text, case_key=case_key),
    )


def _membership_statements(*, text: str, case_key: str) -> tuple[str, ...]:
    """Membership, sensitive cases, sessions and who collected each capture."""
    return (
        # Who belongs to which case: the unit of access to evidence.
        f"""
        CREATE TABLE case_members (
            case_id {case_key} NOT NULL REFERENCES cases(id),
            user_name {text} NOT NULL REFERENCES users(name),
            added_by {text},
            added_at {text} NOT NULL,
            PRIMARY KEY (case_id, user_name)
        )
        """,
        "CREATE INDEX case_members_user ON case_members (user_name)",
        # A sensitive case is opened only in a session that passed a second factor.
        "ALTER TABLE cases ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0",
        # Dashboard sessions, kept here so a restart logs nobody out.
        f"""
        CREATE TABLE sessions (
            id_sha256 {text} NOT NULL PRIMARY KEY,
            user_name {text} NOT NULL REFERENCES users(name),
            second_factor INTEGER NOT NULL DEFAULT 0,
            created_at {text} NOT NULL,
            last_used_at {text} NOT NULL
        )
        """,
        # Who asked for a capture (an account) and through what (a token's name, or
        # 'dashboard' or 'cli'); NULL for captures made before there were accounts.
        f"ALTER TABLE captures ADD COLUMN collector {text}",
        f"ALTER TABLE captures ADD COLUMN device {text}",
    )


def acting_statements(*, text: str) -> tuple[str, ...]:
    """Who started a watch or asked for a reading (SQLite migration 12, PostgreSQL step 9),
    as captures say who collected them: the custody log names them, and a target of no
    case is its collector's alone, as its runs are."""
    return (
        f"ALTER TABLE targets ADD COLUMN collector {text}",
        f"ALTER TABLE targets ADD COLUMN device {text}",
        f"ALTER TABLE analyses ADD COLUMN requested_by {text}",
        f"ALTER TABLE analyses ADD COLUMN device {text}",
        # A person's captures of no case, found without reading everyone's.
        "CREATE INDEX captures_collector ON captures (collector) WHERE case_id IS NULL",
    )
