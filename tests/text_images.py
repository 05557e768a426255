"""Images of known text for the OCR tests, rendered by the real Chromium with Debian's fonts.

Each fixture is an HTML page screenshotted to PNG in memory, plus the text it shows, so a
test can score what the engine read against what was drawn. The Arabic is plain (no
vowel marks) news-style prose of the kind investigators meet in posts and banners.
"""

from __future__ import annotations

import io
import random
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image, ImageFilter

from capture.browser import Browser

ARABIC_PARAGRAPH = (
    "تجمع عشرات المتظاهرين أمام مبنى البلدية صباح يوم الجمعة",
    "وطالبوا بالإفراج عن المعتقلين وكشف مصير المفقودين",
    "وقال شهود عيان إن قوات الأمن أطلقت الغاز المسيل للدموع",
    "وأصيب عدد من الأشخاص بجروح ونقلوا إلى المستشفى القريب",
)
ARABIC_BANNER = "أوقفوا القصف على المدنيين"
ENGLISH_LINES = (
    "Witnesses said security forces fired tear gas at the crowd",
    "Several people were injured and taken to the nearby hospital",
)
MEME_LINES = ("لن نسكت بعد اليوم", "الحرية للمعتقلين")
#: The phrase a tall page places across a tile boundary.
BOUNDARY_PHRASE = "نطالب بتحقيق مستقل في أحداث المدينة"

ARABIC_FONTS = "'Noto Naskh Arabic', 'Noto Sans Arabic', 'Amiri', serif"
PAGE_STYLE = (
    "html, body { margin: 0; background: #fff; color: #111; }"
    " body { padding: 24px 32px; font-family: 'DejaVu Sans', sans-serif; }"
    " p { margin: 0 0 0.6em 0; }"
    " .ar { direction: rtl; text-align: right; font-family: " + ARABIC_FONTS + "; }"
)


@dataclass(frozen=True)
class TextImage:
    """A rendered image and the lines of text drawn on it, top to bottom."""

    image: Image.Image
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


async def screenshot(
    browser: Browser, body: str, *, width: int = 1000, style: str = "", transparent: bool = False
) -> tuple[Image.Image, dict[str, int]]:
    """Render ``body`` and return the full-page screenshot and the page-space top of every
    element that has an ``id`` (so a test can check where a line's box lands)."""
    context = await browser.new_context(viewport={"width": width, "height": 600})
    try:
        page = await context.new_page()
        html = f"<!doctype html><meta charset=utf-8><style>{PAGE_STYLE}{style}</style>{body}"
        await page.set_content(html)
        await page.evaluate("document.fonts.ready")
        tops = await page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[id]')].map("
            "e => [e.id, Math.round(e.getBoundingClientRect().top + window.scrollY)]))"
        )
        png = await page.screenshot(full_page=True, type="png", omit_background=transparent)
    finally:
        await context.close()
    image = Image.open(io.BytesIO(png))
    return (image if transparent else image.convert("RGB")), tops


def _paragraphs(lines: tuple[str, ...], css_class: str, size: int) -> str:
    return "".join(f'<p class="{css_class}" style="font-size:{size}px">{t}</p>' for t in lines)


async def arabic_paragraph(browser: Browser, size: int = 20) -> TextImage:
    """Clean Arabic prose at body size (or ``size``), one sentence per line."""
    image, _ = await screenshot(browser, _paragraphs(ARABIC_PARAGRAPH, "ar", size))
    return TextImage(image, ARABIC_PARAGRAPH)


async def arabic_banner(browser: Browser, size: int = 48) -> TextImage:
    """One bold-free Naskh line at banner size, the size the Arabic model reads as nothing."""
    body = f'<p class="ar" style="font-size:{size}px">{ARABIC_BANNER}</p>'
    image, _ = await screenshot(browser, body, width=1100)
    return TextImage(image, (ARABIC_BANNER,))


