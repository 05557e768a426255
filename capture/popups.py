"""No popups: a page's ``window.open`` opens nothing during a capture, as in Chrome.

Chrome's popup blocker refuses a script's ``window.open`` without a user's gesture,
and a capture makes no gestures: in full Chromium no popup of a captured page ever
opens. The headless shell the captures run in (capture/browser.py) has no popup
blocker, so a page that opens popups (each opening the next) would load them all,
unrecorded, each a request to the page's servers the investigator did not ask for.
This script, added before the page's own in every frame, answers ``window.open``
as the blocker does: with ``null``, opening nothing. It is a proxy of the original,
so the page still sees a native function.
"""

from __future__ import annotations

from playwright.async_api import Page

_BLOCK_JS = r"""(() => {
  const open = window.open;
  if (typeof open !== "function") return;
  window.open = new Proxy(open, {apply: () => null});
})();"""


async def block(page: Page) -> None:
    """Add the script to the page's new documents (before navigation)."""
    await page.add_init_script(script=_BLOCK_JS)
