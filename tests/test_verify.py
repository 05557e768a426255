"""Offline verification of an exported WACZ: a real export passes, every tampering is named.

One capture of the local test site (with a token from the local TSA, and the package
stamped by it too) is exported once for the module; each test copies the package,
changes one thing by rewriting the ZIP with :mod:`zipfile`, and checks that
:func:`archive.wacz.verify.verify_package` fails and names the file. Forgeries made with
an attacker's own key and authority are in tests/test_forgery.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from archive.evidence.checks import Outcome
from archive.evidence.signing import SigningKey, sign_file_bytes
from archive.evidence.timecheck import PACKAGE_WINDOW
from archive.evidence.trust import TrustedKeys
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_client import request_token
from archive.evidence.tsa_roots import TrustStore
from archive.timeutil import set_clock
from archive.wacz.verify import NotAPackage, VerifyReport, verify_package
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.exports import export_stamped
from tests.site import TestSite
from tests.tsa import TestTSA


@dataclass
class Package:
    path: Path
    capture_id: str
    key: SigningKey
    trust: TrustStore
    #: A genuine token from the same TSA, but over other data.
    other_token: bytes
    #: The data directory the package was exported from.
    data: Path

    @property
    def warc(self) -> str:
        return f"archive/{self.capture_id}.warc.gz"

    @property
    def manifest(self) -> str:
        return f"evidence/{self.capture_id}.manifest.json"

    @property
    def signature(self) -> str:
        return f"evidence/{self.capture_id}.manifest.sig.json"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def package(
    site: TestSite, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Package]:
    data = tmp_path_factory.mktemp("verify-data")
    async with TestTSA(tmp_path_factory.mktemp("verify-tsa")) as tsa:
        captured = await capture_into(
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
        other = await asyncio.to_thread(
            request_token,
            hashlib.sha256(b"some other document").digest(),
            tsa.url,
            trust=TrustStore.load([tsa_root]),
        )
        out = tmp_path_factory.mktemp("verify-out") / "case.wacz"
        await export_stamped(data, [captured.id], out, tsa)
    key, _ = SigningKey.load_or_create(data)
    trust = await asyncio.to_thread(TrustStore.load, [tsa_root])
    yield Package(out, captured.id, key, trust, other.token_der, data)


async def verify(pkg: Package, path: Path, *, pinned: str | None = None) -> VerifyReport:
    """Verify with the package's TSA root, and the signer pinned when given."""
    keys = TrustedKeys.pinned(pinned) if pinned else TrustedKeys()
    return await asyncio.to_thread(verify_package, path, trust=pkg.trust, keys=keys)


