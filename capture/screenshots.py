"""Screenshots straight from the browser: the viewport, and the whole height of the page.

Asked of Chromium on the recorder's own DevTools connection (``Page.captureScreenshot``)
rather than through Playwright, whose full-page screenshot is several round trips
through its driver. ``optimizeForSpeed`` has Chromium encode the PNG with its fast
settings: the same pixels, losslessly, in a larger file (about twice), for a
fraction of the time; ``captureBeyondViewport`` renders the whole height without
resizing the window, so the page is not laid out again for a taller viewport.
"""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

from capture.cdp import CDPSession

#: A screenshot that takes longer than this is given up (a page painting forever).
SCREENSHOT_TIMEOUT = 30.0
#: The full-page screenshot shows at most this many pixels of height (and width): an
#: endless feed scrolled for minutes would otherwise need gigabytes of pixels in the
#: browser. A taller page is cut there, and says so (:func:`full_page_png`'s second
#: value). Chromium here renders 80,000 px in one image (measured).
MAX_SIDE = 100_000


async def viewport_png(session: CDPSession, timeout: float = SCREENSHOT_TIMEOUT) -> bytes:
    """The first screen, as it is painted now."""
    return await _capture(session, {"format": "png", "optimizeForSpeed": True}, timeout)


async def full_page_png(
    session: CDPSession, timeout: float = SCREENSHOT_TIMEOUT
) -> tuple[bytes, int, int]:
    """The whole page, from its top: the PNG, the page's full height and the height shown.

    The two heights differ only for a page taller than :data:`MAX_SIDE` pixels.
    """
    metrics = await session.send("Page.getLayoutMetrics", timeout=timeout)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width = max(1, math.ceil(size["width"]))
    height = max(1, math.ceil(size["height"]))
    shown = min(height, MAX_SIDE)
    params: dict[str, Any] = {
        "format": "png",
        "optimizeForSpeed": True,
        "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": min(width, MAX_SIDE), "height": shown, "scale": 1},
    }
    return await _capture(session, params, timeout), height, shown


async def _capture(session: CDPSession, params: dict[str, Any], timeout: float) -> bytes:
    reply = await session.send("Page.captureScreenshot", params, timeout=timeout)
    # In a thread: a long page's image is megabytes of base64, and every other capture
    # of the server shares this event loop.
    return await asyncio.to_thread(base64.b64decode, reply["data"])
