"""The dashboard's login through a real OpenID Connect provider (oidc-provider on
Node.js), on the real application: the browser sent there and back, a session for the
account the login is, that account made once and recorded in custody, its role
following the provider's groups; and the logins it must refuse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
import pytest_asyncio

from archive.people import Role, secret_sha256
from capture.server.oidc_client import OidcSettings
from capture.server.sessions import COOKIE
from tests.access_server import Served, serve
from tests.oidc_provider import OidcProvider, oidc_provider, provider_login
from tests.server import free_port

ACCOUNTS = {
    "amira": {"preferred_username": "amira", "groups": ["field-team"]},
    "sami": {"preferred_username": "sami", "groups": ["audit"]},
    "visitor": {"preferred_username": "visitor", "groups": ["guests"]},
    "taken": {"preferred_username": "taken", "groups": ["field-team"]},
}
ROLES = {"field-team": Role.INVESTIGATOR, "audit": Role.AUDITOR}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Served, OidcProvider]]:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/login/oidc/callback"
    with oidc_provider(callback, ACCOUNTS) as provider:
        settings = OidcSettings(provider.issuer, provider.client_id, provider.client_secret, ROLES)
        running = await serve(tmp_path_factory.mktemp("oidc") / "data", port, oidc=settings)
        try:
            yield running, provider
        finally:
            await running.server.close()


async def log_in(served: Served, account: str) -> tuple[int, str | None, str]:
    """Through the login page's link, the provider's pages and back: the callback's
    status, the session it set, its page."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(
            served.base + "/login/oidc?next=/targets", allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
            to_provider = r.headers["Location"]
        callback = served.base + "/login/oidc/callback"
        back = await provider_login(browser, to_provider, account, stop_at=callback)
        async with browser.get(back, allow_redirects=False) as response:
            morsel = response.cookies.get(COOKIE)
            if response.status == 303:
                assert urlsplit(response.headers["Location"]).path == "/targets"
            return response.status, morsel.value if morsel else None, await response.text()


async def me(served: Served, cookie: str) -> dict[str, object]:
    status, _, text = await served.ask("GET", "/api/v1/me", cookie=cookie)
    assert status == 200, text
    return json.loads(text)


async def test_the_login_page_offers_the_provider(served: tuple[Served, OidcProvider]) -> None:
    server, _ = served
    status, _, page = await server.ask("GET", "/login")
    assert status == 200 and "/login/oidc?next=" in page


async def test_a_login_makes_the_account_once_and_opens_a_session(
    served: tuple[Served, OidcProvider],
) -> None:
    server, provider = served
    status, cookie, page = await log_in(server, "amira")
    assert status == 303 and cookie, page
    assert await me(server, cookie) == {
        "user": "amira", "role": "investigator", "device": "dashboard", "cases": [],
    }  # fmt: skip
    user = server.service.archive.catalog.user("amira")
    assert user is not None and user.oidc_subject == f"{provider.issuer}|amira"
    assert user.password_hash is None
    status, again, _ = await log_in(server, "amira")
    assert status == 303 and again and again != cookie
    added = [
        e for e in server.service.archive.custody.events()
        if e.action == "user-added" and e.details.get("user") == "amira"
    ]  # fmt: skip
    assert len(added) == 1 and added[0].details["oidc"] is True


async def test_the_role_follows_the_groups(
    served: tuple[Served, OidcProvider],
) -> None:
    server, _ = served
    status, cookie, _ = await log_in(server, "sami")
    assert status == 303 and cookie
    assert (await me(server, cookie))["role"] == "auditor"
    catalog = server.service.archive.catalog
    catalog.update_user("sami", role="reviewer")  # as if the mapping had said so before
    status, cookie, _ = await log_in(server, "sami")
    assert status == 303 and cookie and (await me(server, cookie))["role"] == "auditor"
    changed = [e for e in server.service.archive.custody.events() if e.action == "role-changed"]
    assert [(e.details["from"], e.details["to"]) for e in changed] == [("reviewer", "auditor")]
    session = catalog.session(secret_sha256(cookie))
    assert session is not None and not session.second_factor  # no amr of mfa from this one


async def test_no_role_a_taken_name_or_a_disabled_account_means_no_session(
    served: tuple[Served, OidcProvider],
) -> None:
    server, _ = served
    status, cookie, page = await log_in(server, "visitor")
    assert (status, cookie) == (403, None) and "none of their groups" in page
    server.directory.add_user("taken", Role.ADMIN, password="a local admin's passphrase")
    status, cookie, page = await log_in(server, "taken")
    assert (status, cookie) == (401, None) and "not linked to this provider" in page
    assert server.service.archive.catalog.user("taken").role == "admin"  # untouched
    status, cookie, _ = await log_in(server, "amira")
    assert cookie
    server.directory.disable("amira")
    status, cookie, page = await log_in(server, "amira")
    assert (status, cookie) == (401, None) and "disabled" in page


async def test_a_callback_without_its_login_is_refused(served: tuple[Served, OidcProvider]) -> None:
    server, _ = served
    status, headers, page = await server.ask("GET", "/login/oidc/callback?code=x&state=forged")
    assert status == 401 and "Set-Cookie" not in headers and "unknown here" in page