def rewrite(
    source: Path,
    target: Path,
    change: Callable[[str, bytes], bytes | None],
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Copy a ZIP member by member; ``change(name, data)`` returns new bytes, or None to drop."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return target


def failing(report: VerifyReport) -> str:
    assert not report.ok, report.summary()
    return "\n".join(str(check) for check in report.failures)


# -- the untouched package ---------------------------------------------------------------------


async def test_the_export_verifies(package: Package) -> None:
    report = await verify(package, package.path, pinned=package.key.fingerprint)
    assert report.ok and report.exit_status == 0, report.summary()
    names = {check.name for check in report.checks}
    for name in (
        "zip",
        "entry names",
        "size limits",
        "zip layout",
        "datapackage",
        "SHA256SUMS",
        "datapackage digest",
        "package signature",
        "package time-stamp",
        "manifest signature",
        "manifest artifacts",
        "trusted time",
        "WARC records",
        "index",
        "pages",
        "custody",
        "custody captured",
        "custody head",
        "custody anchor",
        "custody anchored",
        "signer",
    ):
        assert name in names, report.summary()
    assert all(check.reason for check in report.checks)
    # The verdict comes first and says what it rests on.
    first, *rest = report.summary().splitlines()
    assert first.endswith(
        "VERIFIED: intact and authenticated; 1 capture(s), signed by an"
        " established key, each with trusted time consistent with what it claims"
    ), first
    basis = "\n".join(rest[: rest.index("  checks:")])
    assert f"key {package.key.fingerprint} (the key you pinned, pinned with" in basis
    assert "time-stamp authority CN=Test Time-Stamping Authority" in basis
    assert f"capture {package.capture_id}" in basis and "proven no later than" in basis


async def test_the_unpinned_export_is_intact_but_not_authenticated(package: Package) -> None:
    report = await verify(package, package.path)
    assert report.outcome is Outcome.UNPROVEN and report.exit_status == 4, report.summary()
    assert [c.name for c in report.unproven] == ["signer"], report.summary()
    assert not report.failures
    first = report.summary().splitlines()[0]
    assert "INTACT, NOT AUTHENTICATED" in first and "whose key signed it" in first
    assert "--key-fingerprint" in first  # what is missing, and how to establish it
    assert "--key-fingerprint" in report.unproven[0].reason


async def test_a_rewritten_but_unchanged_zip_still_verifies(
    package: Package, tmp_path: Path
) -> None:
    copy = rewrite(package.path, tmp_path / "copy.wacz", lambda name, data: data)
    report = await verify(package, copy, pinned=package.key.fingerprint)
    assert report.ok, report.summary()


async def test_another_pinned_key_fails(package: Package) -> None:
    other = SigningKey.generate().fingerprint
    report = await verify(package, package.path, pinned=other.upper().removeprefix("SHA256:"))
    text = failing(report)
    assert [c.name for c in report.failures] == ["signer"], text
    assert "did not pin" in text and other in text and package.key.fingerprint in text
    assert "datapackage-digest.json" in text and package.signature in text


async def test_a_trust_store_without_the_tsa_root_leaves_time_unproven(package: Package) -> None:
    report = await asyncio.to_thread(
        verify_package,
        package.path,
        trust=TrustStore(roots=(), sources=()),
        keys=TrustedKeys.pinned(package.key.fingerprint),
    )
    assert report.outcome is Outcome.UNPROVEN and not report.failures, report.summary()
    text = "\n".join(str(c) for c in report.unproven)
    assert f"evidence/{package.capture_id}.timestamp-1.tsr" in text
    assert "untrusted chain" in text and "--tsa-trust" in text
    assert {c.name for c in report.unproven} == {
        "time-stamp",
        "trusted time",
        "package time-stamp",
        "custody anchor",
        "custody anchored",
    }
    first = report.summary().splitlines()[0]
    assert "when captures were made" in first and "--tsa-trust ROOT.pem" in first


# -- tampering ---------------------------------------------------------------------------------


async def test_one_flipped_byte_in_the_warc(package: Package, tmp_path: Path) -> None:
    def flip(name: str, data: bytes) -> bytes:
        if name != package.warc:
            return data
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]

    report = await verify(package, rewrite(package.path, tmp_path / "t.wacz", flip))
    text = failing(report)
    failed = {c.name for c in report.failures}
    assert {"datapackage", "SHA256SUMS", "manifest artifacts", "WARC records"} <= failed, text
    # The damaged gzip member also moves the records after it: the index no longer fits.
    assert all(package.warc in c.reason for c in report.failures if c.name != "index"), text


async def test_an_edited_manifest(package: Package, tmp_path: Path) -> None:
    def edit(name: str, data: bytes) -> bytes:
        return (
            data.replace(b'"status": "complete"', b'"status": "partial"')
            if (name == package.manifest)
            else data
        )

    report = await verify(package, rewrite(package.path, tmp_path / "t.wacz", edit))
    text = failing(report)
    failed = {c.name for c in report.failures}
    assert {
        "datapackage",
        "manifest signature",
        "time-stamp",
        "custody captured",
    } <= failed, text
    assert all(f"{package.capture_id}.manifest.json" in c.reason for c in report.failures), text


async def test_a_removed_custody_event(package: Package, tmp_path: Path) -> None:
    def drop_captured(name: str, data: bytes) -> bytes:
        if name != "evidence/custody.jsonl":
            return data
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if json.loads(line)["action"] != "captured"]
        assert len(kept) == len(lines) - 1
        return b"".join(kept)

    report = await verify(package, rewrite(package.path, tmp_path / "t.wacz", drop_captured))
    text = failing(report)
    failed = {c.name for c in report.failures}
    # The slice's own chain cannot see a removed last line; the package's hashes and the
    # missing 'captured' event can.
    assert {"datapackage", "SHA256SUMS", "custody captured"} <= failed, text
    assert all("evidence/custody.jsonl" in c.reason for c in report.failures), text


