"""Getting in, and being refused, on the real application: the first start's owner and
link, tokens revoked and people disabled at once, lockout and the per-address limit
through the login form, the second factor, and sessions that outlive a restart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
import pytest_asyncio

from archive.datadir import TOKEN_FILE
from archive.people import LOCKOUT_AFTER, Role, WrongCode, secret_sha256, totp
from capture.server.keys import ACCESS
from capture.server.throttle import LoginThrottle
from tests.access_server import PASSWORD, Served, add_people, serve
from tests.server import free_port


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    running = await serve(tmp_path_factory.mktemp("login") / "data", free_port())
    add_people(running)
    try:
        yield running
    finally:
        await running.server.close()


async def _me(served: Served, **credentials: str) -> tuple[int, dict[str, object]]:
    status, _, text = await served.ask("GET", "/api/v1/me", **credentials)
    return status, json.loads(text)


async def test_the_first_start_makes_the_owner_and_one_login_link(served: Served) -> None:
    first = served.server.app[ACCESS].first_start
    assert first is not None and first.adoption.owner.role == Role.ADMIN
    owner = first.adoption.owner.name
    token = (served.data / TOKEN_FILE).read_text().strip()
    status, me = await _me(served, token=token)
    assert status == 200
    assert me == {"user": owner, "role": "admin", "device": "this-computer", "cases": []}
    [made] = [e for e in served.service.archive.custody.events() if e.action == "user-added"]
    assert made.actor == "system" and made.details["user"] == owner  # in custody, once
    assert made.details["first_start"] is True

    status, headers, _ = await served.ask("GET", f"/login/once?key={first.link_key}")
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    status, me = await _me(served, cookie=cookie)
    assert status == 200 and (me["user"], me["device"]) == (owner, "dashboard")
    for key in (first.link_key, "not-a-key"):  # spent, and never issued
        status, headers, text = await served.ask("GET", f"/login/once?key={key}")
        assert status == 401 and "Set-Cookie" not in headers and "used already" in text


async def test_the_owner_logs_in_to_the_dashboard_with_the_token(served: Served) -> None:
    token = (served.data / TOKEN_FILE).read_text().strip()
    status, cookie, _ = await served.log_in(token=token)
    assert status == 303 and cookie
    assert (await served.ask("GET", "/", cookie=cookie))[0] == 200
    status, cookie, text = await served.log_in(token="ocp_not-a-token")
    assert status == 401 and cookie is None
    assert "Wrong token" in text and "osint-capture token" in text


async def test_a_refusal_on_the_api_names_the_permission(served: Served) -> None:
    reviewer = served.people[Role.REVIEWER]
    status, _, text = await served.ask(
        "POST", "/api/v1/captures", token=reviewer.token, json={"url": "http://127.0.0.1:9/"}
    )
    body = json.loads(text)
    assert status == 403 and set(body) == {"error", "detail", "permission"}
    assert body["error"] == "forbidden" and body["permission"] == "capture"
    assert "reviewer-one (reviewer) may not capture" in body["detail"]


async def test_a_revoked_token_is_refused_at_the_next_request(served: Served) -> None:
    directory = served.directory
    directory.add_user("revoked-soon", Role.INVESTIGATOR, by="test")
    _, token = directory.create_token("revoked-soon", "laptop")
    assert (await _me(served, token=token))[0] == 200
    used = directory.catalog.tokens("revoked-soon")[0].last_used_at
    assert used is not None  # noted, but not at every request (a write each time)
    assert (await _me(served, token=token))[0] == 200
    assert directory.catalog.tokens("revoked-soon")[0].last_used_at == used
    directory.catalog.revoke_token("revoked-soon", "laptop")
    status, body = await _me(served, token=token)
    assert status == 401 and "revoked" in str(body["detail"])


async def test_a_disabled_person_is_refused_by_token_session_and_form(served: Served) -> None:
    directory = served.directory
    directory.add_user("disabled-soon", Role.INVESTIGATOR, password=PASSWORD, by="test")
    _, token = directory.create_token("disabled-soon", "laptop")
    status, cookie, _ = await served.log_in(name="disabled-soon", password=PASSWORD)
    assert status == 303 and cookie
    assert (await _me(served, token=token))[0] == (await _me(served, cookie=cookie))[0] == 200
    directory.disable("disabled-soon")
    status, body = await _me(served, token=token)
    assert status == 401 and "disabled" in str(body["detail"])
    status, body = await _me(served, cookie=cookie)
    assert status == 401 and "session has ended" in str(body["detail"])
    status, headers, _ = await served.ask("GET", "/", cookie=cookie)
    assert status == 303 and headers["Location"].startswith("/login?next=")
    status, cookie, _ = await served.log_in(name="disabled-soon", password=PASSWORD)
    assert status == 401 and cookie is None


async def test_wrong_passwords_lock_the_account_through_the_form(served: Served) -> None:
    directory = served.directory
    directory.add_user("guessed-at", Role.REVIEWER, password=PASSWORD, by="test")
    pages = []
    for n in range(LOCKOUT_AFTER):
        status, cookie, text = await served.log_in(name="guessed-at", password=f"guess number {n}")
        assert status == 401 and cookie is None
        pages.append(text)
    assert directory.catalog.user("guessed-at").locked_until is not None  # type: ignore[union-attr]
    status, cookie, text = await served.log_in(name="guessed-at", password=PASSWORD)
    assert status == 401 and cookie is None  # locked: the right password too
    status, _, unknown = await served.log_in(name="nobody-here", password=PASSWORD)
    assert status == 401
    assert "Wrong user name or password" in text and "locked for 15 minutes" in text
    assert len({_alert(page) for page in [*pages, text, unknown]}) == 1  # all read the same
    directory.set_password("guessed-at", "a brand new passphrase")  # an admin's reset
    status, cookie, _ = await served.log_in(name="guessed-at", password="a brand new passphrase")
    assert status == 303 and cookie


def _alert(page: str) -> str:
    return page.split('role="alert">')[1].split("<")[0]


async def test_a_second_factor_is_asked_for_and_marks_the_session(served: Served) -> None:
    directory = served.directory
    directory.add_user("two-factors", Role.INVESTIGATOR, password=PASSWORD, by="test")
    enrolment = totp.enrol(directory, "two-factors")
    assert enrolment.uri.startswith("otpauth://totp/osint-capture:two-factors?secret=")
    app = pyotp.TOTP(enrolment.secret)
    with pytest.raises(WrongCode, match="does not match"):
        totp.confirm(directory, enrolment, "000000" if app.now() != "000000" else "111111")
    assert directory.catalog.user("two-factors").totp_secret is None  # type: ignore[union-attr]
    totp.confirm(directory, enrolment, app.now())

    for code in ("", "123 456" if app.now() != "123456" else "654321"):
        status, cookie, _ = await served.log_in(name="two-factors", password=PASSWORD, code=code)
        assert status == 401 and cookie is None, code
    code = app.now()
    status, cookie, _ = await served.log_in(name="two-factors", password=PASSWORD, code=code)
    assert status == 303 and cookie
    session = directory.catalog.session(secret_sha256(cookie))
    assert session is not None and session.second_factor is True
    status, again, _ = await served.log_in(name="two-factors", password=PASSWORD, code=code)
    assert status == 401 and again is None  # a code is taken once

    # A sensitive case of theirs opens in that session, not through a token of theirs.
    directory.catalog.add_member("sensitive-case", "two-factors", added_by="test")
    directory.catalog.set_case_second_factor("sensitive-case", True)
    _, token = directory.create_token("two-factors", "laptop")
    listing = "/api/v1/captures?case=sensitive-case"
    assert (await served.ask("GET", listing, cookie=cookie))[0] == 200
    status, _, text = await served.ask("GET", listing, token=token)
    assert status == 403 and json.loads(text)["permission"] == "second-factor", text

    reviewer = served.people[Role.REVIEWER]  # no second factor: a session without one
    status, cookie, _ = await served.log_in(name=reviewer.name, password=PASSWORD)
    assert status == 303 and cookie
    assert directory.catalog.session(secret_sha256(cookie)).second_factor is False  # type: ignore[union-attr]


async def test_logins_from_one_address_are_limited(served: Served) -> None:
    state = served.server.app[ACCESS]
    before, state.throttle = state.throttle, LoginThrottle(attempts=3)
    try:
        for _ in range(3):
            assert (await served.log_in(name="nobody-here", password=PASSWORD))[0] == 401
        reviewer = served.people[Role.REVIEWER]
        status, cookie, text = await served.log_in(name=reviewer.name, password=PASSWORD)
        assert status == 429 and cookie is None and "Too many logins" in text
        status, headers, _ = await served.ask("GET", "/login/once?key=x")
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    finally:
        state.throttle = before


async def test_a_session_outlives_a_restart_and_ends_at_logout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await serve(data, free_port())
    try:
        add_people(first)
        name = first.people[Role.AUDITOR].name
        status, cookie, _ = await first.log_in(name=name, password=PASSWORD)
        assert status == 303 and cookie
    finally:
        await first.server.close()
    second = await serve(data, free_port())
    try:
        assert second.server.app[ACCESS].first_start is None  # the owner was made before
        status, me = await _me(second, cookie=cookie)
        assert status == 200 and me["user"] == name
        assert (await second.ask("GET", "/", cookie=cookie))[0] == 200
        status, headers, _ = await second.ask("POST", "/logout", cookie=cookie)
        assert status == 303 and headers["Location"] == "/login"
        assert (await _me(second, cookie=cookie))[0] == 401
    finally:
        await second.server.close()
