"""Test videos with burnt-in Arabic captions, made the way real ones look.

Banners and burnt-in captions are where much of the Arabic text in conflict footage
is, so the keyframe and OCR tests need videos whose captions are correctly shaped
Arabic: letters joined and read right to left. Debian's ffmpeg draws text with
fribidi but without harfbuzz, which is not a shaper we want to trust for this, so
each caption is rendered by the real Chromium (the same text engine as the pages we
capture) as a transparent PNG banner, then laid over a moving background by ffmpeg.

Also here: a video whose every frame shows its own frame number as a binary code (so
a test can check the time offset of an extracted frame against what the frame
shows), and an audio-only file for the error paths. Encoding is bit-exact and
single-threaded, so the same call makes the same bytes.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import async_playwright

#: Bombing of the central market in Aleppo.
CAPTION_A = "قصف السوق المركزي في حلب"
#: Civilians flee Idlib (Arabic and English, as many channels caption).
CAPTION_B = "نزوح المدنيين من إدلب - Civilians flee Idlib"
#: Civil defence pulls survivors from the rubble.
CAPTION_C = "الدفاع المدني ينتشل الناجين من تحت الأنقاض"
#: (start, end, text) of the default video: 30 s, hard cuts where the captions change.
DEFAULT_CAPTIONS: tuple[tuple[float, float, str], ...] = (
    (0.0, 8.0, CAPTION_A),
    (8.0, 20.0, CAPTION_B),
    (20.0, 30.0, CAPTION_C),
)
DEFAULT_DURATION = 30.0
DEFAULT_CUTS: tuple[float, ...] = (8.0, 20.0)
#: The static video: one still picture for 35 s, the caption changing at 15 s with no cut.
STATIC_CAPTIONS: tuple[tuple[float, float, str], ...] = (
    (0.0, 15.0, CAPTION_A),
    (15.0, 35.0, CAPTION_C),
)
STATIC_DURATION = 35.0
SIZE = (640, 360)
RATE = 25
CAPTION_FONT = "Noto Naskh Arabic"

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-pix_fmt", "yuv420p"]
#: Moving backgrounds, one per shot, different enough that each cut is a hard cut.
BACKGROUNDS = (
    "testsrc2=size={w}x{h}:rate={r}",
    "mandelbrot=size={w}x{h}:rate={r}:start_scale=2:end_scale=0.05",
    "gradients=size={w}x{h}:rate={r}:speed=0.05:c0=0x203a80:c1=0xc05020:n=3:seed=1",
)

#: The frame-number code: COUNTER_BITS white/black cells in a strip across the top.
COUNTER_BITS = 10
COUNTER_STRIP = 24


def _ffmpeg(*args: str) -> None:
    try:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as failed:
        raise RuntimeError(f"ffmpeg failed: {failed.stderr[-2000:]}") from failed


def _banner_html(text: str, width: int, font_size: int) -> str:
    """A news-channel lower third: white text on a semi-opaque dark band, whose
    direction the browser works out from the text (``dir=auto``)."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
html, body {{ margin: 0; background: transparent; }}
#banner {{ width: {width}px; box-sizing: border-box; padding: 6px 16px;
  background: rgba(10, 10, 20, 0.72); color: #fff; text-align: center;
  font: {font_size}px/1.5 "{CAPTION_FONT}", serif; }}
