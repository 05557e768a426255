"""A real OpenID Connect provider for the tests: the certified ``oidc-provider`` on Node.js
(tests/oidc/provider.mjs, installed by scripts/ensure-oidc-provider), on a free loopback
port, with one confidential client and the accounts a test gives it.

Its development login pages take an account id (any password) and then ask for consent:
a test's browser or HTTP client goes through them as a person would, and gets real
authorization codes and real signed ID tokens. Stopped by its PID at the end.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from tests.pgcluster import free_port

HERE = Path(__file__).with_name("oidc")
START_TIMEOUT = 30


@dataclass(frozen=True)
class OidcProvider:
    """A running provider: its issuer URL and the client the server under test is."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@contextmanager
def oidc_provider(redirect_uri: str, accounts: dict[str, dict[str, Any]]) -> Iterator[OidcProvider]:
    """Start a provider whose one client redirects to ``redirect_uri``; ``accounts`` maps
    each account id to its claims (``email``, ``groups``, ``preferred_username``...)."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the OIDC provider is not installed: run scripts/ensure-oidc-provider")
    port = free_port()
    provider = OidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        client_id="osint-capture-test",
        client_secret=secrets.token_urlsafe(24),
        redirect_uri=redirect_uri,
    )
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": provider.client_id,
        "CLIENT_SECRET": provider.client_secret,
        "REDIRECT_URI": redirect_uri,
        "ACCOUNTS": json.dumps(accounts),
    }
    process = subprocess.Popen(
        [node, str(HERE / "provider.mjs")],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_up(provider.issuer, process)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_up(issuer: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    url = issuer + "/.well-known/openid-configuration"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"the OIDC provider exited ({process.returncode}): {err[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if json.load(response).get("issuer") == issuer:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the OIDC provider did not answer at {url} in {START_TIMEOUT} s")


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


async def provider_login(
    http: aiohttp.ClientSession, url: str, account: str, *, stop_at: str
) -> str:
    """Go through the provider's login and consent pages as ``account``, from the
    authorization ``url`` until a redirect to ``stop_at`` (the server's callback), and
    return that redirect's URL. ``http`` keeps the provider's cookies
    (``CookieJar(unsafe=True)``: its host is an IP address)."""
    for _ in range(20):
        async with http.get(url, allow_redirects=False) as response:
            if response.status in (302, 303):
                url = str(response.url.join(URL(response.headers["Location"])))
                if url.startswith(stop_at):
                    return url
                continue
            page = await response.text()
            if response.status != 200:
                raise AssertionError(f"the provider answered {response.status}: {page[:500]}")
        action, fields = _first_form(page)
        if "login" in fields:
            fields.update(login=account, password="any password: dev pages take any")
        async with http.post(
            str(response.url.join(URL(action))), data=fields, allow_redirects=False
        ) as posted:
            if posted.status not in (302, 303):
                raise AssertionError(f"{action}: {posted.status} {(await posted.text())[:500]}")
            url = str(posted.url.join(URL(posted.headers["Location"])))
            if url.startswith(stop_at):
                return url
    raise AssertionError("the provider never sent the browser back")


def _first_form(page: str) -> tuple[str, dict[str, str]]:
    found = _FORM.search(page)
    if found is None:
        raise AssertionError(f"no form on the provider's page: {page[:500]}")
    action, body = found.groups()
    fields = {}
    for attributes in _INPUT.findall(body):
        named = dict(_ATTRIBUTE.findall(attributes))
        if "name" in named:
            fields[named["name"]] = html.unescape(named.get("value", ""))
    return html.unescape(action), fields
