"""The signed WACZ export, made from real captures and checked with other people's tools.

Two captures of the local test site (one with a time-stamp token from the local
TSA) are exported once for the module; the tests then check the file the way a
recipient would: ``wacz validate``, ``unzip`` + ``sha256sum -c``, the signature
with the installation's key, ``openssl ts -verify``, the snippets of VERIFY.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import stat
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.custody import canonical_json
from archive.evidence.signing import SigningKey, signature_from_b64, verify_signature
from archive.evidence.trustedtime import TimestampConfig
from archive.hashing import sha256_file
from archive.wacz.export import export_wacz
from archive.wacz.export_types import ExportError, ExportResult
from archive.wacz.report import CaptureFacts, PackagedFile, read_warc_facts
from archive.wacz.report_view import render_report
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.exports import export_stamped
from tests.site import TestSite
from tests.tsa import TestTSA

HOSTILE_NOTE = "<script>alert('note')</script> & more"


@dataclass
class Exported:
    data: Path
    result: ExportResult
    unpacked: Path
    rich: dict
    gzip: dict
    key: SigningKey
    tsa_root: Path
    #: What the PDF renderer saw: whether every image of the report loaded.
    images_loaded: list[bool]


async def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *map(str, args),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode("utf-8", "replace")


def chromium_pdf_renderer(browser: Browser, loop: asyncio.AbstractEventLoop, seen: list[bool]):
    """What the CLI will pass: print the report with Chromium (called from the export's thread)."""

    def render(html_path: Path, pdf_path: Path) -> None:
        async def go() -> None:
            context = await browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(html_path.as_uri())
                seen.append(
                    await page.evaluate(
                        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
                    )
                )
                await page.pdf(path=str(pdf_path), print_background=False)
            finally:
                await context.close()

        asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=60)

    return render


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def exported(
    site: TestSite, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Exported]:
    data = tmp_path_factory.mktemp("export-data")
    async with TestTSA(tmp_path_factory.mktemp("tsa"), chain_in_token=True) as tsa:
        rich = await capture_into(
            CaptureRequest(
                site.url("/rich"),
                case="test-case",
                note=HOSTILE_NOTE,
                operator="tester",
                timeout=30,
                media=None,
            ),
            data,
            browser=browser,
        )
        gzip = await capture_into(
            CaptureRequest(
                site.url("/gzip"),
                timeout=30,
                media=None,
                tsa=TimestampConfig((tsa.url,), (tsa.ca_pem_path,)),
            ),
            data,
            browser=browser,
        )
        tsa_root = tsa.ca_pem_path
        key, created = SigningKey.load_or_create(data)
        assert not created
        out = tmp_path_factory.mktemp("out") / "case.wacz"
        images_loaded: list[bool] = []
        renderer = chromium_pdf_renderer(browser, asyncio.get_running_loop(), images_loaded)
        result = await export_stamped(data, [rich.id, gzip.id], out, tsa, pdf_renderer=renderer)
    unpacked = tmp_path_factory.mktemp("unpacked")
    code, output = await run("unzip", "-q", out, "-d", unpacked)
    assert code == 0, output
    yield Exported(
        data, result, unpacked, rich.to_dict(), gzip.to_dict(), key, tsa_root, images_loaded
    )


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


# -- what other tools say -------------------------------------------------------------------


async def test_wacz_validate_accepts_the_export(exported: Exported) -> None:
    wacz = Path(sys.executable).with_name("wacz")
    code, output = await run(wacz, "validate", "-f", exported.result.path)
    assert code == 0, output
    assert "Validation succeeded" in output, output


