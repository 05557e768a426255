"""HTTPS: WARC-Protocol carries the TLS version and each origin's certificate chain is kept."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.site import png_bytes
from tests.warcs import read_records, warcio_check

PAGE = b"<!doctype html><title>TLS page</title><p>TLS-MARKER</p><img src='/dot.png'>"


def make_certificate(directory: Path) -> tuple[Path, Path, str]:
    """A throwaway self-signed certificate for 127.0.0.1 and its SPKI hash (base64 SHA-256)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=osint-capture test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    spki = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"],
        input=der,
        capture_output=True,
        check=True,
    ).stdout
    spki_der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=spki,
        capture_output=True,
        check=True,
    ).stdout
    return cert, key, base64.b64encode(hashlib.sha256(spki_der).digest()).decode()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tls_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str, str]]:
    cert, key, spki = make_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def dot(request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(4, 4, (1, 2, 3)), content_type="image/png")

    app.router.add_get("/", page)
    app.router.add_get("/dot.png", dot)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}", spki, cert.read_text()
    await runner.cleanup()


async def test_https_capture_records_tls_protocol_and_the_certificate_chain(
    tls_site: tuple[str, str, str], tmp_path: Path
) -> None:
    origin, spki, cert_pem = tls_site
    # Trust exactly this throwaway certificate, nothing else.
    browser = await Browser.launch(extra_args=(f"--ignore-certificate-errors-spki-list={spki}",))
    try:
        manifest = await capture_into(
            CaptureRequest(origin + "/", timeout=30), tmp_path, browser=browser
        )
    finally:
        await browser.close()
    assert manifest.status == "complete", manifest.reasons
    warc = tmp_path / "captures" / manifest.id / manifest.warc
    assert warcio_check(warc).returncode == 0
    records = read_records(warc)

    page = next(r for r in records if r.type == "response" and r.uri == origin + "/")
    protocols = page.headers["warc-protocol"]
    assert protocols[0] == "http/1.1" and protocols[1].startswith("tls/1.")
    assert page.header("WARC-IP-Address") == "127.0.0.1"

    metadata = [r for r in records if r.type == "metadata" and r.uri == origin + "/"]
    assert len(metadata) == 1, "one TLS metadata record per origin"
    info = json.loads(metadata[0].payload)
    assert info["origin"] == origin
    assert info["security_details"]["protocol"].startswith("TLS 1.")
    assert info["security_details"]["subjectName"] == "osint-capture test"
    chain = info["certificate_chain_pem"]
    assert chain, info.get("certificate_error")
    served = ssl.PEM_cert_to_DER_cert(cert_pem)
    assert ssl.PEM_cert_to_DER_cert(chain[0]) == served
