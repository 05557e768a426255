"""What crosses from the serving machine to the capturing one in team mode, with real
processes: an ``osint-capture serve`` that only enqueues and an ``osint-capture worker``
with a data directory of its own (another machine's disk), on one PostgreSQL and one
Object-Locked bucket (SeaweedFS).

One request from the extension carries it all: cookies lent for the capture (the test
site's members page opens only with them), the investigator's own screenshot and DOM,
and a follower of the capture's event stream on the server. The capture is queued before
the worker starts, so what waits for it can be looked at: the cookies in the catalog
sealed (never in the clear), the as-seen files staged in the bucket unlocked. Then the
worker runs it, and the server's stream shows each stage it enters.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from archive.datadir import Archive
from archive.settings import load_settings
from capture.lending import LENDING_KEY_ENV, new_lending_key
from tests.pgcluster import pg_bin
from tests.seaweed import Seaweed, use_bucket
from tests.site import MEMBERS_COOKIE, TestSite, png_bytes
from tests.test_team_workers import TeamServer, Worker
from tests.warcs import read_records

pytestmark = pytest.mark.slow

DOM = "<!doctype html><html><body><p>AS-SEEN-DOM-MARKER شاهد</p></body></html>"
#: The stages the worker's pipeline enters for this page, in order (docs/api.md).
WORKER_STAGES = ["prepare", "browser", "load", "behaviours", "cut", "derived", "as-seen"]


async def test_cookies_as_seen_files_and_stages_cross_to_a_worker_on_another_machine(
    tmp_path: Path,
    postgres_url: str,
    seaweed: Seaweed,
    site: TestSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = use_bucket(monkeypatch, seaweed)
    monkeypatch.setenv(LENDING_KEY_ENV, new_lending_key())  # every process gets the key
    config = tmp_path / "team.toml"
    config.write_text(f'catalog = "{postgres_url}"\nstore = "{store}"\nqueue = "postgresql"\n')
    server = TeamServer(tmp_path / "server", extra_args=("--config", str(config)))
    worker = Worker(tmp_path / "worker", config, "w")
    witness = f"witness-{uuid.uuid4().hex}"
    png = png_bytes(40, 30, (200, 10, 10))
    try:
        await server.start()
        capture_id = await _submit(server, site.url("/members"), png, witness)
        bucket = store.removeprefix("s3://").split("/")[0]
        _check_waiting(postgres_url, seaweed, bucket, capture_id, witness, server.data)
        following = asyncio.create_task(_events(server, capture_id))
        await worker.start()
        events = await asyncio.wait_for(following, 120)
        assert await worker.stop() == 0, worker.log.read_text()
    finally:
        await worker.stop()
        await server.stop()
    stages = [data["stage"] for kind, data in events if kind == "state"]
    assert stages[0] == "queued" and stages[1:8] == WORKER_STAGES, stages
    assert "seal" in stages and stages[-1] == "done", stages
    assert events[-1][0] == "done" and events[-1][1]["status"] == "complete", events[-1]
    assert any(kind == "resource" for kind, _ in events), "no resource event was relayed"
    _check_sealed(tmp_path, config, capture_id, png)
    _check_nothing_left(postgres_url, seaweed, bucket, capture_id, witness, tmp_path)


async def _submit(server: TeamServer, url: str, png: bytes, witness: str) -> str:
    cookies = [
        {"name": "session", "value": MEMBERS_COOKIE, "domain": "127.0.0.1", "path": "/"},
        {"name": "witness", "value": witness, "domain": "127.0.0.1", "path": "/"},
    ]
    status, _, body = await server.request(
        "POST",
        "/api/v1/captures",
        json={
            "url": url,
            "operator": "amal",
            "as_seen": {
                "screenshot": "data:image/png;base64," + base64.b64encode(png).decode(),
                "dom": DOM,
                "url": url,
                "title": "Members",
                "cookies": cookies,
            },
        },
    )
    assert status == 202, body
    return str(body["id"])


def _check_waiting(
    url: str, seaweed: Seaweed, bucket: str, capture_id: str, witness: str, server_data: Path
) -> None:
    """Queued, before any worker: the cookies sealed in the catalog, the as-seen files
    in the bucket (unlocked: not evidence), nothing of them left on the server's disk."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT capture_id, sealed FROM lent_cookies").fetchall()
    assert [row[0] for row in rows] == [capture_id]
    sealed = bytes(rows[0][1])
    assert witness.encode() not in sealed and MEMBERS_COOKIE.encode() not in sealed
    client = seaweed.client()
    for name in ("as-seen-view.png", "as-seen-dom.html"):
        key = f"unit/incoming/{capture_id}/{name}"
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head.get("ObjectLockMode") is None and head["ChecksumSHA256"], (key, head)
    assert not list(server_data.glob(f"incoming/{capture_id}/*"))


async def _events(server: TeamServer, capture_id: str) -> list[tuple[str, dict[str, Any]]]:
    seen = []
    async for kind, data in server.events(capture_id):
        seen.append((kind, data))
        if kind in ("done", "failed"):
            break
    return seen


def _check_sealed(tmp_path: Path, config: Path, capture_id: str, png: bytes) -> None:
    """Sealed by the worker: the page behind the login, and the as-seen records with the
    very bytes the server received, read back from the bucket."""
    data = tmp_path / "reader"
    with Archive.open(data, settings=load_settings(data, config_file=config)) as archive:
        row = archive.catalog.get_capture(capture_id)
        assert row is not None and row.status == "complete" and row.reasons == [], row
        with archive.store.open_sealed(capture_id, "manifest.json") as fh:
            manifest = json.loads(fh.read())
        warc = archive.store.local_path(capture_id, manifest["warc"])
        records = {r.uri: r for r in read_records(warc) if r.uri}
    text = next(r for uri, r in records.items() if uri.startswith("urn:text:"))
    assert "MEMBERS-ONLY-MARKER" in text.payload.decode(), "the lent cookie did not open it"
    page = next(uri for uri in records if uri.startswith("urn:as-seen:view:"))
    assert records[page].payload == png and records[page].header("X-Osint-Provided-By")
    dom = next(uri for uri in records if uri.startswith("urn:as-seen:dom:"))
    assert records[dom].payload == DOM.encode()
    assert manifest["extra"]["as_seen"]["cookies_lent"] == 2


def _check_nothing_left(
    url: str, seaweed: Seaweed, bucket: str, capture_id: str, witness: str, tmp_path: Path
) -> None:
    """No cookie anywhere in the database (pg_dump of every table, the job queue's too),
    no staged object in the bucket, no staged file on either machine's disk."""
    dump = subprocess.run(
        [str(pg_bin() / "pg_dump"), "--data-only", url], capture_output=True, check=True
    ).stdout
    assert capture_id.encode() in dump, "the dump holds the catalog"
    assert witness.encode() not in dump and MEMBERS_COOKIE.encode() not in dump
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM lent_cookies").fetchone() == (0,)
    listed = seaweed.client().list_object_versions(Bucket=bucket, Prefix="unit/incoming/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers"), listed
    for machine in ("server", "worker"):
        assert not list((tmp_path / machine).glob(f"incoming/{capture_id}*")), machine
