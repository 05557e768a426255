"""People and permissions: roles, who is acting, and the directory of accounts, tokens
and sessions (docs/access.md)."""

from archive.people.directory import (
    LOCKOUT_AFTER,
    LOCKOUT_SECONDS,
    TOKEN_PREFIX,
    BadUserName,
    Directory,
    TokenOfAnotherExtension,
    check_name,
    secret_sha256,
)
from archive.people.membership import admit
from archive.people.owner import OWNER_DEVICE, Adoption, ensure_owner, load_or_create_token
from archive.people.passwords import WeakPassword
from archive.people.principal import COMMAND_LINE, DASHBOARD, Principal
from archive.people.roles import GRANTS, PURPOSE, Permission, Role, allows, parse_role
from archive.people.totp import Enrolment, WrongCode

__all__ = [
    "COMMAND_LINE",
    "DASHBOARD",
    "GRANTS",
    "LOCKOUT_AFTER",
    "LOCKOUT_SECONDS",
    "OWNER_DEVICE",
    "PURPOSE",
    "TOKEN_PREFIX",
    "Adoption",
    "BadUserName",
    "Directory",
    "Enrolment",
    "Permission",
    "Principal",
    "Role",
    "TokenOfAnotherExtension",
    "WeakPassword",
    "WrongCode",
    "admit",
    "allows",
    "check_name",
    "ensure_owner",
    "load_or_create_token",
    "parse_role",
    "secret_sha256",
]