async def test_a_replaced_manifest_signature(package: Package, tmp_path: Path) -> None:
    intruder = SigningKey.generate()
    with zipfile.ZipFile(package.path) as zf:
        manifest = zf.read(package.manifest)

    def resign(name: str, data: bytes) -> bytes:
        if name != package.signature:
            return data
        record = {**json.loads(data), **sign_file_bytes(intruder, manifest)}
        return (json.dumps(record, indent=2) + "\n").encode()

    tampered = rewrite(package.path, tmp_path / "t.wacz", resign)
    # The forged record is consistent in itself; the package's hashes, the custody log's
    # record of the sealing key and the second signer still give it away.
    report = await verify(package, tampered)
    text = failing(report)
    failed = {c.name for c in report.failures}
    assert {"datapackage", "SHA256SUMS", "custody captured", "signer"} <= failed, text
    assert all(package.signature in c.reason for c in report.failures), text
    assert intruder.fingerprint in text
    signer = next(c for c in report.failures if c.name == "signer")
    assert "2 different keys" in signer.reason
    # With the sender's fingerprint pinned, the signer check names the intruder.
    report = await verify(package, tampered, pinned=package.key.fingerprint)
    signer = next(c for c in report.failures if c.name == "signer")
    assert "did not pin" in signer.reason and intruder.fingerprint in signer.reason


async def test_an_added_file(package: Package, tmp_path: Path) -> None:
    tampered = rewrite(
        package.path,
        tmp_path / "t.wacz",
        lambda name, data: data,
        extra={"evidence/planted.txt": b"not sealed\n"},
    )
    report = await verify(package, tampered)
    text = failing(report)
    assert [c.name for c in report.failures] == ["datapackage", "SHA256SUMS"], text
    assert all("evidence/planted.txt" in c.reason for c in report.failures), text
    assert "not listed" in text


async def test_a_removed_file(package: Package, tmp_path: Path) -> None:
    screenshot = f"evidence/{package.capture_id}.screenshot.png"
    tampered = rewrite(
        package.path,
        tmp_path / "t.wacz",
        lambda name, data: None if name == screenshot else data,
    )
    report = await verify(package, tampered)
    text = failing(report)
    failed = {c.name for c in report.failures}
    assert {"datapackage", "SHA256SUMS", "manifest artifacts"} <= failed, text
    assert all(screenshot in c.reason for c in report.failures), text


# -- not a package, hostile packages -------------------------------------------------------


async def test_a_truncated_zip_is_not_a_package(package: Package, tmp_path: Path) -> None:
    data = package.path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100, 0):
        truncated = tmp_path / f"cut-{cut}.wacz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(NotAPackage, match="not a readable ZIP"):
            await verify(package, truncated)


async def test_a_non_zip_is_not_a_package(package: Package, tmp_path: Path) -> None:
    other = tmp_path / "notes.wacz"
    other.write_text("just some text, not a zip\n" * 100)
    with pytest.raises(NotAPackage, match=r"notes\.wacz"):
        await verify(package, other)
    with pytest.raises(NotAPackage):
        await verify(package, tmp_path / "missing.wacz")
    with pytest.raises(NotAPackage):
        await verify(package, tmp_path)


async def test_a_climbing_entry_name_is_refused(package: Package, tmp_path: Path) -> None:
    tampered = rewrite(
        package.path,
        tmp_path / "t.wacz",
        lambda name, data: data,
        extra={"../evil": b"escape\n", "/etc/evil": b"absolute\n"},
    )
    report = await verify(package, tampered)
    text = failing(report)
    names = next(c for c in report.checks if c.name == "entry names")
    assert not names.ok and "'../evil'" in names.reason and "'/etc/evil'" in names.reason
    assert not (tmp_path.parent / "evil").exists()
    # Nothing else is blamed on the refused entries: they are not read at all.
    assert [c.name for c in report.failures] == ["entry names"], text


