"""Every route against every role, on the real application over a real archive.

The matrix is built from the routes the application registers (``app.router``), not
from a list kept here: a route added without a rule fails the first test, and each
role is tried on every route, with a real account and token (API) or a session from
the login form (pages). A role without the route's permission gets 403 naming it;
a role with it gets past the check (whatever the handler then says of a capture
that does not exist).
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from archive.people import GRANTS, Permission, Role
from capture.server import ServerSettings, make_app
from capture.server import alerts as alerts_module
from capture.server.rules import RULES, Open, Rule, UnruledRoute, check_routes, route_key
from capture.service import CaptureService
from tests.access_server import PASSWORD, Person, Served, add_people, serve
from tests.server import free_port

ROOT = Path(__file__).resolve().parent.parent
#: What each path parameter is filled with: nothing of that name exists.
PARAMS = {"id": "nope", "name": "nope", "number": "1", "action": "pause"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    running = await serve(tmp_path_factory.mktemp("access") / "data", free_port())
    add_people(running)
    try:
        yield running
    finally:
        await running.server.close()


def routes_of(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, canonical path) the application answers, HEAD aside."""
    return sorted({route_key(r) for r in app.router.routes() if r.method != "HEAD"})


def concrete(path: str) -> str:
    """A request path for a canonical one: parameters filled, the static folder's file."""
    if path == "/static":
        return "/static/style.css"
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def body_of(method: str, path: str) -> dict[str, Any]:
    """An empty body: a check that lets the request through meets a 400 or 404, and
    nothing is queued, created or changed."""
    if method == "GET":
        return {}
    return {"json": {}} if path.startswith("/api/") else {"data": {}}


# -- the table --------------------------------------------------------------------------


async def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(served: Served) -> None:
    routes = routes_of(served.server.app)
    assert len(routes) > 35, routes  # the walk found the app's routes
    assert [r for r in routes if r not in RULES] == []
    assert [r for r in RULES if r not in routes] == []  # no rule outlives its route


async def test_an_app_with_a_route_that_has_no_rule_does_not_start(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = web.RouteTableDef()
    for route in alerts_module.routes:
        extra._items.append(route)

    @extra.get("/api/v1/forgotten")
    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({})

    monkeypatch.setattr(alerts_module, "routes", extra)
    settings = ServerSettings(hosts=frozenset())
    with pytest.raises(UnruledRoute, match="GET /api/v1/forgotten"):
        make_app(CaptureService(served.data), settings)
    app = web.Application()
    app.router.add_post("/captures/{id}/forget", forgotten)
    with pytest.raises(UnruledRoute, match=re.escape("POST /captures/{id}/forget")):
        check_routes(app.router)


def test_docs_access_md_shows_the_rules() -> None:
    text = (ROOT / "docs" / "access.md").read_text()
    table = text.split("<!-- routes-table -->")[1].split("<!-- /routes-table -->")[0]
    rows = [line.strip("|").split("|") for line in table.strip().splitlines()[2:]]
    documented = {
        (cells[0].strip(), cells[1].strip().strip("`")): cells[2].strip().strip("`")
        for cells in rows
    }
    assert documented == {key: str(rule) for key, rule in RULES.items()}


# -- every role on every route ----------------------------------------------------------


def _allowed(role: Role, rule: Rule) -> bool:
    return not isinstance(rule, Permission) or rule in GRANTS[role]


async def test_each_role_gets_each_route_it_may_and_a_403_naming_what_it_lacks(
    served: Served,
) -> None:
    for person in served.people.values():
        status, cookie, _ = await served.log_in(name=person.name, password=PASSWORD)
        assert status == 303 and cookie, person
        person.cookie = cookie
    routes = routes_of(served.server.app)
    routes.sort(key=lambda r: r == ("POST", "/logout"))  # logging out ends the session
    checked: dict[str, int] = {"allowed": 0, "denied": 0, "open": 0}
    for method, path in routes:
        rule = RULES[(method, path)]
        if isinstance(rule, Open) and rule is not Open.SIGNED_IN:
            await _check_open(served, method, path)
            checked["open"] += 1
            continue
        await _check_anonymous(served, method, path)
        for person in served.people.values():
            allowed = _allowed(person.role, rule)
            await _check_one(served, person, method, path, rule, allowed=allowed)
            checked["allowed" if allowed else "denied"] += 1
    lacking = [
        (key, role)
        for key, rule in RULES.items()
        for role in Role
        if isinstance(rule, Permission) and rule not in GRANTS[role]
    ]
    assert all(checked.values()) and checked["denied"] == len(lacking), checked


async def _check_one(
    served: Served, person: Person, method: str, path: str, rule: Rule, *, allowed: bool
) -> None:
    api = path.startswith("/api/")
    credentials = {"token": person.token} if api else {"cookie": person.cookie}
    status, headers, text = await served.ask(
        method, concrete(path), **credentials, **body_of(method, path)
    )
    text = html.unescape(text)
    where = f"{person.role} {method} {path}: {status} {text[:300]}"
    assert status != 401, where
    assert not headers.get("Location", "").startswith("/login?next="), where
    if allowed:
        assert status != 403, where
        assert status < 500, where
        return
    assert status == 403, where
    if api:
        assert headers["Content-Type"].startswith("application/json"), where
        assert f'"permission": "{rule}"' in text, where
    else:
        assert headers["Content-Type"].startswith("text/html"), where
    assert f"'{rule}' permission" in text and f"the {person.role} role" in text, where


async def _check_anonymous(served: Served, method: str, path: str) -> None:
    """Nobody signed in: 401 on the API, the login form for a page."""
    status, headers, text = await served.ask(method, concrete(path), **body_of(method, path))
    if path.startswith("/api/"):
        assert status == 401 and '"unauthorized"' in text, (method, path, status, text)
    else:
        assert status == 303 and headers["Location"].startswith("/login?next="), (method, path)


async def _check_open(served: Served, method: str, path: str) -> None:
    """A public route (or one that checks its own key) answers without anyone signed in."""
    status, headers, text = await served.ask(method, concrete(path), **body_of(method, path))
    assert not headers.get("Location", "").startswith("/login?next="), (method, path, status)
    assert status < 500 and status != 403, (method, path, status, text[:300])


async def test_a_path_of_no_route_is_404_only_to_someone_signed_in(served: Served) -> None:
    token = served.people[Role.AUDITOR].token
    status, _, text = await served.ask("GET", "/api/v1/nowhere")
    assert status == 401 and '"unauthorized"' in text
    status, _, text = await served.ask("GET", "/api/v1/nowhere", token=token)
    assert status == 404 and '"not found"' in text
    status, _, text = await served.ask("PUT", "/api/v1/captures", token=token)
    assert status == 405
    status, headers, _ = await served.ask("GET", "/nowhere")
    assert status == 303 and headers["Location"] == "/login?next=/nowhere"
    # Under the public folders a missing file is a plain 404: ReplayWeb.page asks for
    # paths there (on the replay origin, with no session) before its service worker does.
    for path in ("/replay/app/w/api/c/some-id?all=1", "/replay/files/x", "/static/nothing.css"):
        status, headers, _ = await served.ask("GET", path)
        assert status == 404 and "Location" not in headers, path