async def test_sha256sum_checks_every_file_but_the_datapackage(exported: Exported) -> None:
    code, output = await run("sha256sum", "-c", "evidence/SHA256SUMS", cwd=exported.unpacked)
    assert code == 0, output
    listed = {
        line.split("  ", 1)[1]
        for line in (exported.unpacked / "evidence/SHA256SUMS").read_text().splitlines()
    }
    everything = set(zip_names(exported.result.path))
    unlisted = {"evidence/SHA256SUMS", "datapackage.json", "datapackage-digest.json"}
    assert listed == everything - unlisted


def test_the_layout_is_one_folder_deep_with_every_sealed_file(exported: Exported) -> None:
    names = set(zip_names(exported.result.path))
    for manifest in (exported.rich, exported.gzip):
        cid = manifest["id"]
        assert f"archive/{cid}.warc.gz" in names
        for name in ("manifest.json", "manifest.sig.json", "screenshot.png"):
            assert f"evidence/{cid}.{name}" in names
    gzip_id = exported.gzip["id"]
    assert {f"evidence/{gzip_id}.timestamp-1.tsr", f"evidence/{gzip_id}.timestamp-1.chain.pem"} <= (
        names
    )
    for name in (
        "indexes/index.cdxj",
        "pages/pages.jsonl",
        "evidence/custody.jsonl",
        "evidence/report.html",
        "evidence/report.pdf",
        "evidence/VERIFY.md",
        "evidence/SHA256SUMS",
        "datapackage.json",
        "datapackage-digest.json",
    ):
        assert name in names
    assert all(name.count("/") <= 1 for name in names), names


def test_every_datapackage_resource_matches_its_file(exported: Exported) -> None:
    package = json.loads((exported.unpacked / "datapackage.json").read_bytes())
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert package["software"].startswith("osint-capture ") and package["title"]
    paths = {r["path"] for r in package["resources"]}
    assert paths == set(zip_names(exported.result.path)) - {
        "datapackage.json",
        "datapackage-digest.json",
    }
    for resource in package["resources"]:
        digest, size = sha256_file(exported.unpacked / resource["path"])
        assert resource["hash"] == "sha256:" + digest, resource["path"]
        assert resource["bytes"] == size, resource["path"]
    assert len({r["name"] for r in package["resources"]}) == len(package["resources"])


def test_the_package_signature_verifies_with_the_installation_key(exported: Exported) -> None:
    datapackage = (exported.unpacked / "datapackage.json").read_bytes()
    digest = json.loads((exported.unpacked / "datapackage-digest.json").read_bytes())
    expected = "sha256:" + hashlib.sha256(datapackage).hexdigest()
    assert digest["path"] == "datapackage.json"
    assert digest["hash"] == expected
    signed = digest["signedData"]
    assert signed["hash"] == expected
    assert signed["publicKey"] == exported.key.public_key_b64
    assert signed["created"] == json.loads(datapackage)["created"]
    assert signed["software"].startswith("osint-capture ")
    verify_signature(
        exported.key.public_key_b64, signature_from_b64(signed["signature"]), expected.encode()
    )


def test_the_warcs_are_the_sealed_files_byte_for_byte_and_stored(exported: Exported) -> None:
    with zipfile.ZipFile(exported.result.path) as zf:
        for manifest in (exported.rich, exported.gzip):
            name = f"archive/{manifest['warc']}"
            sealed = exported.data / "captures" / manifest["id"] / manifest["warc"]
            assert (exported.unpacked / name).read_bytes() == sealed.read_bytes()
            assert zf.getinfo(name).compress_type == zipfile.ZIP_STORED


async def test_time_stamp_tokens_verify_with_openssl_inside_the_package(
    exported: Exported,
) -> None:
    cid = exported.gzip["id"]
    code, output = await run(
        "openssl",
        "ts",
        "-verify",
        "-in",
        f"evidence/{cid}.timestamp-1.tsr",
        "-data",
        f"evidence/{cid}.manifest.json",
        "-CAfile",
        exported.tsa_root,
        cwd=exported.unpacked,
    )
    assert code == 0, output
    assert "Verification: OK" in output