async def test_declared_sizes_over_the_limit_are_refused_unread(
    package: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.wacz.verify

    monkeypatch.setattr(archive.wacz.verify, "MAX_ENTRIES", 5)
    report = await verify(package, package.path)
    text = failing(report)
    assert [c.name for c in report.failures] == ["size limits"], text
    assert "ZIP bomb" in text
    assert {c.name for c in report.checks} == {"zip", "entry names", "size limits"}


async def test_an_edited_custody_event(package: Package, tmp_path: Path) -> None:
    def edit(name: str, data: bytes) -> bytes:
        return (
            data.replace(b'"actor":"', b'"actor":"x', 1)
            if name == "evidence/custody.jsonl"
            else data
        )

    report = await verify(package, rewrite(package.path, tmp_path / "t.wacz", edit))
    text = failing(report)
    custody = [c for c in report.failures if c.name == "custody"]
    assert custody and "it was edited" in custody[0].reason, text
    assert "evidence/custody.jsonl" in custody[0].reason


async def test_a_token_swapped_for_one_over_other_data(package: Package, tmp_path: Path) -> None:
    token_name = f"evidence/{package.capture_id}.timestamp-1.tsr"

    def swap(name: str, data: bytes) -> bytes:
        return package.other_token if name == token_name else data

    report = await verify(package, rewrite(package.path, tmp_path / "t.wacz", swap))
    text = failing(report)
    token_checks = [c for c in report.failures if c.name == "time-stamp"]
    assert token_checks and "imprint" in token_checks[0].reason, text
    assert token_name in token_checks[0].reason


async def test_urls_the_browser_normalises_still_verify(
    site: TestSite, browser: Browser, tmp_path: Path
) -> None:
    """A fragment is never sent and an origin gets its slash: the records' URIs differ from
    the URL asked for, and the page list must still find them (as replay does)."""
    data = tmp_path / "data"
    async with TestTSA(tmp_path / "tsa") as tsa:
        config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
        ids = [
            (
                await capture_into(
                    CaptureRequest(url, timeout=30, media=None, tsa=config), data, browser=browser
                )
            ).id
            for url in (site.url("/gzip#section-2"), site.origin)
        ]
        out = tmp_path / "normalised.wacz"
        await export_stamped(data, ids, out, tsa)
        trust = await asyncio.to_thread(TrustStore.load, [tsa.ca_pem_path])
    key, _ = SigningKey.load_or_create(data)
    report = await asyncio.to_thread(
        verify_package, out, trust=trust, keys=TrustedKeys.pinned(key.fingerprint)
    )
    assert report.ok, report.summary()


async def test_a_slow_export_is_signed_at_its_signing_time(
    package: Package, tmp_path: Path
) -> None:
    """``created`` is when the package was signed, not when packaging began: a long export
    (here a PDF that takes a minute longer than the package window, by the machine's
    clock: the one clock the export reads) still agrees with its token."""
    behind = [PACKAGE_WINDOW + timedelta(minutes=1)]
    set_clock(lambda: datetime.now(UTC) - behind[0])

    def slow_pdf(html: Path, pdf: Path) -> None:
        behind[0] = timedelta(0)  # the clock moves on past the window while the PDF is made
        pdf.write_bytes(b"%PDF-1.4 placeholder for timing\n")

    try:
        async with TestTSA(tmp_path / "tsa") as tsa:
            out = tmp_path / "slow.wacz"
            await export_stamped(
                package.data, [package.capture_id], out, tsa, pdf_renderer=slow_pdf
            )
            trust = await asyncio.to_thread(TrustStore.load, [tsa.ca_pem_path])
    finally:
        set_clock(None)
    assert behind[0] == timedelta(0), "the PDF was made"
    report = await asyncio.to_thread(
        verify_package, out, trust=trust, keys=TrustedKeys.pinned(package.key.fingerprint)
    )
    assert not report.failures, report.summary()
    stamped = next(c for c in report.checks if c.name == "package time-stamp")
    assert stamped.ok, report.summary()