</style></head><body><div id="banner" dir="auto">{html.escape(text)}</div></body></html>"""


async def render_caption(
    browser: PlaywrightBrowser, text: str, out: Path, *, width: int, font_size: int = 30
) -> Path:
    """Render ``text`` as a transparent PNG banner ``width`` pixels wide with Chromium."""
    context = await browser.new_context(viewport={"width": width, "height": 400})
    try:
        page = await context.new_page()
        await page.set_content(_banner_html(text, width, font_size))
        await page.evaluate("document.fonts.ready.then(() => true)")
        await page.locator("#banner").screenshot(path=str(out), omit_background=True)
    finally:
        await context.close()
    return out


async def _render_all(
    browser: PlaywrightBrowser | None, texts: Sequence[str], workdir: Path, width: int
) -> list[Path]:
    if browser is not None:
        return [
            await render_caption(browser, text, workdir / f"caption{i}.png", width=width)
            for i, text in enumerate(texts)
        ]
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    async with async_playwright() as playwright:
        own = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            return await _render_all(own, texts, workdir, width)
        finally:
            await own.close()


def _background_graph(duration: float, cuts: Sequence[float], still: bool) -> str:
    """Filter graph text whose output ``[bg]`` is the background: one moving source per
    shot, joined at the cuts; or, for a still video, the first frame held throughout."""
    w, h = SIZE
    if still:
        source = BACKGROUNDS[0].format(w=w, h=h, r=RATE)
        return (
            f"{source},trim=end_frame=1,loop=loop=-1:size=1,"
            f"setpts=N/{RATE}/TB,trim=duration={duration}[bg]"
        )
    edges = [0.0, *cuts, duration]
    shots = []
    for i, (start, end) in enumerate(itertools.pairwise(edges)):
        source = BACKGROUNDS[i % len(BACKGROUNDS)].format(w=w, h=h, r=RATE)
        shots.append(
            f"{source},trim=duration={end - start},setpts=PTS-STARTPTS,format=yuv420p[s{i}]"
        )
    joined = "".join(f"[s{i}]" for i in range(len(shots)))
    return ";".join(shots) + f";{joined}concat=n={len(shots)}:v=1:a=0[bg]"


async def make_caption_video(
    path: Path,
    captions: Sequence[tuple[float, float, str]] = DEFAULT_CAPTIONS,
    duration: float = DEFAULT_DURATION,
    *,
    cuts: Sequence[float] = DEFAULT_CUTS,
    still: bool = False,
    browser: PlaywrightBrowser | None = None,
) -> Path:
    """Write an H.264 MP4 of ``duration`` seconds (640x360, 25 fps) to ``path``: a
    moving background with a hard cut at each of ``cuts`` (or one still picture if
    ``still``), each caption shown as a bottom banner for ``start <= t < end``.

    ``browser`` is a Playwright browser to render the captions with; without one, a
    headless Chromium is started for the purpose.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="captions-") as tmp:
        banners = await _render_all(browser, [text for _, _, text in captions], Path(tmp), SIZE[0])
        graph = [_background_graph(duration, cuts, still)]
        previous = "bg"
        for i, (start, end, _) in enumerate(captions):
            graph.append(
                f"[{previous}][{i}:v]overlay=x=0:y=H-h-24:enable='gte(t,{start})*lt(t,{end})'[v{i}]"
            )
            previous = f"v{i}"
        inputs = [arg for banner in banners for arg in ("-i", str(banner))]
        args = [*inputs, "-filter_complex", ";".join(graph), "-map", f"[{previous}]"]
        await asyncio.to_thread(
            _ffmpeg, *args, "-t", str(duration), *H264, *BITEXACT, "-an", str(path)
        )
    return path


def make_counter_video(path: Path, duration: float, cuts: Sequence[float] = ()) -> Path:
    """Write a video whose every frame shows its own frame number ``n`` (time n/25 s):
    bit ``k`` of n is a white or black cell in a thin strip across the top. Below the
    strip a flat colour changes at each of ``cuts``, which makes a hard scene cut
    there. The strip is thin so its flicker never looks like a cut itself."""
    w, h = SIZE
    cell = w // COUNTER_BITS
    colours = ("0x202060", "0xe0e0a0", "0x602020", "0xa0e0e0")
    edges = [0.0, *cuts, duration]
    shots = [
        f"color=c={colours[i % len(colours)]}:size={w}x{h}:rate={RATE}:duration={end - start}"
        f",format=yuv420p[s{i}]"
        for i, (start, end) in enumerate(itertools.pairwise(edges))
    ]
    joined = "".join(f"[s{i}]" for i in range(len(shots)))
    code = ",".join(
        f"drawbox=x={bit * cell}:y=0:w={cell}:h={COUNTER_STRIP}:c=black:t=fill,"
        f"drawbox=x={bit * cell}:y=0:w={cell}:h={COUNTER_STRIP}:c=white:t=fill"
        f":enable='mod(floor(n/{1 << bit}),2)'"
        for bit in range(COUNTER_BITS)
    )
    graph = ";".join(shots) + f";{joined}concat=n={len(shots)}:v=1:a=0,{code}[v]"
    # Cells must survive compression exactly: near-lossless quality.
    _ffmpeg("-filter_complex", graph, "-map", "[v]", *H264, "-crf", "4", *BITEXACT, str(path))
    return Path(path)


def read_counter(png: Path) -> int:
    """The frame number a frame of :func:`make_counter_video` shows."""
    with Image.open(png) as image:
        grey = image.convert("L")
        cell = grey.width // COUNTER_BITS
        return sum(
            1 << bit
            for bit in range(COUNTER_BITS)
            if grey.getpixel((bit * cell + cell // 2, COUNTER_STRIP // 2)) > 128
        )


def make_audio_only(path: Path, duration: float = 5.0) -> Path:
    """An M4A with a sine tone and no video stream: not something to take frames of."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}",
        "-c:a", "aac", *BITEXACT, str(path),
    )  # fmt: skip
    return Path(path)
