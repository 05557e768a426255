"""Cases are the unit of access, end to end: the real server (`osint-capture serve`), real
captures by two investigators in two cases, a reviewer of one of them and an auditor,
each with their own token (and a dashboard session made from it).

Each sees only their case's evidence through the API, the dashboard, search, the alert
badge, replay and export; another case's capture answers 403 naming the permission
(404 is kept for ids that name nothing); and the custody log names the person and the
device of every capture, run and export, and the access log who opened what.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from archive.catalog import CATALOG_NAME, Catalog
from archive.people import Directory
from capture.server.sessions import COOKIE
from tests.changing import ChangingPage
from tests.server import CLI, RunningServer
from tests.site import TestSite

#: A word of /gzip's text (amira's capture) that no other page captured here holds.
AMIRA_WORD = "decoded"
#: A word of /arabic's sentence (omar's capture).
OMAR_WORD = "الشاهد"
WAIT = 120.0


@dataclass
class Person:
    name: str
    role: str
    device: str
    token: str = ""
    cookie: str = ""


@dataclass
class World:
    server: RunningServer
    people: dict[str, Person]
    #: Each investigator's capture, and their watched target's id and page.
    captures: dict[str, str] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    pages: dict[str, ChangingPage] = field(default_factory=dict)

    async def ask(
        self, who: str | None, method: str, path: str, *, session: bool = False, **kwargs: Any
    ) -> tuple[int, dict[str, str], Any]:
        """``who``'s request: with their token (the API), or their dashboard session."""
        headers = dict(kwargs.pop("headers", {}))
        if who is not None and session:
            headers["Cookie"] = f"{COOKIE}={self.people[who].cookie}"
            if method not in ("GET", "HEAD"):
                headers["Origin"] = self.server.base  # the dashboard's own forms
        elif who is not None:
            headers["Authorization"] = f"Bearer {self.people[who].token}"
        base = kwargs.pop("base", self.server.base)
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                base + path,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=WAIT),
                **kwargs,
            ) as response,
        ):
            body = await response.read()
            try:
                parsed: Any = json.loads(body)
            except ValueError:
                parsed = body
            return response.status, dict(response.headers), parsed

    async def page(self, who: str, path: str) -> tuple[int, str]:
        status, _, body = await self.ask(who, "GET", path, session=True)
        return status, body.decode() if isinstance(body, bytes) else json.dumps(body)


