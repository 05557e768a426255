"""The OCR engine on images the real Chromium drew, read by the real tesseract.

Scores are character and word error rates against the text drawn (tests/text_images.py);
the thresholds sit a little above what was measured (docs/analysis.md, "Models and their limits"),
so a regression in the engine shows while tesseract's small wobbles do not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tesserocr
from PIL import Image

from capture.analysis import imaging
from capture.analysis.ocr import (
    DEFAULT_LANGUAGES,
    OcrEngine,
    OcrError,
    OcrResult,
    tessdata_dir,
    worth_reading,
)
from capture.browser import Browser
from tests import text_images
from tests.text_images import TextImage, cer, wer


@pytest.fixture(scope="module")
def engine() -> Iterator[OcrEngine]:
    with OcrEngine() as shared:
        yield shared


def scored(engine: OcrEngine, image: TextImage, label: str) -> tuple[OcrResult, float, float]:
    """Read ``image``, print (visible with ``-s``) and return the error rates."""
    started = time.perf_counter()
    result = engine.read(image.image)
    seconds = time.perf_counter() - started
    rates = cer(image.text, result.text()), wer(image.text, result.text())
    size = f"{image.image.width}x{image.image.height}"
    print(f"\n{label}: CER {rates[0]:.3f} WER {rates[1]:.3f} {size} {seconds:.2f}s")
    return result, *rates


def plain_tesserocr(image: TextImage) -> str:
    """One read with tesseract's defaults at native scale: what the engine must beat."""
    with tesserocr.PyTessBaseAPI(path=f"{tessdata_dir()}/", lang=DEFAULT_LANGUAGES) as api:
        api.SetImage(image.image)
        return api.GetUTF8Text()


async def test_clean_arabic_paragraph(browser: Browser, engine: OcrEngine) -> None:
    result, char_rate, word_rate = scored(
        engine, await text_images.arabic_paragraph(browser), "clean Arabic paragraph"
    )
    assert char_rate <= 0.02 and word_rate <= 0.05, result.text()
    assert len(result.lines) == len(text_images.ARABIC_PARAGRAPH)
    first = result.lines[0]
    assert first.words[0].text == "تجمع", "Arabic words in reading order, letters too"
    assert first.words[0].box[0] > first.words[-1].box[0], "the first word is the rightmost"


async def test_banner_sized_arabic_is_read_where_a_plain_read_sees_nothing(
    browser: Browser, engine: OcrEngine
) -> None:
    banner = await text_images.arabic_banner(browser, size=48)
    plain = cer(banner.text, plain_tesserocr(banner))
    result, char_rate, _ = scored(engine, banner, "Arabic banner 48 px")
    print(f"plain tesserocr at native scale: CER {plain:.3f}")
    assert char_rate <= 0.05, result.text()
    assert plain >= 0.5, f"the plain read was expected to fail (CER {plain:.3f})"


async def test_arabic_is_read_at_every_banner_size(browser: Browser, engine: OcrEngine) -> None:
    """The same line from 32 to 60 px: tesseract's defaults lose it at some sizes."""
    plain_failures, engine_rates = [], {}
    for size in range(32, 61, 4):
        banner = await text_images.arabic_banner(browser, size=size)
        engine_rates[size] = cer(banner.text, engine.read(banner.image).text())
        if cer(banner.text, plain_tesserocr(banner)) > 0.5:
            plain_failures.append(size)
    print(
        f"\nbanner sizes: engine CER {engine_rates}; plain read lost the line at {plain_failures}"
    )
    assert max(engine_rates.values()) <= 0.05, engine_rates


async def test_transparent_png_is_read_on_white(browser: Browser, engine: OcrEngine) -> None:
    image = await text_images.transparent_text(browser)
    assert image.image.mode == "RGBA"
    result, char_rate, word_rate = scored(engine, image, "transparent PNG")
    assert char_rate <= 0.02 and word_rate <= 0.05, result.text()


async def test_small_text_is_upscaled(browser: Browser, engine: OcrEngine) -> None:
    result, char_rate, word_rate = scored(
        engine, await text_images.small_text(browser, size=13), "small text 13 px"
    )
    assert char_rate <= 0.05 and word_rate <= 0.1, result.text()
    assert result.settings["tiles"][0]["upscaled"] is True


