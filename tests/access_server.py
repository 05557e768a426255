"""The application in this process over a real archive, on a loopback port, and a
client that signs in as a person (tests/test_access_matrix.py, tests/test_login.py).

The real app from :func:`capture.server.make_app` over a real :class:`CaptureService`
(no capture workers: nothing here needs a browser), served by aiohttp's test server so
a test can stop it and start another over the same data directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from archive.people import Directory, Role
from capture.server import ServerSettings, make_app
from capture.server.keys import ACCESS
from capture.server.oidc_client import OidcSettings
from capture.server.security import allowed_hosts
from capture.server.sessions import COOKIE
from capture.service import CaptureService

PASSWORD = "convoy checkpoint dawn"


@dataclass
class Person:
    name: str
    role: Role
    token: str
    cookie: str = ""


@dataclass
class Served:
    """The application on a port, its people, and a way to ask it things."""

    data: Path
    port: int
    server: TestServer
    service: CaptureService
    people: dict[Role, Person] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def directory(self) -> Directory:
        return Directory(self.service.archive.catalog)

    async def ask(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        cookie: str | None = None,
        **kwargs: Any,
    ) -> tuple[int, dict[str, str], str]:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        if method not in ("GET", "HEAD"):
            headers.setdefault("Origin", self.base)  # the dashboard's own forms
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                self.base + path,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=30),
                **kwargs,
            ) as response,
        ):
            return response.status, dict(response.headers), await response.text()

    async def log_in(self, **form: str) -> tuple[int, str | None, str]:
        """POST the login form; the status, the session id it set (if any), the page."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.base + "/login",
                data={"next": "/", **form},
                headers={"Origin": self.base},
                allow_redirects=False,
            ) as response,
        ):
            morsel = response.cookies.get(COOKIE)
            return response.status, morsel.value if morsel else None, await response.text()


async def serve(
    data: Path, port: int, *, logins_a_minute: int = 1000, oidc: OidcSettings | None = None
) -> Served:
    """The app over ``data`` on ``port``, started (the owner made on a first start).
    Tests log in more often than a person: the per-address limit is raised unless a
    test is about it."""
    service = CaptureService(data, workers=0, analysis_workers=0)
    app = make_app(service, ServerSettings(hosts=allowed_hosts("127.0.0.1", port), oidc=oidc))
    app[ACCESS].throttle.attempts = logins_a_minute
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return Served(data, port, server, service)


def add_people(served: Served) -> None:
    """One person of each role, ``ROLE-one``, with a password and a token."""
    directory = served.directory
    for role in Role:
        name = f"{role.value}-one"
        directory.add_user(name, role, password=PASSWORD, by="test")
        _, token = directory.create_token(name, "matrix")
        served.people[role] = Person(name, role, token)