PEOPLE = (
    Person("amira", "investigator", "amira-laptop"),
    Person("omar", "investigator", "omar-phone"),
    Person("rana", "reviewer", "rana-laptop"),
    Person("sami", "auditor", "sami-desk"),
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(tmp_path_factory: pytest.TempPathFactory, site: TestSite) -> AsyncIterator[World]:
    """The server with its owner, then four people with their tokens and sessions; amira
    captures into (and so makes) case aleppo, omar into mosul; rana joins aleppo; each
    investigator watches a page of their own."""
    server = RunningServer(tmp_path_factory.mktemp("isolation") / "data", workers=2)
    async with AsyncExitStack() as stack:
        await server.start()
        stack.push_async_callback(server.stop)
        world = World(server, {person.name: person for person in PEOPLE})
        with Catalog.open(server.data / CATALOG_NAME) as catalog:
            directory = Directory(catalog)
            for person in world.people.values():
                directory.add_user(person.name, person.role, by="test")
                person.token = directory.create_token(person.name, person.device)[1]
        for person in world.people.values():
            person.cookie = await _log_in(server, person.token)
        for name, path, case in (("amira", "/gzip", "aleppo"), ("omar", "/arabic", "mosul")):
            status, _, body = await world.ask(
                name, "POST", "/api/v1/captures", json={"url": site.url(path), "case": case}
            )
            assert status == 202, body
            world.captures[name] = body["id"]
        for name, capture_id in world.captures.items():
            row = await _finished(world, name, capture_id)
            assert row["status"] == "complete", row
        with Catalog.open(server.data / CATALOG_NAME) as catalog:
            # An admin's doing (`osint-capture case add-member aleppo rana`).
            assert catalog.add_member("aleppo", "rana", added_by=server_owner(catalog))
        for name, case in (("amira", "aleppo"), ("omar", "mosul")):
            page = await stack.enter_async_context(ChangingPage())
            world.pages[name] = page
            status, _, added = await world.ask(
                name,
                "POST",
                "/api/v1/targets",
                json={"url": page.url(), "every": "1s", "allow_fast": True, "case": case},
            )
            assert status == 201, added
            world.targets[name] = added["id"]
        for name, target_id in world.targets.items():
            await _poll(partial(_first_run, world, name, target_id), what=f"{name}'s first run")
            status, _, _ = await world.ask(name, "POST", f"/api/v1/targets/{target_id}/pause")
            assert status == 200  # one run is enough: the alert test resumes one
        yield world


async def _first_run(world: World, who: str, target_id: int) -> bool:
    status, _, target = await world.ask(who, "GET", f"/api/v1/targets/{target_id}")
    assert status == 200, target
    return bool(target["timeline"])


async def _log_in(server: RunningServer, token: str) -> str:
    """A dashboard session from the login form, given the person's token."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base + "/login",
            data={"token": token, "next": "/"},
            headers={"Origin": server.base},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303, await response.text()
        return response.cookies[COOKIE].value


def server_owner(catalog: Catalog) -> str:
    return next(user.name for user in catalog.users() if user.role == "admin")


async def _finished(world: World, who: str, capture_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        status, _, row = await world.ask(who, "GET", f"/api/v1/captures/{capture_id}")
        assert status == 200, row
        return row if row["status"] in ("complete", "partial", "failed") else None

    return await _poll(done, what=f"capture {capture_id} to finish")


async def _poll(check: Callable[[], Awaitable[Any]], *, what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {WAIT:g} s waiting for {what}")


def _custody(world: World) -> list[dict[str, Any]]:
    lines = (world.server.data / "custody.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# -- the API -------------------------------------------------------------------------------


async def test_each_person_lists_only_their_cases_captures(world: World) -> None:
    amira, omar = world.captures["amira"], world.captures["omar"]
    seen = {}
    for name in ("amira", "omar", "rana"):
        status, _, body = await world.ask(name, "GET", "/api/v1/captures")
        assert status == 200, body
        seen[name] = {row["id"] for row in body["captures"]}
    assert amira in seen["amira"] and omar not in seen["amira"]
    assert omar in seen["omar"] and amira not in seen["omar"]
    assert amira in seen["rana"] and omar not in seen["rana"]  # a reviewer of aleppo
    status, _, body = await world.ask("sami", "GET", "/api/v1/captures")
    assert status == 403 and body["permission"] == "read-evidence", body
    status, _, body = await world.ask("amira", "GET", "/api/v1/cases")
    assert status == 200
    member = {case["name"]: case["member"] for case in body["cases"]}
    assert member["aleppo"] is True and member["mosul"] is False  # names only, for all


async def test_another_cases_capture_answers_403_naming_the_permission(world: World) -> None:
    omar = world.captures["omar"]
    for path in (
        f"/api/v1/captures/{omar}",
        f"/api/v1/captures/{omar}/files/manifest.json",
        f"/api/v1/captures/{omar}/events",
        f"/api/v1/captures/{omar}/analyses",
    ):
        status, _, body = await world.ask("amira", "GET", path)
        assert status == 403, (path, body)
        assert body["permission"] == "read-evidence" and "not a member" in body["detail"], body
    status, _, body = await world.ask("amira", "GET", "/api/v1/captures", params={"case": "mosul"})
    assert status == 403 and body["permission"] == "read-evidence", body
    status, _, body = await world.ask(
        "amira", "POST", "/api/v1/captures", json={"url": "https://example.org/", "case": "mosul"}
    )
    assert status == 403 and body["permission"] == "capture", body
    status, _, body = await world.ask("amira", "GET", "/api/v1/captures/no-such-capture")
    assert status == 404, body  # nothing there: not a refusal
    status, _, body = await world.ask("omar", "GET", f"/api/v1/captures/{omar}/files/manifest.json")
    assert status == 200 and body["case"] == "mosul"  # the manifest, as JSON


# -- alerts and targets --------------------------------------------------------------------


async def test_the_alert_badge_counts_only_the_persons_targets(world: World) -> None:
    mine = world.targets
    for name in ("amira", "omar"):
        status, _, body = await world.ask(name, "GET", "/api/v1/targets")
        assert [t["id"] for t in body["targets"]] == [mine[name]], body
    status, _, body = await world.ask("amira", "GET", f"/api/v1/targets/{mine['omar']}")
    assert status == 403 and body["permission"] == "read-evidence", body
    status, _, body = await world.ask("rana", "POST", f"/api/v1/targets/{mine['amira']}/pause")
    assert status == 403 and body["permission"] == "watch", body  # a reviewer watches nothing

    world.pages["omar"].take_down("404")  # after its first run: the next one is a takedown
    status, _, _ = await world.ask("omar", "POST", f"/api/v1/targets/{mine['omar']}/resume")
    assert status == 200

    async def omar_alerted() -> dict[str, Any] | None:
        _, _, body = await world.ask("omar", "GET", "/api/v1/alerts")
        return body if body["count"] else None

    omar_alerts = await _poll(omar_alerted, what="omar's takedown alert")
    assert {a["target_id"] for a in omar_alerts["alerts"]} == {mine["omar"]}
    for name in ("amira", "rana"):
        status, _, body = await world.ask(name, "GET", "/api/v1/alerts")
        assert status == 200 and body["count"] == 0 and body["alerts"] == [], (name, body)
    status, _, body = await world.ask("sami", "GET", "/api/v1/alerts")
    assert status == 403 and body["permission"] == "read-evidence"
    status, _, _ = await world.ask("omar", "POST", f"/api/v1/targets/{mine['omar']}/pause")
    assert status == 200


# -- the dashboard, search, replay and export -------------------------------------------------


async def test_the_dashboard_shows_each_person_their_own(world: World) -> None:
    amira, omar = world.captures["amira"], world.captures["omar"]
    status, index = await world.page("amira", "/")
    assert status == 200 and "/cases/aleppo" in index and "mosul" not in index
    assert omar not in index
    status, case = await world.page("amira", "/cases/aleppo")
    assert status == 200 and amira in case and omar not in case
    status, text = await world.page("amira", f"/captures/{omar}")
    assert status == 403 and "&#39;read-evidence&#39; permission" in text, text[:2000]
    status, text = await world.page("amira", "/cases/mosul")
    assert status == 403, text[:2000]
    status, text = await world.page("amira", "/targets")
    assert status == 200 and f"/targets/{world.targets['omar']}" not in text
    assert f"/targets/{world.targets['amira']}" in text
    status, index = await world.page("sami", "/")  # an auditor lists cases, no evidence
    assert status == 200 and amira not in index and omar not in index


async def test_search_finds_only_the_persons_evidence(world: World) -> None:
    amira, omar = world.captures["amira"], world.captures["omar"]
    _, found = await world.page("amira", f"/search?q={AMIRA_WORD}")
    assert f"/captures/{amira}" in found
    _, found = await world.page("omar", f"/search?q={AMIRA_WORD}")
    assert f"/captures/{amira}" not in found  # the word is there, in another case
    _, found = await world.page("omar", f"/search?q={OMAR_WORD}")
    assert f"/captures/{omar}" in found
    _, found = await world.page("rana", f"/search?q={OMAR_WORD}")
    assert f"/captures/{omar}" not in found
    status, _ = await world.page("sami", f"/search?q={AMIRA_WORD}")
    assert status == 403


async def test_replay_opens_for_its_person_only(world: World) -> None:
    omar = world.captures["omar"]
    status, text = await world.page("amira", f"/replay/{omar}")
    assert status == 403, text[:2000]
    status, text = await world.page("omar", f"/replay/{omar}")
    assert status == 200
    found = re.search(r'(/replay/files/[^"\s]+\.wacz\?[^"\s]+)', text)
    assert found is not None, text[:3000]
    source = html.unescape(found.group(1))
    assert source.endswith(b"omar".hex())  # the key names its person
    replay = f"http://localhost:{world.server.port}"
    status, _, wacz = await world.ask(None, "GET", source, base=replay)
    assert status == 200 and wacz[:2] == b"PK"
    passed_on = source.replace(b"omar".hex(), b"amira".hex())  # omar's key, named amira's
    status, _, _ = await world.ask(None, "GET", passed_on, base=replay)
    assert status == 404  # the key is omar's: passed on, it opens nothing
    with Catalog.open(world.server.data / CATALOG_NAME) as catalog:
        assert catalog.remove_member("mosul", "omar")
    try:
        status, _, body = await world.ask(None, "GET", source, base=replay)
        assert status == 403, body  # out of the case: his key no longer opens it
    finally:
        with Catalog.open(world.server.data / CATALOG_NAME) as catalog:
            catalog.add_member("mosul", "omar", added_by="test")


async def test_export_is_the_persons_and_custody_names_them(world: World) -> None:
    amira, omar = world.captures["amira"], world.captures["omar"]
    status, _, body = await world.ask(
        "amira", "POST", f"/captures/{omar}/export", session=True, data={"operator": "a label"}
    )
    assert status == 403, body[:2000]
    status, headers, package = await world.ask(
        "rana", "POST", f"/captures/{amira}/export", session=True, data={"operator": "a label"}
    )
    assert status == 200 and package[:2] == b"PK", package[:2000]
    exported = [e for e in _custody(world) if e["action"] == "exported"]
    assert len(exported) == 1, exported  # amira's refusal exported nothing
    assert exported[0]["actor"] == "rana" and exported[0]["captures"] == [amira]
    assert exported[0]["details"]["device"] == "dashboard"
    assert exported[0]["details"]["operator"] == "a label"
    assert exported[0]["details"]["sha256"] == headers["X-Content-SHA256"]


async def test_custody_names_the_person_and_device_of_every_capture(world: World) -> None:
    async def sealed_runs() -> bool:
        runs = {e["details"].get("target_id") for e in _custody(world)}
        return set(world.targets.values()) <= runs

    await _poll(sealed_runs, what="a sealed run of each target")
    events = _custody(world)
    for name in ("amira", "omar"):
        person = world.people[name]
        [sealed] = [
            e
            for e in events
            if e["action"] == "captured" and e["captures"] == [world.captures[name]]
        ]
        assert sealed["actor"] == name and sealed["details"]["device"] == person.device
        runs = [
            e
            for e in events
            if e["action"] == "re-captured" and e["details"]["target_id"] == world.targets[name]
        ]
        assert runs and all(e["actor"] == name for e in runs), runs
        assert all(e["details"]["device"] == person.device for e in runs)
    made = [e for e in events if e["action"] == "case-created"]
    assert sorted((e["actor"], tuple(e["details"]["members"])) for e in made) == [
        ("amira", ("amira",)),
        ("omar", ("omar",)),
    ]
    assert all("aleppo" not in json.dumps(e) and "mosul" not in json.dumps(e) for e in made)


async def test_the_access_log_names_who_opened_what_and_no_refusal(world: World) -> None:
    amira, omar = world.captures["amira"], world.captures["omar"]
    status, _ = await world.page("amira", f"/captures/{amira}")
    assert status == 200
    process = await asyncio.create_subprocess_exec(
        CLI,
        "access-log",
        "--data",
        str(world.server.data),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    seen = {(a["user"], a["action"], tuple(a["captures"]), a["device"]) for a in json.loads(out)}
    assert ("amira", "viewed", (amira,), "dashboard") in seen
    assert ("omar", "downloaded", (omar,), "omar-phone") in seen
    assert ("omar", "replayed", (omar,), "dashboard") in seen
    assert ("rana", "exported", (amira,), "dashboard") in seen
    # Every refusal was before anything was shown: none of them is in the log.
    assert not [entry for entry in seen if entry[0] == "amira" and omar in entry[2]]
    assert not [entry for entry in seen if entry[0] == "sami"]
