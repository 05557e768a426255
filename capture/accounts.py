"""The server's window on the directory of people: who presents a token or a session,
logging in and out, and the owner made at the first start.

The server's handlers never hold the catalog (they talk to the service); this is the
one object through which they reach :class:`archive.people.Directory`. Every call
runs in a worker thread: a login hashes a password with Argon2id (slow on purpose),
and noting a token's or a session's use is a write.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from archive.datadir import TOKEN_FILE
from archive.people import DASHBOARD, Adoption, Directory, Principal
from archive.people.changes import first_start, oidc_account

if TYPE_CHECKING:
    from capture.server.oidc_client import Identity
    from capture.service import CaptureService


class Accounts:
    """People, tokens and sessions of the archive ``service`` has open (after its start)."""

    def __init__(self, service: CaptureService) -> None:
        self._service = service

    def _directory(self) -> Directory:
        return Directory(self._service.archive.catalog)

    async def ensure_owner(self) -> Adoption | None:
        """Make the owner if the archive has no account yet (the first start): an admin
        holding ``DATA/api-token``, recorded in custody. ``None`` when there already was one."""
        archive = self._service.archive
        return await asyncio.to_thread(first_start, archive, self._service.data_dir / TOKEN_FILE)

    async def token_principal(self, secret: str, *, origin: str | None) -> Principal:
        """Who presents this token (bound to ``origin``, an extension, on first use)."""
        return await asyncio.to_thread(self._directory().token_principal, secret, origin=origin)

    async def password_principal(self, name: str, password: str, code: str) -> Principal:
        """Who logs in with this name, password and (if they have a second factor) code."""
        return await asyncio.to_thread(self._directory().password_principal, name, password, code)

    async def principal(self, name: str, device: str) -> Principal:
        """An active person acting through ``device`` (a one-time login link)."""
        return await asyncio.to_thread(self._directory().principal, name, device)

    async def oidc_principal(self, identity: Identity) -> Principal:
        """The account an OpenID Connect login is (made at its first login, its role
        following the provider's groups), acting through the dashboard."""

        def find() -> Principal:
            archive = self._service.archive
            user = oidc_account(
                archive, subject=identity.subject, name=identity.name, role=identity.role
            )
            who = Directory(archive.catalog).principal(user.name, DASHBOARD)
            return replace(who, second_factor=identity.second_factor)

        return await asyncio.to_thread(find)

    async def open_session(self, principal: Principal) -> str:
        return await asyncio.to_thread(self._directory().open_session, principal)

    async def session_principal(self, session_id: str) -> Principal | None:
        return await asyncio.to_thread(self._directory().session_principal, session_id)

    async def close_session(self, session_id: str) -> None:
        await asyncio.to_thread(self._directory().close_session, session_id)