async def small_text(browser: Browser, size: int = 13) -> TextImage:
    """Arabic and English lines at 12-14 px, footnote size, as seen on dense pages."""
    body = _paragraphs(ARABIC_PARAGRAPH[:2], "ar", size) + _paragraphs(ENGLISH_LINES, "", size)
    image, _ = await screenshot(browser, body, width=700)
    return TextImage(image, ARABIC_PARAGRAPH[:2] + ENGLISH_LINES)


async def mixed_sizes(browser: Browser) -> TextImage:
    """A headline, body text and a caption on one image."""
    body = (
        f'<p class="ar" style="font-size:44px">{ARABIC_BANNER}</p>'
        + _paragraphs(ARABIC_PARAGRAPH[:2], "ar", 20)
        + _paragraphs(ARABIC_PARAGRAPH[2:3], "ar", 14)
    )
    image, _ = await screenshot(browser, body)
    return TextImage(image, (ARABIC_BANNER, *ARABIC_PARAGRAPH[:3]))


async def arabic_and_english(browser: Browser) -> TextImage:
    """Arabic and English lines alternating, as in a bilingual statement."""
    body = (
        _paragraphs(ARABIC_PARAGRAPH[:1], "ar", 20)
        + _paragraphs(ENGLISH_LINES[:1], "", 18)
        + _paragraphs(ARABIC_PARAGRAPH[1:2], "ar", 20)
        + _paragraphs(ENGLISH_LINES[1:], "", 18)
    )
    image, _ = await screenshot(browser, body)
    lines = (ARABIC_PARAGRAPH[0], ENGLISH_LINES[0], ARABIC_PARAGRAPH[1], ENGLISH_LINES[1])
    return TextImage(image, lines)


async def transparent_text(browser: Browser) -> TextImage:
    """Black Arabic and English text on a transparent background (a PNG with alpha), as
    logos, stickers and captions are often posted."""
    body = _paragraphs(ARABIC_PARAGRAPH[:1], "ar", 22) + _paragraphs(ENGLISH_LINES[:1], "", 20)
    style = " html, body { background: transparent; }"
    image, _ = await screenshot(browser, body, width=900, style=style, transparent=True)
    return TextImage(image, (ARABIC_PARAGRAPH[0], ENGLISH_LINES[0]))


MEME_STYLE = (
    " .meme { width: 640px; height: 420px; position: relative; margin: 0;"
    " background: radial-gradient(circle at 30% 40%, #d9a441, #7a2e1b 55%, #1d2b3a);"
    " font-family: 'Noto Sans Arabic', sans-serif; font-weight: bold; color: #fff;"
    " direction: rtl; text-align: center; }"
    " .meme p { position: absolute; left: 0; right: 0; font-size: 40px;"
    " -webkit-text-stroke: 2px #000; paint-order: stroke fill; text-shadow: 2px 2px 3px #000; }"
    " body { padding: 0; }"
)


async def meme(browser: Browser, seed: int = 12) -> TextImage:
    """White text with a black outline over a gradient made noisy like a photo."""
    body = (
        f'<div class="meme"><p style="top:20px">{MEME_LINES[0]}</p>'
        f'<p style="top:320px">{MEME_LINES[1]}</p></div>'
    )
    image, _ = await screenshot(browser, body, width=640, style=MEME_STYLE)
    image = image.crop((0, 0, 640, 420))
    rng = random.Random(seed)
    grain = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
    blotches = Image.frombytes("L", (32, 21), rng.randbytes(32 * 21))
    blotches = blotches.resize(image.size, Image.Resampling.BICUBIC)
    photo = Image.blend(Image.merge("RGB", (grain,) * 3), Image.merge("RGB", (blotches,) * 3), 0.5)
    textured = Image.composite(image, Image.blend(image, photo, 0.35), _text_mask(image))
    return TextImage(textured, MEME_LINES)


def _text_mask(image: Image.Image) -> Image.Image:
    """White where the meme has its (white) letters, which the photo texture leaves be."""
    grey = image.convert("L")
    return grey.point(lambda v: 255 if v > 235 else 0)


