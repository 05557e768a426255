"""Logging in through a real OpenID Connect provider (oidc-provider on Node.js, on
loopback): the code flow with PKCE as the server's client runs it, and the answers it
must refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from archive.errors import Denied
from archive.people import Role
from capture.server.oidc_client import (
    OidcClient,
    OidcRefused,
    OidcSettings,
    OidcUnavailable,
    Pending,
    new_pending,
)
from tests.oidc_provider import OidcProvider, oidc_provider, provider_login

CALLBACK = "http://127.0.0.1:9/login/oidc/callback"
ACCOUNTS = {
    "amira": {"preferred_username": "amira", "groups": ["field-team", "staff"]},
    "sami": {"preferred_username": "sami", "groups": ["audit", "field-team"]},
    "visitor": {"preferred_username": "visitor", "groups": ["guests"]},
    "spaces": {"preferred_username": "Sami Haddad", "groups": ["field-team"]},
}
ROLES = {"field-team": Role.INVESTIGATOR, "audit": Role.AUDITOR, "admins": Role.ADMIN}


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with oidc_provider(CALLBACK, ACCOUNTS) as running:
        yield running


@pytest.fixture
def client(provider: OidcProvider) -> OidcClient:
    return OidcClient(
        OidcSettings(provider.issuer, provider.client_id, provider.client_secret, ROLES)
    )


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http


async def code_for(
    client: OidcClient, browser: aiohttp.ClientSession, account: str
) -> tuple[Pending, str]:
    browser.cookie_jar.clear()  # a new person: no session left at the provider
    pending = new_pending("/", CALLBACK)
    url = await client.authorization_url(pending)
    assert "code_challenge_method=S256" in url and pending.verifier not in url
    back = parse_qs(urlsplit(await provider_login(browser, url, account, stop_at=CALLBACK)).query)
    assert back["state"] == [pending.state]
    return pending, back["code"][0]


async def test_a_login_gives_the_person_and_the_role_their_groups_map_to(
    client: OidcClient, browser: aiohttp.ClientSession, provider: OidcProvider
) -> None:
    pending, code = await code_for(client, browser, "amira")
    who = await client.finish(pending, code)
    assert (who.name, who.role, who.subject) == (
        "amira",
        Role.INVESTIGATOR,
        f"{provider.issuer}|amira",
    )
    assert not who.second_factor
    pending, code = await code_for(client, browser, "sami")
    assert (await client.finish(pending, code)).role == Role.INVESTIGATOR  # before auditor


async def test_a_code_counts_once_and_only_with_its_own_verifier_and_nonce(
    client: OidcClient, browser: aiohttp.ClientSession
) -> None:
    pending, code = await code_for(client, browser, "amira")
    other = new_pending("/", CALLBACK)
    with pytest.raises(OidcRefused, match="refused the login code"):
        await client.finish(other, code)  # another verifier: PKCE fails at the provider
    pending, code = await code_for(client, browser, "amira")
    wrong_nonce = Pending(
        pending.state, "not-the-nonce", pending.verifier, "/", CALLBACK, pending.started
    )
    with pytest.raises(OidcRefused, match="does not check out"):
        await client.finish(wrong_nonce, code)
    with pytest.raises(OidcRefused, match="refused the login code"):
        await client.finish(pending, code)  # the code was spent above


async def test_an_id_token_signed_by_anyone_else_is_refused(
    client: OidcClient, provider: OidcProvider
) -> None:
    claims = {"iss": provider.issuer, "aud": provider.client_id, "sub": "amira", "nonce": "n"}
    claims |= {"iat": 1_900_000_000, "exp": 4_000_000_000, "preferred_username": "amira"}
    forger = RSAKey.generate_key(2048, parameters={"kid": "forged"})
    forged = jwt.encode({"alg": "RS256", "kid": "forged"}, claims, forger)
    with pytest.raises(OidcRefused, match="does not check out"):
        await client.verify_id_token(forged, "n")
    with pytest.warns(Warning):  # joserfc warns that "none" is deprecated; we refuse it
        unsigned = jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])
    with pytest.raises(OidcRefused, match="does not check out"):
        await client.verify_id_token(unsigned, "n")


async def test_no_role_or_no_usable_name_means_no_login(
    client: OidcClient, browser: aiohttp.ClientSession
) -> None:
    pending, code = await code_for(client, browser, "visitor")
    with pytest.raises(Denied, match="none of their groups") as denied:
        await client.finish(pending, code)
    assert denied.value.http_status == 403
    pending, code = await code_for(client, browser, "spaces")
    with pytest.raises(OidcRefused, match="not a user name"):
        await client.finish(pending, code)


async def test_a_provider_that_names_another_issuer_is_not_trusted(
    provider: OidcProvider,
) -> None:
    impostor = OidcClient(
        OidcSettings(provider.issuer + "/", provider.client_id, provider.client_secret, ROLES)
    )
    with pytest.raises(OidcUnavailable, match="names the issuer"):
        await impostor.authorization_url(new_pending("/", CALLBACK))


def test_role_mappings_are_read_strictly() -> None:
    assert OidcSettings.parse_roles("field-team=investigator, a=b=admin") == {
        "field-team": Role.INVESTIGATOR,
        "a=b": Role.ADMIN,
    }
    for bad in ("", "field-team", "x=superuser"):
        with pytest.raises(Exception, match="oidc-roles"):
            OidcSettings.parse_roles(bad)


def test_a_second_factor_at_the_provider_counts_here(client: OidcClient) -> None:
    """The ID token's ``amr`` (RFC 8176) naming mfa, otp or hwk is a second factor."""
    claims = {"sub": "amira", "preferred_username": "amira", "groups": ["field-team"]}
    assert not client._identity({**claims, "amr": ["pwd"]}).second_factor
    assert client._identity({**claims, "amr": ["pwd", "otp"]}).second_factor
    assert client._identity({**claims, "amr": ["mfa"]}).second_factor