async def test_small_text_low_on_a_tall_image_keeps_page_coordinates(
    browser: Browser, engine: OcrEngine
) -> None:
    """Resampled re-reads in a later tile: boxes still land where the text is."""
    small = await text_images.small_text(browser, size=13)
    canvas = Image.new("RGB", (small.image.width, 6000), "white")
    canvas.paste(small.image, (0, 5000))
    result, char_rate, _ = scored(engine, TextImage(canvas, small.lines), "small text at y=5000")
    assert char_rate <= 0.05, result.text()
    assert any(tile["upscaled"] for tile in result.settings["tiles"][1:])
    assert all(5000 <= line.box[1] <= 5000 + small.image.height for line in result.lines)


async def test_mixed_sizes_on_one_image(browser: Browser, engine: OcrEngine) -> None:
    result, char_rate, word_rate = scored(
        engine, await text_images.mixed_sizes(browser), "mixed sizes 44/20/14 px"
    )
    assert char_rate <= 0.05 and word_rate <= 0.12, result.text()
    assert result.lines[0].text == text_images.ARABIC_BANNER


async def test_arabic_and_english_lines_are_both_read(browser: Browser, engine: OcrEngine) -> None:
    result, char_rate, word_rate = scored(
        engine, await text_images.arabic_and_english(browser), "Arabic and English"
    )
    assert char_rate <= 0.02 and word_rate <= 0.05, result.text()
    assert result.lines[1].text == text_images.ENGLISH_LINES[0]
    assert "\u200e" not in result.text() and "\u200f" not in result.text()


async def test_meme_white_outlined_text_over_a_noisy_photo(
    browser: Browser, engine: OcrEngine
) -> None:
    result, char_rate, word_rate = scored(engine, await text_images.meme(browser), "meme")
    assert char_rate <= 0.05 and word_rate <= 0.2, result.text()


async def test_scanned_looking_document(browser: Browser, engine: OcrEngine) -> None:
    scan = await text_images.scanned_document(browser)
    plain = cer(scan.text, plain_tesserocr(scan))
    result, char_rate, word_rate = scored(engine, scan, "scanned document")
    print(f"plain tesserocr at native scale: CER {plain:.3f}")
    assert char_rate <= 0.03 and word_rate <= 0.1, result.text()
    assert result.settings["tiles"][0]["denoised"] is True


async def test_tall_page_is_read_in_tiles_in_page_coordinates(
    browser: Browser, engine: OcrEngine
) -> None:
    height = 13_000
    tiles = imaging.tiles(height)
    boundary = tiles[0].bottom  # the phrase is cut by the first tile's lower edge
    page, top = await text_images.tall_page(browser, height, boundary)
    result, char_rate, _ = scored(engine, page, "tall page 13,000 px")
    assert len(result.settings["tiles"]) == len(tiles) > 1
    assert char_rate <= 0.03, result.text()
    found = [line for line in result.lines if text_images.BOUNDARY_PHRASE in line.text]
    assert len(found) == 1, [line.text for line in result.lines]
    _, y, _, h = found[0].box
    assert y <= boundary <= y + h
    assert abs(y - top) <= 10, f"box y {y}, drawn at {top}"
    assert (result.width, result.height) == (1280, height)


async def test_screenshot_sized_image_timing(browser: Browser, engine: OcrEngine) -> None:
    page = await text_images.long_screenshot(browser, 4000)
    result, char_rate, word_rate = scored(engine, page, "screenshot 1280x4000, 123 lines")
    assert char_rate <= 0.03 and word_rate <= 0.05
    assert len(result.lines) == len(page.lines)


def test_json_form_is_stable(engine: OcrEngine) -> None:
    blank = engine.read(Image.new("RGB", (300, 100), "white"))
    data = blank.to_json()
    assert list(data) == ["languages", "width", "height", "settings", "lines"]
    assert data["languages"] == "ara+eng" and data["lines"] == [] and blank.text() == ""
    assert OcrEngine.version().startswith("tesseract 5.")


def test_a_missing_language_names_it_and_its_package() -> None:
    with pytest.raises(OcrError) as raised:
        OcrEngine("ara+fra")
    message = str(raised.value)
    assert "'fra'" in message and "apt-get install tesseract-ocr-fra" in message
    assert str(tessdata_dir()) in message


def test_a_missing_tessdata_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(OcrError, match="TESSDATA_PREFIX"):
        OcrEngine(tessdata=tmp_path / "nowhere")


def test_worth_reading_rejects_icons_and_spacers() -> None:
    assert not worth_reading(16, 16)
    assert not worth_reading(64, 64)  # an avatar or icon
    assert not worth_reading(1280, 1)  # a spacer
    assert worth_reading(1280, 800)
    assert worth_reading(300, 40)  # a one-line caption
