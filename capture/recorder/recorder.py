"""The recorder: every request and response of a page, through the browser's own stack.

It attaches to the page's target over CDP (and, automatically, to every child
target such as out-of-process iframes and workers, before they run), listens to
the Network domain for requests, headers, addresses and TLS details, and pauses
each response in the Fetch domain to take its body. :class:`Recorder` is the one
object the pipeline and the behaviours hold; it makes the parts, wires them, and
answers for them:

- ``Targets`` (``attaching.py``) owns the sessions: the page's and its children's;
- ``Ledger`` (``ledger.py``) owns the exchanges, by network request id;
- ``Bodies`` (``bodies.py``) owns the bodies in flight and the bytes kept;
- ``RecordWriter`` (``writing.py``) owns the WARC file and its lock;
- ``TlsOrigins`` (``tls.py``) and ``Repeats`` (``repeats.py``) own the origins and
  the whole media copies seen;
- ``NetworkEvents`` (``network.py``) and ``FetchPauses`` (``fetch.py``) hold the CDP
  handlers and no state: they work on the owners above.

Each piece of state has one owner, so that a handler's change to it is made in one
place, and two parts that must agree (a pause and the Network domain on which
exchange a request id names; an exchange and a certificate record on the file)
share the owner rather than a copy.

Two bounds besides the time budget. A body is never recorded past ``body_limit``
(:data:`~capture.recorder.limits.BODY_LIMIT` by default): the record holds what came
before the limit and says it was cut. And a media player asks for the same video
again and again; once the whole body of an audio or video URL is recorded, later
responses for it are recorded with their headers only (``repeats.py``;
:meth:`Recorder.repeats_not_recorded` says so in words for the manifest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.warcfile import WarcFile
from capture.cdp import CDPConnection, CDPSession
from capture.exchange import BodyState, Exchange
from capture.nonhttp import NonHttpLog
from capture.progress_events import Progress, ignore
from capture.recorder import limits
from capture.recorder.attaching import Targets
from capture.recorder.bodies import Bodies
from capture.recorder.fetch import FetchPauses
from capture.recorder.ledger import Ledger
from capture.recorder.network import NetworkEvents
from capture.recorder.repeats import Repeats, repeats_not_recorded
from capture.recorder.tls import TlsOrigins
from capture.recorder.writing import RecordWriter


class Recorder:
    """Records one page (and its child targets) into one WARC file."""

    def __init__(
        self,
        connection: CDPConnection,
        warc: WarcFile,
        *,
        deadline: float,
        on_progress: Progress | None = None,
        redact_cookies: bool = False,
        body_limit: int | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.connection = connection
        self.deadline = limits.Deadline(deadline)
        self.non_http = NonHttpLog()  # requests that are not HTTP: facts, never records
        self.targets = Targets(connection, self.non_http)
        self.ledger = Ledger()
        self.bodies = Bodies(
            self.deadline,
            # Read now, not at import: a test sets limits.BODY_LIMIT.
            body_limit=limits.BODY_LIMIT if body_limit is None else body_limit,
            spool_dir=spool_dir,
        )
        self.writer = RecordWriter(
            warc,
            self.ledger,
            self.bodies,
            redact_cookies=redact_cookies,
            on_progress=on_progress or ignore,
        )
        self.tls = TlsOrigins(self.targets, self.writer)
        self.repeats = Repeats()
        self.network = NetworkEvents(self.ledger, self.bodies, self.tls, self.writer)
        self.fetch = FetchPauses(self.ledger, self.bodies, self.repeats, self.deadline)

    # -- what the capture reads --------------------------------------------------------

    @property
    def exchanges(self) -> list[Exchange]:
        """Every HTTP exchange of the page, in the order started (the ledger's own list)."""
        return self.ledger.exchanges

    @property
    def page_session(self) -> CDPSession | None:
        return self.targets.page_session

    @property
    def main_frame_id(self) -> str | None:
        return self.targets.main_frame_id

    @property
    def problems(self) -> list[str]:
        return self.targets.problems

    @property
    def tls_origins(self) -> dict[str, dict[str, Any]]:
        return self.tls.origins

    @property
    def spool_errors(self) -> list[OSError]:
        """Spool writes that failed (a full disk); each cut a body."""
        return self.bodies.spool_errors

    @property
    def bytes_recorded(self) -> int:
        return self.bodies.bytes_recorded

    @property
    def records_written(self) -> int:
        return self.writer.records_written

    @property
    def last_activity(self) -> float | None:
        """Event-loop time when a request last started or an exchange was last written."""
        return self.ledger.last_activity

    def pending(self) -> list[Exchange]:
        """Requests not yet written to the WARC (loading, or not read to the end by the page)."""
        return self.ledger.pending()

    def repeats_not_recorded(self) -> list[str]:
        """One sentence per media URL whose repeated requests were recorded headers only."""
        return repeats_not_recorded(self.ledger.exchanges)

    # -- attaching, stopping, closing ------------------------------------------------------

    async def attach(self, target_id: str) -> None:
        """Attach to the page's target; must happen before navigation starts."""
        handlers = {**self.network.handlers(), **self.fetch.handlers()}
        await self.targets.attach(target_id, handlers, gone=self.network.on_target_gone)

    async def cut(self, reason: str) -> list[Exchange]:
        """Stop at the time budget: record what arrived and return what was cut."""
        await self.bodies.stop(reason)
        cut = []
        for exchange in self.pending():
            if exchange.written:
                continue
            if exchange.has_response and (
                exchange.body_whole or exchange.body_state == BodyState.REPEAT
            ):
                # A response the page never read to the end, but whose body we hold whole
                # (here, or for a repeat in the record it points at).
                await self.writer.write(exchange)
                continue
            cut.append(exchange)
            exchange.error = exchange.error or f"still loading when the capture stopped: {reason}"
            if (
                exchange.has_response
                and exchange.body is not None
                and exchange.body_state == BodyState.COMPLETE
                and not exchange.finished
            ):
                exchange.body_state = BodyState.TRUNCATED
                exchange.body_note = f"body cut at {exchange.body.size} bytes: {reason} (time)"
            if exchange.has_response and exchange.body is None:
                exchange.body_state = BodyState.UNAVAILABLE
                exchange.body_note = (
                    exchange.body_note or "response still loading when the capture stopped"
                )
            await self.writer.write(exchange)
        return cut

    async def close(self) -> None:
        """Let pending metadata writes finish and release the browser's paused requests."""
        await self.tls.finish()
        await self.writer.drain()
        await self.targets.release()
