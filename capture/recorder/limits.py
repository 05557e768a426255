"""How far the recorder goes: body sizes, read sizes, setup timeouts, and the deadline.

The numbers every part of the recorder keeps to live here, so that one module says
them all; :class:`Deadline` is the capture's time budget, shared by the parts that
wait on the browser (taking bodies, handing them back).
"""

from __future__ import annotations

import asyncio

#: Bodies of known length up to this are taken whole while the response is paused.
BUFFER_LIMIT = 8 * 1024 * 1024
#: Streamed bodies up to this are handed back to the page after recording; larger
#: ones are recorded in full but the page gets an empty body (noted in the record).
#: A media player then asks again, and that repeat flows to it untouched.
PASSBACK_LIMIT = 32 * 1024 * 1024
#: No response body is recorded past this many bytes (``Recorder(body_limit=...)``).
#: Read when a recorder is made, so a test may set it here.
BODY_LIMIT = 1024 * 1024 * 1024
#: What Chromium keeps per resource for ``Network.getResponseBody`` (late bodies).
BROWSER_RESOURCE_BUFFER = 32 * 1024 * 1024
BROWSER_TOTAL_BUFFER = 256 * 1024 * 1024
#: Bytes asked for per ``IO.read`` when streaming a body.
IO_CHUNK = 1024 * 1024
#: How long past the deadline an outstanding read may still answer.
STREAM_GRACE = 5.0
#: How long setup commands may take.
SETUP_TIMEOUT = 10.0
#: A body still being taken when its frame or worker goes gets this long to finish:
#: a command sent to a target that went is never answered.
GONE_GRACE = 1.0


class Deadline:
    """The event-loop time by which recording must stop."""

    def __init__(self, at: float) -> None:
        self.at = at

    def remaining(self) -> float:
        return max(0.05, self.at - asyncio.get_running_loop().time())

    def expired(self) -> bool:
        return asyncio.get_running_loop().time() >= self.at
