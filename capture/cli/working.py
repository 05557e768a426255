"""``osint-capture worker``: a capture worker of a team installation.

It takes capture jobs from the team queue (``OSINT_CAPTURE_QUEUE=postgresql``) with a
Chromium of its own, runs the analysis runs captures ask for, and takes its turn at
the installation's periodic duties (the scheduler, the retry of stalled jobs,
trusted time). One line per job on stderr names the capture and how it ended.
SIGTERM or SIGINT stops it cleanly: no new job is taken, running captures get up to
:data:`capture.teamqueue.queue.GRACE_SECONDS` to finish, and any still running then
are set aside and queued again for another worker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive import __version__
from archive.errors import BadInput
from archive.evidence.trustedtime import ANCHOR_INTERVAL_SECONDS
from archive.settings import load_settings
from capture.analysis.engines import AnalysisSettings
from capture.cli.exits import ExitCode
from capture.cli.options import (
    DEFAULT_WORKERS,
    add_reading_options,
    data_option,
    reading_options,
    tsa_config,
    tsa_options,
    workers,
)

if TYPE_CHECKING:
    from capture.cli.options import Commands
    from capture.service import CaptureService

#: The default lease (seconds): a worker silent this long is taken for dead.
DEFAULT_LEASE = 30.0


class NotTeamMode(BadInput):
    """``worker`` was started on an installation whose queue is embedded."""


def register(commands: Commands) -> None:
    worker = commands.add_parser(
        "worker", help="run captures from a team installation's queue (team mode)"
    )
    data_option(worker)
    worker.add_argument(
        "--concurrency",
        type=workers,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"captures at once (default {DEFAULT_WORKERS})",
    )
    worker.add_argument(
        "--lease",
        type=_lease,
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help="a worker silent this long is taken for dead and its captures run again elsewhere"
        f" (default {DEFAULT_LEASE:g}; give every worker the same)",
    )
    tsa_options(worker)
    add_reading_options(worker, server=True)


def _lease(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 3 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("the lease must be between 3 and 3600 seconds")
    return seconds


def run_worker(args: argparse.Namespace, data_dir: Path) -> int:
    """Work until SIGTERM or SIGINT; refused at once on an embedded installation."""
    from capture.service import CaptureService

    settings = load_settings(data_dir)
    if settings.queue != "postgresql":
        raise NotTeamMode(
            f"`osint-capture worker` takes jobs from a team queue, but the queue of {data_dir}"
            f" is {settings.queue} (from {settings.origins['queue']}): set"
            ' OSINT_CAPTURE_QUEUE=postgresql (or queue = "postgresql" in the config file),'
            " or use `osint-capture serve`, which runs its own captures"
        )
    _log_to_stderr()
    service = CaptureService(
        data_dir,
        workers=args.concurrency,
        tsa=tsa_config(args),
        anchor_interval=ANCHOR_INTERVAL_SECONDS,
        analysis=AnalysisSettings.for_data_dir(data_dir, translation_model=args.translation_model),
        analysis_defaults=reading_options(args),
        analysis_workers=args.analysis_workers,
        lease=args.lease,
        listen_events=False,  # it serves no event stream: it only sends its own
    )
    print(
        f"osint-capture {__version__} worker on {data_dir.resolve()}"
        f" ({args.concurrency} at once, lease {args.lease:g}s)",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(_work_until_stopped(service))
    return ExitCode.COMPLETE


async def _work_until_stopped(service: CaptureService) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await service.start()
    try:
        await stopping.wait()
        print("stopping: running captures finish or are handed back", file=sys.stderr, flush=True)
    finally:
        await service.stop()


def _log_to_stderr() -> None:
    """One line per job (capture.teamqueue) and every warning; procrastinate's chatter off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("capture.teamqueue").setLevel(logging.INFO)
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
