"""``osint-capture serve``: the capture server.

``serve`` listens on loopback unless ``--allow-remote`` says the API is meant to face
the network. The token its clients present is ``token``'s (:mod:`capture.cli.tokens`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive import __version__
from archive.datadir import TOKEN_FILE
from archive.evidence.trustedtime import ANCHOR_INTERVAL_SECONDS
from archive.settings import load_settings
from capture.analysis.engines import AnalysisSettings
from capture.cli.exits import ExitCode, complain
from capture.cli.options import (
    add_reading_options,
    anchor_interval,
    data_option,
    reading_options,
    tsa_config,
    tsa_options,
    workers,
)
from capture.scheduler import format_interval

#: Captures at once of an embedded server given no --workers.
DEFAULT_WORKERS = 2

if TYPE_CHECKING:
    from capture.cli.options import Commands


def register(commands: Commands) -> None:
    _serve_parser(commands)


def _serve_parser(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the capture server (API for the extension)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (8787)")
    data_option(serve)
    serve.add_argument(
        "--workers",
        type=workers,
        default=None,
        help="captures that run at once in this process (default 2; in team mode none"
        " unless given: `osint-capture worker` runs them)",
    )
    tsa_options(serve)
    add_reading_options(serve, server=True)
    serve.add_argument(
        "--anchor-every",
        type=anchor_interval,
        default=ANCHOR_INTERVAL_SECONDS,
        metavar="INTERVAL",
        help="how often the custody head is anchored with the TSAs when events were added"
        f" (default {format_interval(int(ANCHOR_INTERVAL_SECONDS))})",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow listening on a non-loopback address (the API then faces the network)",
    )


def run_serve(args: argparse.Namespace, data_dir: Path) -> int:
    """Serve until stopped; refused before anything starts when the address or options are."""
    from aiohttp import web

    from capture.server import ServerSettings, make_app
    from capture.server.security import LOOPBACK_NAMES, allowed_hosts, load_or_create_token
    from capture.service import CaptureService

    loopback = args.host in (*LOOPBACK_NAMES, "::1")
    if not loopback and not args.allow_remote:
        return complain(
            f"refusing to listen on {args.host}: the API would face the network. "
            "Use --allow-remote if that is really meant.",
            ExitCode.BAD_INPUT,
        )
    token = load_or_create_token(data_dir / TOKEN_FILE)
    settings = ServerSettings(token=token, hosts=allowed_hosts(args.host, args.port))
    defaults = reading_options(args)
    team = load_settings(data_dir).queue == "postgresql"
    count = args.workers if args.workers is not None else (0 if team else DEFAULT_WORKERS)
    service = CaptureService(
        data_dir,
        workers=count,
        tsa=tsa_config(args),
        anchor_interval=args.anchor_every,
        analysis=AnalysisSettings.for_data_dir(data_dir, translation_model=args.translation_model),
        analysis_defaults=defaults,
        analysis_workers=args.analysis_workers,
    )
    app = make_app(service, settings)
    print(
        f"osint-capture {__version__} serving {data_dir.resolve()} on "
        f"http://{args.host}:{args.port}/api/v1 ({_workers_shown(count, team)})\n"
        f"  token: `osint-capture token --data {data_dir}`",
        file=sys.stderr,
        flush=True,
    )
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    except OSError as exc:
        return complain(f"cannot listen on {args.host}:{args.port}: {exc}", ExitCode.FAILED)
    return ExitCode.COMPLETE


def _workers_shown(count: int, team: bool) -> str:
    if team and not count:
        return "team queue: captures run on `osint-capture worker`"
    return f"{count} workers" + (" on the team queue" if team else "")
