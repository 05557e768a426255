"""Logging in through an organisation's OpenID Connect provider: the client side of the
authorization code flow with PKCE (RFC 7636), and what an ID token may say.

The provider is trusted for one thing: who the person is (``sub``), their user name
and the groups that map to a role here. Everything it sends is checked before it
counts: the discovery document must name the configured issuer; the ID token's
signature must verify with a key of the provider's published set (joserfc: the
library Authlib's author keeps for JOSE, so no hand-written JWS code), and its
``iss``, ``aud``, ``exp``, ``iat`` and ``nonce`` must be this login's. A login whose
claims map to no role is refused: the provider decides who someone is, this
installation's mapping decides what they may do.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from archive.errors import BadInput, Denied, Unauthenticated, Unavailable
from archive.people import Role, check_name, parse_role

#: How long a person has between leaving for the provider and coming back.
PENDING_SECONDS = 600
#: Clock difference tolerated between this server and the provider.
LEEWAY_SECONDS = 60
#: Signature algorithms accepted from the provider (never ``none``, never HMAC).
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
#: What the server asks for: who, their name, and their groups.
SCOPES = "openid email profile groups"


class OidcUnavailable(Unavailable):
    """The provider could not be reached or answered nonsense (exit 1, 503)."""


class OidcRefused(Unauthenticated):
    """The provider's answer did not prove who is logging in (401)."""


@dataclass(frozen=True)
class OidcSettings:
    """The provider and how its claims map to roles here.

    ``roles``: a value of ``role_claim`` (a group name) to a role; a person whose groups
    map to several gets the one listed first in :class:`Role` (admin first).
    """

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    roles: dict[str, Role]
    role_claim: str = "groups"
    name_claim: str = "preferred_username"

    @staticmethod
    def parse_roles(text: str) -> dict[str, Role]:
        """``GROUP=ROLE,GROUP=ROLE`` as given to ``--oidc-roles``."""
        mapping: dict[str, Role] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            group, sep, role = item.rpartition("=")
            if not sep or not group:
                raise BadInput(f"--oidc-roles takes GROUP=ROLE pairs, got {item!r}")
            try:
                mapping[group] = parse_role(role)
            except ValueError as exc:
                raise BadInput(f"--oidc-roles: {exc}") from None
        if not mapping:
            raise BadInput("--oidc-roles maps no group to a role: nobody could log in")
        return mapping


@dataclass(frozen=True)
class Pending:
    """One login on its way to the provider: what must come back with it."""

    state: str
    nonce: str
    verifier: str = field(repr=False)
    next_page: str
    redirect_uri: str
    started: float


@dataclass(frozen=True)
class Identity:
    """Who the provider says logged in, and the role the mapping gives them."""

    subject: str
    name: str
    role: Role
    second_factor: bool


def new_pending(next_page: str, redirect_uri: str) -> Pending:
    return Pending(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next_page=next_page,
        redirect_uri=redirect_uri,
        started=time.monotonic(),
    )


def challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier`` (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One provider's endpoints and keys, read once and kept; logins against it."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def authorization_url(self, pending: Pending) -> str:
        metadata = await self._discover()
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": pending.redirect_uri,
            "scope": SCOPES,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        return f"{metadata['authorization_endpoint']}?{urlencode(query)}"

    async def finish(self, pending: Pending, code: str) -> Identity:
        """The code exchanged, the ID token checked, the person and role it gives."""
        if time.monotonic() - pending.started > PENDING_SECONDS:
            raise OidcRefused("the login took too long at the provider: start it again")
        tokens = await self._exchange(pending, code)
        claims = await self.verify_id_token(str(tokens.get("id_token") or ""), pending.nonce)
        return self._identity(claims)

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = await _get_json(url)
            if metadata.get("issuer") != self.settings.issuer:
                raise OidcUnavailable(
                    f"{url} names the issuer {metadata.get('issuer')!r}, not the configured"
                    f" {self.settings.issuer!r}: check --oidc-issuer"
                )
            for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(metadata.get(needed), str):
                    raise OidcUnavailable(f"{url} gives no {needed}")
            self._metadata = metadata
        return self._metadata

    async def _exchange(self, pending: Pending, code: str) -> dict[str, Any]:
        metadata = await self._discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier,
        }
        # client_secret_basic: each part form-encoded first (RFC 6749 section 2.3.1).
        client_id, secret = (quote(part, safe="") for part in self._credentials())
        pair = f"{client_id}:{secret}"
        basic = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        timeout = aiohttp.ClientTimeout(total=20)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.post(
                    metadata["token_endpoint"],
                    data=form,
                    headers={"Authorization": basic},
                ) as response,
            ):
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcUnavailable(f"the provider's token endpoint failed: {exc}") from exc
        if response.status != 200 or not isinstance(body, dict):
            detail = body.get("error_description") if isinstance(body, dict) else None
            raise OidcRefused(f"the provider refused the login code ({response.status}: {detail})")
        return body

    def _credentials(self) -> tuple[str, str]:
        return self.settings.client_id, self.settings.client_secret

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise OidcRefused("the provider sent no ID token")
        keys = await self._key_set()
        try:
            token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.settings.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise OidcRefused(f"the provider's ID token does not check out: {exc}") from exc
        return dict(token.claims)

    async def _key_set(self) -> KeySet:
        if self._keys is None:
            metadata = await self._discover()
            self._keys = KeySet.import_key_set(await _get_json(metadata["jwks_uri"]))
        return self._keys

    def _identity(self, claims: dict[str, Any]) -> Identity:
        name = str(claims.get(self.settings.name_claim) or "").lower()
        try:
            check_name(name)
        except BadInput:
            raise OidcRefused(
                f"the provider's {self.settings.name_claim!r} ({name!r}) is not a user name"
                " here (lower-case letters, digits, '.', '_', '-')"
            ) from None
        groups = claims.get(self.settings.role_claim) or []
        groups = [groups] if isinstance(groups, str) else list(groups)
        mapped = {self.settings.roles[g] for g in groups if g in self.settings.roles}
        role = next((r for r in Role if r in mapped), None)
        if role is None:
            raise Denied(
                f"{name} logged in at the provider, but none of their {self.settings.role_claim}"
                f" ({', '.join(map(str, groups)) or 'none'}) maps to a role here;"
                " an admin adds the mapping (--oidc-roles)",
                permission="log-in",
            )
        amr = claims.get("amr") or []
        return Identity(
            subject=f"{self.settings.issuer}|{claims['sub']}",
            name=name,
            role=role,
            second_factor=any(method in ("mfa", "otp", "hwk") for method in amr),
        )


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.get(url) as response,
        ):
            response.raise_for_status()
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise OidcUnavailable(f"cannot read {url}: {exc}") from exc
    if not isinstance(body, dict):
        raise OidcUnavailable(f"{url} is not a JSON object")
    return body
