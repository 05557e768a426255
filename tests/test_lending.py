"""Cookies lent across machines (team mode): sealed with the team's key, bound to their
capture, kept in the PostgreSQL catalog only while the capture is queued, taken once by
the claim, and refused at the door when the server has no key to seal them with.

The end-to-end path (a server process and a worker process, a page that sees the
cookies) is tests/test_team_handover.py; here each part on its own, against a real
PostgreSQL.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import psycopg
import pytest

from archive.catalog import Catalog, LendingNotShared, QueuedRequest, open_catalog
from archive.datadir import Archive
from archive.people import Directory, Principal
from archive.settings import load_settings
from capture.lending import (
    LENDING_KEY_ENV,
    NOT_IN_CATALOG,
    BadLendingKey,
    CookiesUnreadable,
    LendingKey,
    LendingKeyMissing,
    SealedLending,
    new_lending_key,
)
from capture.requests import AsSeenUpload, CaptureRequest
from capture.service import CaptureService
from capture.teamqueue.capture_job import _claim

COOKIES = [{"name": "session", "value": "lent-c00kie-value", "domain": "127.0.0.1", "path": "/"}]
SECRET = b"lent-c00kie-value"


def test_a_key_seals_cookies_for_one_capture_only() -> None:
    key = LendingKey.from_text(new_lending_key())
    sealed = key.seal("c-1", COOKIES)
    assert SECRET not in sealed and b"session" not in sealed
    assert key.open("c-1", sealed) == COOKIES
    assert key.seal("c-1", COOKIES) != sealed  # a fresh nonce each time
    with pytest.raises(CookiesUnreadable, match="capture c-2"):
        key.open("c-2", sealed)  # bound to its capture: not another's cookies
    with pytest.raises(CookiesUnreadable, match="same key"):
        LendingKey.from_text(new_lending_key()).open("c-1", sealed)
    changed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(CookiesUnreadable):
        key.open("c-1", changed)
    assert "lent" not in repr(key) and new_lending_key() not in repr(key)


def test_a_lending_key_is_32_bytes_of_base64url() -> None:
    text = new_lending_key()
    assert len(base64.urlsafe_b64decode(text + "=")) == 32 and "=" not in text
    LendingKey.from_text(text + "=")  # padded is read too
    for bad in ("", "short", text[:-4], text + "AAAA", "!" * 43):
        with pytest.raises(BadLendingKey, match="config lending-key"):
            LendingKey.from_text(bad)
    assert LendingKey.from_environ({}) is None
    assert LendingKey.from_environ({LENDING_KEY_ENV: " "}) is None
    with pytest.raises(BadLendingKey):
        LendingKey.from_environ({LENDING_KEY_ENV: "nope"})


def test_a_worker_without_the_key_says_why_it_captured_without_cookies() -> None:
    sealed = LendingKey.from_text(new_lending_key()).seal("c-1", COOKIES)
    keyless = SealedLending(None)
    keyless.received("c-1", sealed)
    assert keyless.take("c-1") is None
    assert LENDING_KEY_ENV in keyless.lost("c-1")
    other = SealedLending(LendingKey.from_text(new_lending_key()))
    other.received("c-1", sealed)
    assert other.take("c-1") is None and "same key" in other.lost("c-1")
    assert other.lost("c-1") == NOT_IN_CATALOG  # said once; then nothing more is known


def _queued(capture_id: str, sealed: bytes | None) -> QueuedRequest:
    url = f"https://example.org/{capture_id}"
    return QueuedRequest(capture_id, url, None, None, "amal", {}, lent_cookies=sealed)


def _lent_rows(url: str) -> list[tuple[str, bytes]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT capture_id, sealed FROM lent_cookies ORDER BY 1").fetchall()
    return [(row[0], bytes(row[1])) for row in rows]


def test_the_catalog_keeps_sealed_cookies_while_queued_and_the_claim_takes_them_once(
    postgres_url: str,
) -> None:
    key = LendingKey.from_text(new_lending_key())
    with open_catalog(postgres_url) as catalog:
        sealed = key.seal("c-1", COOKIES)
        catalog.enqueue_captures([_queued("c-1", sealed), _queued("c-2", None)])
        assert _lent_rows(postgres_url) == [("c-1", sealed)]
        # A second request for the same URL is not queued, and lends nothing.
        (row, created), = catalog.enqueue_captures(
            [QueuedRequest("c-3", "https://example.org/c-1", None, None, None, {},
                           lent_cookies=key.seal("c-3", COOKIES))]
        )  # fmt: skip
        assert not created and row.id == "c-1" and len(_lent_rows(postgres_url)) == 1
        claimed, taken = _claim(catalog, "c-1")
        assert claimed is not None and claimed.status == "running" and taken == sealed
        assert _lent_rows(postgres_url) == []  # from the moment it runs: gone
        assert key.open("c-1", taken) == COOKIES
        assert catalog.take_lent_cookies("c-1") is None  # once
        assert _claim(catalog, "c-2") == (catalog.get_capture("c-2"), None)


def test_cookies_of_a_capture_that_ended_unclaimed_are_swept(postgres_url: str) -> None:
    key = LendingKey.from_text(new_lending_key())
    with open_catalog(postgres_url) as catalog:
        catalog.enqueue_captures([_queued("c-1", key.seal("c-1", COOKIES))])
        catalog.enqueue_captures([_queued("c-2", key.seal("c-2", COOKIES))])
        assert catalog.drop_unclaimed_cookies() == 0
        catalog.fail_capture("c-1", reasons=["cancelled"], finished_at="2026-01-01T00:00:00Z")
        assert catalog.drop_unclaimed_cookies() == 1
        assert [row[0] for row in _lent_rows(postgres_url)] == ["c-2"]
        assert catalog.drop_lent_cookies("c-2") and not catalog.drop_lent_cookies("c-2")


def test_an_embedded_catalog_keeps_no_cookies(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog:
        with pytest.raises(LendingNotShared):
            catalog.enqueue_captures([_queued("c-1", b"\x01sealed")])
        assert catalog.list_captures() == []
        with pytest.raises(LendingNotShared):
            catalog.take_lent_cookies("c-1")
        assert catalog.drop_unclaimed_cookies() == 0


def _investigator(service: CaptureService) -> Principal:
    """The person the service queues for (every request has one)."""
    directory = Directory(service.archive.catalog)
    directory.add_user("amal", "investigator")
    return directory.principal("amal", "laptop")


def _team_archive_settings(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("OSINT_CAPTURE_CATALOG", url)
    monkeypatch.setenv("OSINT_CAPTURE_QUEUE", "postgresql")


async def test_a_team_server_without_the_key_refuses_lent_cookies_and_keeps_nothing(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _team_archive_settings(monkeypatch, postgres_url)
    monkeypatch.delenv(LENDING_KEY_ENV, raising=False)
    service = CaptureService(tmp_path / "data", workers=0)
    await service.start()
    try:
        amal = _investigator(service)
        upload = AsSeenUpload(dom_html="<p>seen</p>", cookies=COOKIES)
        with pytest.raises(LendingKeyMissing, match=LENDING_KEY_ENV) as refused:
            await service.submit(amal, CaptureRequest("https://example.org/members"), upload)
        assert refused.value.http_status == 409 and refused.value.exit_code == 1
        assert await service.captures(amal) == []
        assert not list((tmp_path / "data").glob("incoming/*")), "nothing was staged"
        # Without cookies the same request is queued as ever.
        row, created = await service.submit(
            amal, CaptureRequest("https://example.org/members"), AsSeenUpload(dom_html="<p>x</p>")
        )
        assert created and row.status == "queued"
    finally:
        await service.stop()


async def test_a_team_server_with_the_key_queues_the_cookies_sealed(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _team_archive_settings(monkeypatch, postgres_url)
    key = new_lending_key()
    monkeypatch.setenv(LENDING_KEY_ENV, key)
    service = CaptureService(tmp_path / "data", workers=0)
    await service.start()
    try:
        upload = AsSeenUpload(cookies=COOKIES)
        row, created = await service.submit(
            _investigator(service), CaptureRequest("https://example.org/m"), upload
        )
    finally:
        await service.stop()
    assert created
    ((capture_id, sealed),) = _lent_rows(postgres_url)
    assert capture_id == row.id and SECRET not in sealed
    assert json.loads(json.dumps(row.request))["as_seen"]["cookies_sent"] is True
    assert SECRET.decode() not in json.dumps(row.request)
    # The worker's side: the claim takes them; its lending opens them for that capture.
    settings = load_settings(tmp_path / "data")
    with Archive.open(tmp_path / "data", settings=settings) as archive:
        claimed, taken = _claim(archive.catalog, row.id)
    assert claimed is not None and taken == sealed
    worker = SealedLending(LendingKey.from_text(key))
    worker.received(row.id, taken)
    assert worker.take(row.id) == COOKIES and worker.take(row.id) is None
