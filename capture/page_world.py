"""Scripts the capture runs in the page, in a world of their own.

A page's scripts can redefine what any other script in the page sees: ``innerText``,
``getComputedStyle``, ``document.body``. What the capture reads from the page (the
visible-text record, the visibility measurement) is therefore read in an isolated world
(CDP ``Page.createIsolatedWorld``), which shares the page's DOM and layout but none of
its JavaScript: the answers are the browser's own, whatever the page has redefined for
itself. Nothing run here writes to the page.
"""

from __future__ import annotations

from typing import Any

from capture.cdp import CDPError, CDPSession


async def evaluate(
    session: CDPSession, frame_id: str, expression: str, *, world: str, timeout: float
) -> Any:
    """The value of ``expression`` (returned by value), run in a new isolated world named
    ``world`` in frame ``frame_id``; :class:`CDPError` when the browser refuses or the
    script throws. The world's name shows in the browser's own tools, never to the page."""
    made = await session.send(
        "Page.createIsolatedWorld", {"frameId": frame_id, "worldName": world}, timeout=timeout
    )
    reply = await session.send(
        "Runtime.evaluate",
        {
            "expression": expression,
            "contextId": made["executionContextId"],
            "returnByValue": True,
            "timeout": int(timeout * 1000),
        },
        timeout=timeout,
    )
    if "exceptionDetails" in reply:
        details = reply["exceptionDetails"]
        described = details.get("exception", {}).get("description") or details.get("text")
        raise CDPError("Runtime.evaluate", f"the script failed: {described}")
    return reply["result"].get("value")
