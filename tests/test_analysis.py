"""Reading what the evidence says, end to end: real captures, real tesseract, real Whisper.

A poster page whose words are only in an image, and a video page whose words are only
in burnt-in banners and speech, are captured by the real pipeline; analysis runs then
read them and seal addenda beside the captures, never touching what was sealed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from warcio.archiveiterator import ArchiveIterator

from archive.catalog import CATALOG_NAME, Catalog
from archive.datadir import Archive
from archive.evidence.signing import verify_signed
from archive.evidence.trustedtime import TimestampConfig
from capture.analysis.engines import AnalysisSettings, Engines
from capture.analysis.options import AnalysisOptions
from capture.analysis.runs import analyse_now
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.reading_site import POSTER_ARABIC, POSTER_ENGLISH, SPOKEN, ReadingSite
from tests.speech_audio import word_error_rate
from tests.text_images import cer
from tests.text_video import CAPTION_A, CAPTION_C

NO_TSA = TimestampConfig((), ())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reading_site(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ReadingSite]:
    async with ReadingSite(tmp_path_factory.mktemp("reading-site"), browser) as running:
        yield running


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analysis") / "data"


@pytest.fixture(scope="module")
def engines(data: Path) -> Engines:
    loaded = Engines(AnalysisSettings.for_data_dir(data))
    yield loaded
    loaded.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def poster(reading_site: ReadingSite, browser: Browser, data: Path) -> str:
    manifest = await capture_into(
        CaptureRequest(reading_site.url("/poster-page"), timeout=30), data, browser=browser
    )
    return manifest.id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def video(reading_site: ReadingSite, browser: Browser, data: Path) -> str:
    manifest = await capture_into(
        CaptureRequest(reading_site.url("/video-page"), timeout=60), data, browser=browser
    )
    assert any(a.kind == "media" for a in manifest.artifacts), manifest.reasons
    return manifest.id


async def run(data: Path, engines: Engines, capture_id: str, options: AnalysisOptions):  # type: ignore[no-untyped-def]
    def go():  # type: ignore[no-untyped-def]
        with Archive.open(data) as archive:
            return analyse_now(capture_id, options, "tester", archive, engines, NO_TSA)

    return await asyncio.to_thread(go)


def readings(data: Path, capture_id: str, number: int) -> list[dict]:  # type: ignore[type-arg]
    path = data / "captures" / capture_id / f"analysis-{number}.results.json"
    return json.loads(path.read_bytes())["readings"]


async def test_ocr_reads_the_words_only_an_image_holds(
    data: Path, engines: Engines, poster: str
) -> None:
    manifest_before = (data / "captures" / poster / "manifest.json").read_bytes()
    row = await run(data, engines, poster, AnalysisOptions(ocr=True))
    assert row.status == "done", row.reasons
    found = readings(data, poster, row.number)
    images = [r for r in found if r["source"]["what"] == "image"]
    assert len(images) == 1 and images[0]["source"]["uri"].endswith("/poster.png")
    text = images[0]["text"]
    assert cer(POSTER_ARABIC, text.splitlines()[0]) < 0.1, text
    assert POSTER_ENGLISH.lower() in text.lower()
    assert (data / "captures" / poster / "manifest.json").read_bytes() == manifest_before
    print(text)


def warc_records(path: Path) -> list:  # type: ignore[type-arg]
    with open(path, "rb") as fh:
        return [
            (record.rec_type, dict(record.rec_headers.headers), record.content_stream().read())
            for record in ArchiveIterator(fh)
        ]


async def test_each_reading_is_a_record_that_names_its_source_and_the_addendum_is_signed(
    data: Path, engines: Engines, poster: str
) -> None:
    row = await run(data, engines, poster, AnalysisOptions(ocr=True))
    folder = data / "captures" / poster
    capture_records = warc_records(folder / f"{poster}.warc.gz")
    image_response = next(
        headers
        for kind, headers, _ in capture_records
        if kind == "response" and headers["WARC-Target-URI"].endswith("/poster.png")
    )
    analysis = warc_records(folder / f"analysis-{row.number}.warc.gz")
    assert analysis[0][0] == "warcinfo" and b"Machine draft" in analysis[0][2]
    image_reading = next(
        headers
        for kind, headers, _ in analysis[1:]
        if headers["WARC-Target-URI"].startswith("urn:ocr:")
        and "poster.png" in headers["WARC-Target-URI"]
    )
    assert image_reading["WARC-Refers-To"] == image_response["WARC-Record-ID"]
    assert image_reading["X-Osint-Source-SHA256"] == image_response["WARC-Payload-Digest"]
    assert image_reading["X-Osint-Languages"] == "ara+eng"
    assert image_reading["X-Osint-Machine-Draft"] == "true"
    screenshot = next(
        headers
        for kind, headers, _ in analysis[1:]
        if "urn:fullPage:" in headers["WARC-Target-URI"]
    )
    assert screenshot["WARC-Refers-To"] == next(
        headers["WARC-Record-ID"]
        for kind, headers, _ in capture_records
        if headers.get("WARC-Target-URI", "").startswith("urn:fullPage:")
    )

    addendum_bytes = (folder / f"analysis-{row.number}.addendum.json").read_bytes()
    addendum = json.loads(addendum_bytes)
    signature = json.loads((folder / f"analysis-{row.number}.addendum.sig.json").read_bytes())
    verify_signed(signature, addendum_bytes)
    manifest_sha = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert addendum["refers_to"] == {"manifest": "manifest.json", "sha256": manifest_sha}
    assert addendum["machine_draft"] is True and addendum["readings"] >= 2
    for listed in addendum["artifacts"]:
        on_disk = (folder / listed["path"]).read_bytes()
        assert hashlib.sha256(on_disk).hexdigest() == listed["sha256"]
        assert (folder / listed["path"]).stat().st_mode & 0o222 == 0  # sealed read-only
    with Catalog.open(data / CATALOG_NAME) as catalog:
        events = [
            e for e in Archive(data, catalog).custody.events(poster) if e.action == "analysed"
        ]
        assert events[-1].captures == (poster,)
        assert events[-1].details["addendum_sha256"] == row.addendum_sha256
        assert events[-1].details["analysis"] == row.number
        assert catalog.get_capture(poster).manifest_sha256 == manifest_sha


async def test_search_finds_words_that_are_only_inside_an_image(
    data: Path, engines: Engines, poster: str
) -> None:
    await run(data, engines, poster, AnalysisOptions(ocr=True))
    with Catalog.open(data / CATALOG_NAME) as catalog:
        # With a vowel mark the image does not have: folded as page text is.
        hits = catalog.search_text("المدنيّين")
        ocr = [h for h in hits if h.kind == "ocr" and h.capture_id == poster]
        assert ocr, hits
        assert ocr[0].place["what"] == "image" and len(ocr[0].place["box"]) == 4
        assert not [h for h in hits if h.kind == "page text"]  # not in the page's own text
        assert [h for h in catalog.search_text("convoy") if h.capture_id == poster]


async def test_video_frames_are_read_and_speech_becomes_a_draft_transcript(
    data: Path, engines: Engines, video: str
) -> None:
    options = AnalysisOptions(ocr=True, transcribe=True, language="en")
    row = await run(data, engines, video, options)
    assert row.status == "done", row.reasons
    found = readings(data, video, row.number)
    frames = [r for r in found if r["source"]["what"] == "video frame"]
    assert frames, [r["source"] for r in found]
    # Each banner is read from a frame taken while it was shown, at that frame's offset.
    for caption, start, end in ((CAPTION_A, 0.0, 10.0), (CAPTION_C, 10.0, 24.0)):
        shown = [f for f in frames if start <= f["source"]["offset"] < end]
        best = min(cer(caption, line) for f in shown for line in f["text"].splitlines() or [""])
        assert best < 0.15, (caption, [f["text"] for f in shown])
    media = frames[0]["source"]
    assert media["file"].startswith("media-") and media["record_id"].startswith("<urn:uuid:")
    transcripts = [r for r in found if r["kind"] == "transcript"]
    assert len(transcripts) == 1
    transcript = transcripts[0]
    assert transcript["result"]["machine_draft"] is True
    assert transcript["tool"]["model_sha256"] == (
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    )
    wer = word_error_rate(SPOKEN, transcript["text"])
    assert wer <= 0.3, (wer, transcript["text"])
    with Catalog.open(data / CATALOG_NAME) as catalog:
        spoken = [h for h in catalog.search_text("checkpoint") if h.kind == "transcript"]
        assert spoken and spoken[0].capture_id == video
        assert spoken[0].place["start"] < spoken[0].place["end"]
        banner = [h for h in catalog.search_text("حلب") if h.kind == "ocr"]
        assert banner and banner[0].place["what"] == "video frame"
        assert banner[0].place["offset"] < 10.0


async def test_a_re_run_is_a_new_addendum_and_the_earlier_one_stays(
    data: Path, engines: Engines, poster: str
) -> None:
    first = await run(data, engines, poster, AnalysisOptions(ocr=True))
    folder = data / "captures" / poster
    sealed = {p.name: p.read_bytes() for p in folder.glob(f"analysis-{first.number}.*")}
    second = await run(data, engines, poster, AnalysisOptions(ocr=True, languages="eng"))
    assert second.number == first.number + 1
    assert {p.name: p.read_bytes() for p in folder.glob(f"analysis-{first.number}.*")} == sealed
    addendum = json.loads((folder / f"analysis-{second.number}.addendum.json").read_bytes())
    assert addendum["requested"]["languages"] == "eng"
    with Catalog.open(data / CATALOG_NAME) as catalog:
        numbers = [run.number for run in catalog.analyses(poster)]
        assert numbers == sorted(numbers) and second.number in numbers


async def test_translations_name_their_model_and_its_hash(
    data: Path, poster: str, tmp_path: Path
) -> None:
    """A tiny model the test builds (tests/translation_model.py) maps the poster's English
    words; the plumbing from OCR line to translated, searchable line is what is checked."""
    from capture.analysis.translate import model_sha256
    from tests.translation_model import SPECIAL, build

    words = POSTER_ENGLISH.split()
    targets = ["point-de-controle", "sept", "convoi"]
    model = build(
        tmp_path / "en-fr-test",
        SPECIAL + words,
        SPECIAL + targets,
        dict(zip(words, ["point-de-controle", "sept", "convoi"], strict=True)),
        add_source_eos=False,
    )
    settings = AnalysisSettings.for_data_dir(data, translation_model=model)
    translating = Engines(settings)
    try:
        row = await run(data, translating, poster, AnalysisOptions(ocr=True, translate=True))
    finally:
        translating.close()
    assert row.status == "done", row.reasons
    found = readings(data, poster, row.number)
    translations = [r for r in found if r["kind"] == "translation"]
    assert translations, [r["kind"] for r in found]
    assert all(t["tool"]["model_sha256"] == model_sha256(model) for t in translations)
    assert all(t["tool"]["model"] == "en-fr-test" for t in translations)
    of = {r["id"]: r for r in found}
    assert all(of[t["source"]["reading"]]["kind"] == "ocr" for t in translations)
    assert any("convoi" in t["text"] for t in translations)
    with Catalog.open(data / CATALOG_NAME) as catalog:
        hits = [h for h in catalog.search_text("convoi") if h.kind == "translation"]
        assert hits and hits[0].capture_id == poster and hits[0].place.get("box")


async def test_a_speech_model_that_does_not_match_is_refused_and_the_capture_is_untouched(
    data: Path, video: str, tmp_path: Path
) -> None:
    from capture.analysis.whisper_model import pinned_whisper

    genuine = pinned_whisper(AnalysisSettings.for_data_dir(data).models_dir)
    altered = tmp_path / "models" / genuine.path.name
    altered.mkdir(parents=True)
    for file in genuine.path.iterdir():
        if file.name == "config.json":
            (altered / file.name).write_bytes(file.read_bytes().replace(b"}", b', "x": 1}', 1))
        else:
            (altered / file.name).symlink_to(file)
    folder = data / "captures" / video
    before = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith("analysis")}
    refusing = Engines(AnalysisSettings(models_dir=tmp_path / "models"))
    try:
        row = await run(data, refusing, video, AnalysisOptions(transcribe=True, language="en"))
    finally:
        refusing.close()
    assert row.status == "done"  # sealed, saying what failed
    assert any("config.json" in reason for reason in row.reasons), row.reasons
    outcomes = json.loads((folder / f"analysis-{row.number}.addendum.json").read_bytes())
    assert {o["step"]: o["status"] for o in outcomes["outcomes"]} == {"transcribe": "failed"}
    after = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith("analysis")}
    assert after == before


async def test_a_capture_changed_since_sealing_is_not_read(
    reading_site: ReadingSite, browser: Browser, engines: Engines, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    manifest = await capture_into(
        CaptureRequest(reading_site.url("/poster-page"), timeout=30, media=None),
        data,
        browser=browser,
    )
    screenshot = data / "captures" / manifest.id / "screenshot.png"
    screenshot.chmod(0o644)
    screenshot.write_bytes(screenshot.read_bytes() + b"\0")
    row = await run(data, engines, manifest.id, AnalysisOptions(ocr=True))
    assert row.status == "failed"
    assert "screenshot.png no longer has the SHA-256 its manifest lists" in row.reasons[0]
    assert not list((data / "captures" / manifest.id).glob("analysis-*"))
    with Catalog.open(data / CATALOG_NAME) as catalog:
        actions = [e.action for e in Archive(data, catalog).custody.events(manifest.id)]
    assert actions[-1] == "analysis-failed"


async def test_the_command_line_reads_again_and_refuses_what_it_cannot(
    data: Path, poster: str, tmp_path: Path
) -> None:
    from tests.test_cli import run_cli

    done = await run_cli("analyse", poster, "--data", str(data), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_json = done.json()
    assert run_json["status"] == "done" and run_json["machine_draft"] is True
    assert [s["step"] for s in run_json["steps"]] == ["ocr"]  # OCR when no step is named
    assert "[ocr]" in done.stderr  # progress on the terminal
    unknown = await run_cli(
        "analyse", poster, "no-such-capture", "--data", str(data), cwd=tmp_path
    )  # one run sealed, one id unknown: the bad input is what the exit code says
    assert unknown.returncode == 2 and "no capture no-such-capture" in unknown.stderr
    nowhere = tmp_path / "not-an-archive"
    mistyped = await run_cli("analyse", poster, "--data", str(nowhere), cwd=tmp_path)
    assert mistyped.returncode == 2 and "no archive at" in mistyped.stderr
    assert not nowhere.exists()  # a mistyped --data does not become a new, empty archive
    bad = await run_cli(
        "analyse", poster, "--ocr-languages", "ara;rm -rf", "--data", str(data), cwd=tmp_path
    )
    assert bad.returncode == 2 and "tesseract language codes" in bad.stderr
    missing = await run_cli(
        "analyse", poster, "--ocr-languages", "fra", "--data", str(data), cwd=tmp_path
    )
    assert missing.returncode == 2 and "apt-get install tesseract-ocr-fra" in missing.stderr


async def test_capture_with_ocr_reads_the_page_once_it_is_sealed(
    reading_site: ReadingSite, tmp_path: Path
) -> None:
    from tests.test_cli import run_cli

    data = tmp_path / "data"
    done = await run_cli(
        "capture",
        reading_site.url("/poster-page"),
        "--ocr",
        "--no-media",
        "--data",
        str(data),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "done: analysis 1 of" in done.stdout and "(machine draft)" in done.stdout
    assert "ocr        done" in done.stdout


async def test_readings_that_cannot_be_sealed_fail_the_run_and_say_why(
    data: Path, engines: Engines, poster: str
) -> None:
    with Catalog.open(data / CATALOG_NAME) as catalog:
        next_number = max((r.number for r in catalog.analyses(poster)), default=0) + 1
    # A file already in the way: the store refuses to overwrite it, as it would any
    # sealed file, and the run must end failed, not stay running or crash the command.
    squatter = data / "captures" / poster / f"analysis-{next_number}.warc.gz"
    squatter.write_bytes(b"in the way")
    try:
        row = await run(data, engines, poster, AnalysisOptions(ocr=True))
    finally:
        squatter.unlink()
    assert row.number == next_number and row.status == "failed"
    assert "the readings could not be sealed" in row.reasons[0], row.reasons
    with Catalog.open(data / CATALOG_NAME) as catalog:
        actions = [e.action for e in Archive(data, catalog).custody.events(poster)]
        assert catalog.get_analysis(poster, next_number).status == "failed"
    assert actions[-1] == "analysis-failed"
