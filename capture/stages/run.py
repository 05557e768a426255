"""One capture while it runs: what every stage shares, and how a stage gives up.

:class:`Run` holds only what is shared: the request, the ids, the deadlines, the
progress callback, the store and the catalog, the stage the capture is in, and
the typed results the stages have returned so far (the failure path reads them
to say what was found before it failed). What a stage found is in its result,
never written back here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.errors import Failed
from archive.sealed_store import SealedStore
from capture.progress_events import Progress, StageEntered
from capture.stages.results import StageResult

if TYPE_CHECKING:
    from capture.pipeline import Stage
    from capture.requests import CaptureRequest

_T = TypeVar("_T")
_R = TypeVar("_R", bound=StageResult)


@dataclass
class Run:
    """What the stages of one capture share while it runs."""

    request: CaptureRequest
    capture_id: str
    #: A worker claimed the capture from the catalog's queue: its row exists already.
    claimed: bool
    #: The data directory's archive; ``store`` and ``catalog`` are its own, named here
    #: because nearly every stage writes through one of them.
    archive: Archive
    store: SealedStore
    catalog: Catalog
    progress: Progress
    started_at: datetime
    deadline: float
    #: When the page's part ends: the deadline minus the reserve kept for sealing.
    page_deadline: float
    stage: Stage
    #: Set once the manifest is sealed and recorded: from then on nothing is quarantined.
    #: Set in the sealing thread, so that an interrupt that arrives meanwhile sees it.
    sealed: bool = False
    #: The results of the stages that finished, in order.
    found: list[StageResult] = field(default_factory=list)

    def enter(self, stage: Stage, **details: Any) -> None:
        """The capture is in ``stage`` now: failures name it, and the progress callback
        hears :class:`StageEntered` (the stage's value, and ``details``: the ``id`` and
        ``url`` of ``prepare``, the ``status`` of ``done``, the ``reasons`` of ``failed``)."""
        self.stage = stage
        self.progress(StageEntered(stage.value, **details))

    def keep(self, result: _R) -> _R:
        """Keep a stage's result for the reasons, and hand it back."""
        self.found.append(result)
        return result

    def left(self) -> float:
        """Time left for one call into the page (at least a second): a page whose script
        never yields answers no call, and Playwright's calls have no timeout of their own."""
        return max(1.0, self.deadline - asyncio.get_running_loop().time())


class StageFailed(Failed):
    """A stage found that nothing can be sealed; ``reasons`` say why, first reason first.

    The pipeline sets the capture's files aside and raises
    :class:`~capture.pipeline.CaptureFailed` with the failed manifest.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


async def to_thread_to_the_end(func: Callable[..., _T], /, *args: Any) -> _T:
    """``func(*args)`` in a worker thread, finished even if the capture is cancelled.

    A thread cannot be stopped. Were the cancellation to return at once, the failure
    path would quarantine files the thread is still sealing, or fail a capture it
    is about to record as sealed; so it waits for the thread, then is raised.
    """
    future = asyncio.ensure_future(asyncio.to_thread(func, *args))
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return future.result()