def test_index_and_pages_point_replay_at_the_captures(exported: Exported) -> None:
    index = (exported.unpacked / "indexes/index.cdxj").read_text().splitlines()
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    files = {e["filename"] for e in entries}
    assert files == {exported.rich["warc"], exported.gzip["warc"]}
    urls = {e["url"] for e in entries}
    assert exported.rich["url"] in urls and exported.gzip["url"] in urls
    assert index == sorted(index)

    pages = (exported.unpacked / "pages/pages.jsonl").read_text().splitlines()
    assert json.loads(pages[0]) == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    entries = [json.loads(line) for line in pages[1:]]
    assert [p["id"] for p in entries] == [exported.rich["id"], exported.gzip["id"]]
    assert entries[0]["url"] == exported.rich["url"]
    assert entries[0]["title"] == "Rich page"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["ts"])


# -- the report -----------------------------------------------------------------------------


def test_the_report_names_each_capture_its_hashes_and_the_declaration(exported: Exported) -> None:
    report = (exported.unpacked / "evidence/report.html").read_text()
    for manifest in (exported.rich, exported.gzip):
        assert manifest["url"] in report
        sealed = exported.data / "captures" / manifest["id"] / "manifest.json"
        assert sha256_file(sealed)[0] in report
        assert f"{manifest['id']}.screenshot.png" in report
        for artifact in manifest["artifacts"]:
            assert artifact["sha256"] in report
    assert "902(13)" in report and "902(14)" in report and "penalty of perjury" in report
    assert "DRAFT, not legal advice" in report
    assert "cannot prove" in report.lower()
    assert "no time-stamp token was obtained for this capture" in report  # /rich has none
    assert "127.0.0.1" in report  # server address
    assert exported.key.fingerprint in report
    # What the capture recorded about itself is shown escaped, never as markup.
    assert "<script>" not in report
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt; &amp; more" in report


def test_the_report_shows_the_tsa_time_from_the_token(exported: Exported) -> None:
    report = (exported.unpacked / "evidence/report.html").read_text()
    with Catalog.open(exported.data / "catalog.sqlite3") as catalog:
        stamped = next(
            e
            for e in Archive(exported.data, catalog).custody.events(exported.gzip["id"])
            if e.action == "timestamped"
        )
    assert stamped.details["gen_time"] in report
    assert f"evidence/{exported.gzip['id']}.timestamp-1.tsr" in report
    # The token's time is what is proven; the machine's clock is only a claim beside it.
    proven = f"<strong>Proven no later than {stamped.details['gen_time']}</strong>"
    assert proven in report and exported.gzip["finished_at"] in report
    # The whole check is one command, with the fingerprint from its holder, not from here.
    assert f"osint-capture verify {exported.result.path.name}" in report
    assert "--key-fingerprint &lt;the fingerprint its holder gave you&gt;" in report
    assert "--tsa-trust" in report and "never from this report or the package" in report


def test_the_pdf_report_is_printed_with_its_screenshots(exported: Exported) -> None:
    assert (exported.unpacked / "evidence/report.pdf").read_bytes()[:5] == b"%PDF-"
    assert exported.images_loaded == [True]


# -- custody and the file itself ------------------------------------------------------------


