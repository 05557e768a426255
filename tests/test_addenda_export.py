"""Addenda in an exported package: they verify like the rest, and forgeries of them fail.

A poster capture is time-stamped, read by OCR (its addendum time-stamped too) and by a
translation step whose model the operator got wrong (a failure the addendum names),
then exported. The recipient's `osint-capture verify` holds every addendum to its
signature, its files, its capture's manifest and its token; the forgeries are the
other side's: a changed reading, a reading of other bytes, a reading dated before the
capture, a file of a run no addendum lists, and an addendum re-signed by another key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from archive.datadir import Archive
from archive.evidence.signing import SigningKey, sign_file_bytes
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_roots import TrustStore
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.options import AnalysisOptions
from capture.analysis.runs import analyse_now
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.exports import export_stamped
from tests.forgery import Forgery
from tests.reading_site import POSTER_ENGLISH, ReadingSite
from tests.tsa import TestTSA

CLI = str(Path(sys.executable).with_name("osint-capture"))


@dataclass(frozen=True)
class Package:
    path: Path
    capture_id: str
    holder: SigningKey
    tsa: TestTSA
    work: Path

    def pinned(self) -> tuple[str, ...]:
        return (
            "--key-fingerprint",
            self.holder.fingerprint,
            "--tsa-trust",
            str(self.tsa.ca_pem_path),
        )

    def name(self, suffix: str) -> str:
        return f"evidence/{self.capture_id}.{suffix}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def package(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Package]:
    work = tmp_path_factory.mktemp("addenda")
    data = work / "data"
    async with (
        ReadingSite(work / "site", browser, video=False) as site,
        TestTSA(work / "tsa") as tsa,
    ):
        config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
        captured = await capture_into(
            CaptureRequest(site.url("/poster-page"), timeout=30, media=None, tsa=config),
            data,
            browser=browser,
        )
        broken_model = work / "not-a-model"
        broken_model.mkdir()
        settings = AnalysisSettings.for_data_dir(data, translation_model=broken_model)
        engines = Engines(settings)
        options = AnalysisOptions(ocr=True, translate=True)

        def read() -> None:
            with Archive.open(data) as archive:
                analyse_now(captured.id, options, "tester", archive, engines, config)

        await asyncio.to_thread(read)
        engines.close()
        out = work / "poster.wacz"
        await export_stamped(data, [captured.id], out, tsa)
        holder, _ = SigningKey.load_or_create(data)
        yield Package(out, captured.id, holder, tsa, work)


async def verify(path: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "OSINT_CAPTURE_DATA"}
    process = await asyncio.create_subprocess_exec(
        CLI,
        "verify",
        str(path),
        *args,
        env=env,
        cwd=path.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def forged(package: Package, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    """The package with ``change`` applied, then re-summed and re-signed by the holder's
    own key (an insider: every check a signature alone would pass is passed)."""
    forgery = Forgery(package.path)
    change(forgery)
    forgery.rebuild_index()
    forgery.rebuild_sums()
    await asyncio.to_thread(
        forgery.resign_package,
        package.holder,
        tsa_url=package.tsa.url,
        trust=TrustStore.load([package.tsa.ca_pem_path]),
    )
    return forgery.write(package.work / f"{name}.wacz")


def resign_addendum(forgery: Forgery, package: Package, key: SigningKey, addendum: dict) -> None:  # type: ignore[type-arg]
    """Write ``addendum`` and a fresh signature over it by ``key``."""
    name = package.name("analysis-1.addendum.json")
    forgery.set_json(name, addendum)
    data = forgery.files[name]
    signature = {
        **sign_file_bytes(key, data),
        "signs": "analysis-1.addendum.json",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    forgery.set_json(package.name("analysis-1.addendum.sig.json"), signature)


# -- the genuine package ---------------------------------------------------------------------


async def test_a_package_with_an_addendum_verifies_and_validates(package: Package) -> None:
    code, out = await verify(package.path, *package.pinned())
    assert code == 0, out
    assert "addendum signature" in out and "addendum capture" in out
    assert "addendum trusted time" in out
    names = Forgery(package.path).files
    assert f"archive/{package.capture_id}.analysis-1.warc.gz" in names
    assert package.name("analysis-1.token-1.tsr") in names
    # The failed translation is named in the addendum, and the capture still verifies.
    addendum = json.loads(names[package.name("analysis-1.addendum.json")])
    steps = {step["step"]: step["status"] for step in addendum["outcomes"]}
    assert steps == {"ocr": "done", "translate": "failed"}
    assert any("translation model" in reason for reason in addendum["reasons"])
    results = json.loads(names[package.name("analysis-1.results.json")])
    assert any(POSTER_ENGLISH.lower() in r["text"].lower() for r in results["readings"])
    wacz = Path(sys.executable).with_name("wacz")
    process = await asyncio.create_subprocess_exec(
        str(wacz),
        "validate",
        "-f",
        str(package.path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


# -- forgeries -------------------------------------------------------------------------------


async def test_a_changed_reading_fails(package: Package) -> None:
    def change(forgery: Forgery) -> None:
        name = package.name("analysis-1.results.json")
        forgery.files[name] = forgery.files[name].replace(b"convoy", b"convey")

    code, out = await verify(await forged(package, "changed-reading", change), *package.pinned())
    assert code == 1, out
    assert "analysis-1.results.json: SHA-256" in out


async def test_an_addendum_re_signed_by_another_key_fails(package: Package) -> None:
    forger = SigningKey.generate()

    def change(forgery: Forgery) -> None:
        name = package.name("analysis-1.results.json")
        forgery.files[name] = forgery.files[name].replace(b"convoy", b"convey")
        addendum = forgery.json(package.name("analysis-1.addendum.json"))
        for artifact in addendum["artifacts"]:
            if artifact["path"] == "analysis-1.results.json":
                artifact["sha256"] = hashlib.sha256(forgery.files[name]).hexdigest()
        resign_addendum(forgery, package, forger, addendum)

    code, out = await verify(await forged(package, "other-key", change), *package.pinned())
    assert code == 1, out
    assert forger.fingerprint in out


async def test_a_reading_of_other_bytes_fails(package: Package) -> None:
    def change(forgery: Forgery) -> None:
        addendum = forgery.json(package.name("analysis-1.addendum.json"))
        addendum["refers_to"]["sha256"] = "0" * 64
        resign_addendum(forgery, package, package.holder, addendum)

    code, out = await verify(await forged(package, "other-bytes", change), *package.pinned())
    assert code == 1, out
    assert "read a capture manifest with SHA-256" in out


async def test_a_reading_dated_before_its_capture_was_sealed_fails(package: Package) -> None:
    def change(forgery: Forgery) -> None:
        addendum = forgery.json(package.name("analysis-1.addendum.json"))
        sealed = forgery.manifest(package.capture_id)["started_at"]
        addendum["started_at"] = sealed
        resign_addendum(forgery, package, package.holder, addendum)

    code, out = await verify(await forged(package, "predated", change), *package.pinned())
    assert code == 1, out
    assert "but its capture was sealed at" in out


async def test_a_file_of_a_run_no_addendum_lists_fails(package: Package) -> None:
    def change(forgery: Forgery) -> None:
        for suffix in ("addendum.json", "addendum.sig.json", "token-1.tsr", "token-1.chain.pem"):
            del forgery.files[package.name(f"analysis-1.{suffix}")]

    code, out = await verify(await forged(package, "orphan", change), *package.pinned())
    assert code == 1, out
    assert "a file of an analysis no addendum lists" in out


async def test_an_addendum_without_its_token_is_not_authenticated(package: Package) -> None:
    def change(forgery: Forgery) -> None:
        del forgery.files[package.name("analysis-1.token-1.tsr")]
        del forgery.files[package.name("analysis-1.token-1.chain.pem")]

    code, out = await verify(await forged(package, "untimed", change), *package.pinned())
    assert code == 4, out
    assert "has no verified time-stamp" in out
