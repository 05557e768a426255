"""Machine readings in an exported package: the court report's section, and VERIFY.md's.

A poster page (its words only in an image) is captured and read by OCR with a local
time-stamp authority, then exported: the report must show the run as a machine
draft, with its addendum, hashes, tools, trusted time and the text read beside its
source; VERIFY.md's new commands are run, as a recipient would, with standard tools.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import os
import re
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from archive.datadir import Archive
from archive.evidence.addendum import MACHINE_DRAFT_NOTICE
from archive.evidence.trustedtime import TimestampConfig
from archive.wacz.report_analysis import RunFacts, render_analyses
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.options import AnalysisOptions
from capture.analysis.runs import analyse_now
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.exports import export_stamped
from tests.reading_site import ReadingSite
from tests.test_export import run
from tests.tsa import TestTSA


@dataclass
class Exported:
    capture_id: str
    addendum_sha256: str
    unpacked: Path
    package: Path
    tsa: TestTSA


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def exported(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Exported]:
    work = tmp_path_factory.mktemp("report-analysis")
    data = work / "data"
    (work / "site").mkdir()
    async with (
        TestTSA(work / "tsa") as tsa,
        ReadingSite(work / "site", browser) as site,
    ):
        config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
        manifest = await capture_into(
            CaptureRequest(site.url("/poster-page"), timeout=30, tsa=config), data, browser=browser
        )

        def read() -> str:
            engines = Engines(AnalysisSettings.for_data_dir(data))
            try:
                with Archive.open(data) as archive:
                    row = analyse_now(
                        manifest.id,
                        AnalysisOptions(ocr=True),
                        "tester",
                        archive,
                        engines,
                        config,
                    )
            finally:
                engines.close()
            assert row.status == "done" and row.timestamp == "stamped", row
            return str(row.addendum_sha256)

        addendum_sha256 = await asyncio.to_thread(read)
        result = await export_stamped(data, [manifest.id], work / "out.wacz", tsa)
        unpacked = work / "unpacked"
        with zipfile.ZipFile(result.path) as package:
            package.extractall(unpacked)
        yield Exported(manifest.id, addendum_sha256, unpacked, result.path, tsa)


async def test_the_report_shows_each_run_as_a_machine_draft_with_its_text(
    exported: Exported,
) -> None:
    report = (exported.unpacked / "evidence/report.html").read_text()
    cid = exported.capture_id
    start = report.index("<h3>Machine readings (drafts, not evidence)</h3>")
    section = report[start : report.index("<h3>Chain of custody</h3>", start)]
    assert html.escape(MACHINE_DRAFT_NOTICE, quote=True) in section
    assert "Analysis 1: machine draft, not evidence" in section
    assert f"evidence/{cid}.analysis-1.addendum.json" in section
    assert exported.addendum_sha256 in section
    assert "signature checked when this package was made" in section
    assert "tesseract" in section and "(ara+eng)" in section
    assert "ocr: done" in section  # what was read, per step
    # Trusted time over the addendum, from the local TSA's token (not the public roots).
    assert "The addendum existed no later than" in section
    assert f"evidence/{cid}.analysis-1.token-1.tsr" in section
    # The capture's own trusted time lists its token only, not the addendum's.
    capture_time = re.search(r"<tr><th>Trusted time</th><td>(.*?)</td></tr>", report)
    assert capture_time and f"evidence/{cid}.timestamp-1.tsr" in capture_time[1]
    assert "analysis-1" not in capture_time[1]
    # The text read, beside its source: the poster's URL, the screenshot, boxes.
    assert "/poster.png" in section and "convoy" in section.lower()
    assert "urn:fullPage:" in section and "Box (x, y, width, height in px)" in section
    assert section.count("Machine draft:") >= 2  # each reading marked


async def test_every_command_verify_md_gives_for_addenda_passes(
    exported: Exported, tmp_path: Path
) -> None:
    text = (exported.unpacked / "evidence/VERIFY.md").read_text()
    assert "### 6b. Machine readings (analysis addenda): drafts, not evidence" in text
    cid = exported.capture_id
    assert (
        f"openssl ts -verify -in evidence/{cid}.analysis-1.token-1.tsr"
        f" -data evidence/{cid}.analysis-1.addendum.json -CAfile ROOT.pem"
    ) in text
    # The capture's tokens are checked against its manifest, and only those.
    assert f"-in evidence/{cid}.analysis-1.token-1.tsr -data evidence/{cid}.manifest" not in text
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    package = tmp_path / exported.package.name
    package.write_bytes(exported.package.read_bytes())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cwd, outputs = tmp_path, []
    token = f"evidence/{cid}.timestamp-1.tsr"
    for lang, code in blocks:
        code = code.replace("ROOT.pem", str(exported.tsa.ca_pem_path)).replace("TOKEN.tsr", token)
        command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-ec", code]
        status, output = await run(*command, cwd=cwd, env=env)
        assert status == 0, f"{output}\n--- {lang} block:\n{code}"
        outputs.append(output)
        if "cd unpacked" in code:
            cwd = tmp_path / "unpacked"
    everything = "\n".join(outputs)
    # The package, the manifest and the addendum.
    assert everything.count("Verified OK") == 3
    assert f"evidence/{cid}.analysis-1.addendum.json: signed by sha256:" in everything
    assert f"evidence/{cid}.analysis-1.results.json: OK" in everything
    assert f"archive/{cid}.analysis-1.warc.gz: OK" in everything
    # The capture's token, the addendum's, the package's and the custody anchor.
    assert everything.count("Verification: OK") == 4
    addendum = (tmp_path / f"unpacked/evidence/{cid}.analysis-1.addendum.json").read_bytes()
    assert hashlib.sha256(addendum).hexdigest() == exported.addendum_sha256


def test_verify_md_says_nothing_of_addenda_without_them() -> None:
    from archive.wacz.verify_md import PackagedCapture, verify_md

    text = verify_md(
        [PackagedCapture("c1", "https://example.org/", "ab" * 32, ())],
        package_name="p.wacz",
        fingerprint="sha256:00",
        sums_path="evidence/SHA256SUMS",
        has_custody=False,
        has_anchors=False,
    )
    assert "analysis" not in text and "@addenda@" not in text


def test_everything_an_addendum_says_is_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    run_facts = RunFacts(
        number=1,
        addendum_path=f"evidence/{hostile}.analysis-1.addendum.json",
        addendum_sha256=hostile,
        addendum={
            "operator": hostile,
            "tools": [{"name": hostile, "model_sha256": hostile}],
            "outcomes": [{"step": "ocr", "status": hostile, "read": 1, "notes": [hostile]}],
            "reasons": [hostile],
            "requested": {"ocr": True, "languages": hostile},
        },
        readings=[
            {
                "kind": "ocr",
                "source": {"what": hostile, "uri": hostile, "sha256": hostile},
                "tool": {"name": hostile},
                "result": {"lines": [{"text": hostile, "box": [1, 2, 3, hostile]}]},
            },
            {
                "kind": "transcript",
                "source": {"what": "media", "uri": hostile, "file": hostile},
                "tool": {},
                "result": {"segments": [{"start": 83.5, "end": hostile, "text": hostile}]},
            },
        ],
        tokens=[(hostile, hostile, hostile, hostile)],
        problems=[hostile],
    )
    section = render_analyses([run_facts])
    assert "<script" not in section
    assert section.count("&lt;script&gt;") >= 17  # the step's status and note among them
    assert "01:23.50–?" in section  # times as numbers, whatever the file says
    assert render_analyses([]) == ""