def test_the_export_is_a_custody_event_with_the_file_hash(exported: Exported) -> None:
    path = exported.result.path
    digest, size = sha256_file(path)
    assert (exported.result.sha256, exported.result.size) == (digest, size)
    assert exported.result.captures == (exported.rich["id"], exported.gzip["id"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    with Catalog.open(exported.data / "catalog.sqlite3") as catalog:
        custody = Archive(exported.data, catalog).custody
        assert custody.verify().ok
        events = list(custody.events())
    exported_events = [e for e in events if e.action == "exported"]
    assert len(exported_events) == 1
    event = exported_events[0]
    assert event.details["sha256"] == digest and event.details["size"] == size
    assert event.details["captures"] == 2 and event.actor == "tester"
    assert set(event.captures) == {exported.rich["id"], exported.gzip["id"]}
    assert "http" not in json.dumps(event.details)
    # The package holds the log's lines byte for byte, up to the export itself.
    packaged = (exported.unpacked / "evidence/custody.jsonl").read_bytes()
    first = next(i for i, e in enumerate(events) if exported.rich["id"] in e.captures)
    # ... then the export anchored that head (its own event), then the export itself.
    assert [e.action for e in events[-2:]] == ["anchored", "exported"]
    assert packaged == b"".join(canonical_json(e.to_dict()) + b"\n" for e in events[first:-2])


async def test_every_command_in_verify_md_passes(exported: Exported, tmp_path: Path) -> None:
    """A recipient's run of VERIFY.md, top to bottom, with standard tools, in a fresh folder."""
    text = (exported.unpacked / "evidence/VERIFY.md").read_text()
    assert exported.key.fingerprint in text
    assert "--key-fingerprint <the fingerprint the sender gave you> --tsa-trust ROOT.pem" in text
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    token = f"evidence/{exported.gzip['id']}.timestamp-1.tsr"
    package = tmp_path / exported.result.path.name
    package.write_bytes(exported.result.path.read_bytes())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cwd, outputs = tmp_path, []
    for lang, code in blocks:
        code = code.replace("ROOT.pem", str(exported.tsa_root)).replace("TOKEN.tsr", token)
        command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-ec", code]
        status, output = await run(*command, cwd=cwd, env=env)
        assert status == 0, f"{output}\n--- {lang} block:\n{code}"
        outputs.append(output)
        if "cd unpacked" in code:
            cwd = tmp_path / "unpacked"
    everything = "\n".join(outputs)
    assert everything.count("Verified OK") == 3  # the package and its two manifests
    assert f"sha256:{exported.key.fingerprint.removeprefix('sha256:')}" in everything
    # The capture's token, the package's, and the custody anchor at the head.
    assert everything.count("Verification: OK") == 3
    assert "custody head OK" in everything
    assert "datapackage.json: OK" in everything and "custody chain OK" in everything
    assert f"{token} over" not in everything and "FAILED" not in everything
    rich_files = len(exported.rich["artifacts"])
    assert everything.count(": OK") >= rich_files + 3


# -- refusals -------------------------------------------------------------------------------


async def test_refusals_are_clear_and_leave_nothing(exported: Exported, tmp_path: Path) -> None:
    with Archive.open(exported.data) as archive:

        def export(ids: list[str], out: Path) -> ExportResult:
            return export_wacz(archive, ids, out, actor="tester")

        with pytest.raises(ExportError, match="no capture 'no-such-id' in the catalog"):
            await asyncio.to_thread(
                export, [exported.rich["id"], "no-such-id"], tmp_path / "a.wacz"
            )
        with pytest.raises(ExportError, match="the file exists"):
            await asyncio.to_thread(export, [exported.rich["id"]], exported.result.path)
        with pytest.raises(ExportError, match=r"must end in \.wacz"):
            await asyncio.to_thread(export, [exported.rich["id"]], tmp_path / "a.zip")
        with pytest.raises(ExportError, match="listed twice"):
            await asyncio.to_thread(export, [exported.rich["id"]] * 2, tmp_path / "a.wacz")
        archive.catalog.enqueue_capture(
            "queued-capture", "http://127.0.0.1/", case=None, note=None, operator=None, request={}
        )
        with pytest.raises(ExportError, match="is queued: only sealed captures"):
            await asyncio.to_thread(export, ["queued-capture"], tmp_path / "a.wacz")
        assert list(tmp_path.iterdir()) == []
        assert [e.action for e in archive.custody.events()].count("exported") == 1


async def test_a_file_changed_since_sealing_stops_the_export(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    manifest = await capture_into(
        CaptureRequest(site.url("/gzip"), timeout=30, media=None), data, browser=browser
    )
    screenshot = data / "captures" / manifest.id / "screenshot.png"
    screenshot.chmod(0o644)
    with open(screenshot, "ab") as fh:
        fh.write(b"tampered")
    out = tmp_path / "out"
    out.mkdir()
    with Archive.open(data) as archive:
        with pytest.raises(ExportError, match="changed since it was sealed"):
            await asyncio.to_thread(
                export_wacz, archive, [manifest.id], out / "x.wacz", actor="tester"
            )
        assert "exported" not in [e.action for e in archive.custody.events()]
    assert list(out.iterdir()) == []


# -- the report's reading of a WARC, on a hand-made one --------------------------------------


def self_signed_pem() -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "<b>evil.example</b>")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), False)
        .sign(private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_the_report_reads_tls_certificates_and_addresses_and_escapes_them(tmp_path: Path) -> None:
    warc = tmp_path / "x.warc.gz"
    page_url = "https://evil.example/<img src=x onerror=alert(1)>"
    with open(warc, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                page_url,
                "response",
                payload=io.BytesIO(b"<title>x</title>"),
                http_headers=http,
                warc_headers_dict={"WARC-IP-Address": "203.0.113.9"},
            )
        )
        tls = {
            "origin": "https://evil.example",
            "security_details": {"protocol": "TLS 1.3"},
            "certificate_chain_pem": [self_signed_pem()],
        }
        writer.write_record(
            writer.create_warc_record(
                "https://evil.example/",
                "metadata",
                payload=io.BytesIO(json.dumps(tls).encode()),
                warc_content_type="application/json",
                warc_headers_dict={"X-Osint-Metadata": "tls-certificate-chain"},
            )
        )
        info = {
            "redirect_chain": [{"url": page_url, "status": 200, "ip": "203.0.113.9"}],
            "failed_requests": [{"url": "https://evil.example/<x>", "error": "net::ERR_<x>"}],
        }
        writer.write_record(
            writer.create_warc_record(
                "urn:pageinfo:" + page_url,
                "resource",
                payload=io.BytesIO(json.dumps(info).encode()),
                warc_content_type="application/json",
            )
        )
    facts = read_warc_facts(warc)
    assert facts.servers == {"evil.example": {"203.0.113.9"}}
    cert = facts.certificates["https://evil.example"]
    assert cert.names == ("evil.example",) and "evil.example" in (cert.subject or "")

    manifest = {
        "id": "c1",
        "url": page_url,
        "final_url": page_url,
        "status": "complete",
        "title": "</title><script>x()</script>",
        "started_at": "2026-01-01T00:00:00.000000Z",
        "finished_at": "2026-01-01T00:00:05.000000Z",
        "software": {"chromium": "1<2"},
        "items": [],
    }
    html_text = render_report(
        [
            CaptureFacts(
                capture_id="c1",
                manifest=manifest,
                manifest_sha256="ab" * 32,
                files=(PackagedFile("x.warc.gz", "archive/x.warc.gz", "warc", "cd" * 32, 1),),
                screenshot=None,
                tokens=(),
                warc=facts,
                custody=(),
                manifest_signed_by="sha256:" + "ef" * 32,
            )
        ],
        package_name="p.wacz",
        created="2026-01-01T00:00:10.000000Z",
        software="osint-capture test",
        key_fingerprint="sha256:" + "ef" * 32,
    )
    assert "<script" not in html_text and "<img src=x" not in html_text and "<b>" not in html_text
    assert "203.0.113.9" in html_text and "TLS 1.3" in html_text
    assert r"CN=\&lt;b\&gt;evil.example\&lt;/b\&gt;" in html_text  # RFC 4514, then HTML
    assert "net::ERR_&lt;x&gt;" in html_text
    assert "no time-stamp token was obtained for this capture" in html_text