async def scanned_document(browser: Browser, seed: int = 7) -> TextImage:
    """A rendered page made to look scanned: grey paper, rotated 1.5°, blurred, speckled."""
    clean = await arabic_paragraph(browser, size=22)
    grey = clean.image.convert("L").point(lambda v: 60 + v * 0.7)
    rotated = grey.rotate(1.5, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=238)
    blurred = rotated.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(seed)
    speckled = blurred.copy()
    pixels = speckled.load()
    for _ in range(speckled.width * speckled.height // 150):
        x, y = rng.randrange(speckled.width), rng.randrange(speckled.height)
        pixels[x, y] = rng.choice((40, 90, 250))
    return TextImage(speckled.convert("RGB"), clean.lines)


async def tall_page(browser: Browser, height: int, boundary: int) -> tuple[TextImage, int]:
    """A page ``height`` px tall with paragraphs spread down it and :data:`BOUNDARY_PHRASE`
    straddling page-y ``boundary``. Returns the image and the phrase's rendered top."""
    blocks, lines, y = [], [], 200
    while y < height - 600:
        if abs(y - boundary) < 700:
            y = boundary + 700
            continue
        text = ARABIC_PARAGRAPH[(y // 1500) % len(ARABIC_PARAGRAPH)]
        blocks.append(
            (y, f'<p class="ar" style="position:absolute;top:{y}px;right:32px">{text}</p>')
        )
        lines.append((y, text))
        y += 1500
    top = boundary - 14
    phrase = (
        f'<p id="boundary" class="ar" style="position:absolute;top:{top}px;right:32px;'
        f'margin:0;line-height:28px">{BOUNDARY_PHRASE}</p>'
    )
    blocks.append((top, phrase))
    lines.append((top, BOUNDARY_PHRASE))
    body = (
        f'<div style="position:relative;height:{height}px;font-size:20px">'
        + "".join(html for _, html in sorted(blocks))
        + "</div>"
    )
    image, tops = await screenshot(browser, body, width=1280, style=" body { padding: 0; }")
    ordered = tuple(text for _, text in sorted(lines))
    return TextImage(image, ordered), tops["boundary"]


# --- scoring ---------------------------------------------------------------------------

#: Arabic vowel marks (harakat), Quranic marks and the tatweel: drawn or not by a font and
#: read or not by the model, they say nothing about whether the words were read.
_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def normalise(text: str) -> str:
    """Text as scored: NFC, marks and tatweel removed, whitespace collapsed."""
    text = _MARKS.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def levenshtein(a: list[str] | str, b: list[str] | str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two sequences."""
    previous = list(range(len(b) + 1))
    for i, item in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item != other))
            )
        previous = current
    return previous[-1]


def cer(expected: str, read: str) -> float:
    """Character error rate: edits over the expected length, after :func:`normalise`."""
    truth, got = normalise(expected), normalise(read)
    return levenshtein(truth, got) / max(1, len(truth))


def wer(expected: str, read: str) -> float:
    """Word error rate: word-level edits over the expected number of words."""
    truth, got = normalise(expected).split(), normalise(read).split()
    return levenshtein(truth, got) / max(1, len(truth))


async def long_screenshot(browser: Browser, height: int = 4000) -> TextImage:
    """A screenshot-sized page (1280 wide, ``height`` tall) of body text, Arabic and English
    paragraphs alternating: what the capture pipeline hands the engine most often."""
    cycle = ARABIC_PARAGRAPH + ENGLISH_LINES
    count = (height - 48) // 32
    lines = tuple(cycle[i % len(cycle)] for i in range(count))
    body = "".join(
        f'<p class="{"" if text in ENGLISH_LINES else "ar"}">{text}</p>' for text in lines
    )
    style = " p { margin: 0; height: 32px; line-height: 32px; font-size: 19px; }"
    image, _ = await screenshot(browser, body, width=1280, style=style)
    return TextImage(image.crop((0, 0, 1280, height)), lines)
