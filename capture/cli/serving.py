"""``osint-capture serve``: the capture server.

``serve`` listens on loopback unless ``--allow-remote`` says the API is meant to face
the network. Its first start on a fresh archive makes the owner's account (an admin
holding ``DATA/api-token``) and says how to log in to the dashboard. The token its
clients present is ``token``'s (:mod:`capture.cli.tokens`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archive import __version__
from archive.evidence.trustedtime import ANCHOR_INTERVAL_SECONDS
from archive.settings import load_settings
from capture.analysis.engines import AnalysisSettings
from capture.cli.exits import ExitCode, complain
from capture.cli.oidc_options import oidc_options, oidc_settings
from capture.cli.options import (
    DEFAULT_WORKERS,
    add_reading_options,
    anchor_interval,
    data_option,
    reading_options,
    tsa_config,
    tsa_options,
    workers,
)
from capture.scheduler import format_interval

if TYPE_CHECKING:
    from capture.cli.options import Commands
    from capture.server.access import FirstStart


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
        help=f"captures that run at once in this process (default {DEFAULT_WORKERS};"
        " in team mode none unless given: `osint-capture worker` runs them)",
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
    oidc_options(serve)


def run_serve(args: argparse.Namespace, data_dir: Path) -> int:
    """Serve until stopped; refused before anything starts when the address or options are."""
    from aiohttp import web

    from capture.server import ServerSettings, make_app
    from capture.server.access import first_start
    from capture.server.security import LOOPBACK_NAMES, allowed_hosts
    from capture.service import CaptureService

    loopback = args.host in (*LOOPBACK_NAMES, "::1")
    if not loopback and not args.allow_remote:
        return complain(
            f"refusing to listen on {args.host}: the API would face the network. "
            "Use --allow-remote if that is really meant.",
            ExitCode.BAD_INPUT,
        )
    settings = ServerSettings(hosts=allowed_hosts(args.host, args.port), oidc=oidc_settings(args))
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
    dashboard = _dashboard_address(args.host, args.port, loopback)
    print(
        f"osint-capture {__version__} serving {data_dir.resolve()} on "
        f"http://{args.host}:{args.port}/api/v1 ({_workers_shown(count, team)})\n"
        f"  dashboard: {dashboard}\n"
        f"  token: `osint-capture token --data {data_dir}`",
        file=sys.stderr,
        flush=True,
    )

    async def announce(app: web.Application) -> None:
        first = first_start(app)
        if first is not None:
            print(_first_start_text(first, dashboard, data_dir), file=sys.stderr, flush=True)

    app.on_startup.append(announce)  # after the service's start, which makes the owner
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    except OSError as exc:
        return complain(f"cannot listen on {args.host}:{args.port}: {exc}", ExitCode.FAILED)
    return ExitCode.COMPLETE


def _dashboard_address(host: str, port: int, loopback: bool) -> str:
    """Where a person opens the dashboard: on a loopback server, the dashboard's own
    loopback name (the other one is replay's)."""
    if loopback:
        from capture.server.sessions import DASHBOARD_HOSTNAME

        host = DASHBOARD_HOSTNAME
    return f"http://{host}:{port}/"


def _first_start_text(first: FirstStart, dashboard: str, data_dir: Path) -> str:
    """What the first start made, and the two ways in."""
    from capture.server.once import LIFETIME

    adoption = first.adoption
    owner = adoption.owner.name
    before = ""
    if adoption.cases or adoption.captures:
        before = (
            f" The {len(adoption.cases)} cases and {adoption.captures} captures of no case"
            " made before there were accounts are theirs."
        )
    minutes = LIFETIME // 60
    return (
        f"first start: made the account {owner!r} (admin), the owner of this archive,"
        f" holding this computer's token.{before}\n"
        f"  log in to the dashboard once with this link (good for {minutes} minutes):\n"
        f"    {dashboard}login/once?key={first.link_key}\n"
        f"  or paste the token into its login form (and into the extension's Options):"
        f" `osint-capture token --data {data_dir}`"
    )


def _workers_shown(count: int, team: bool) -> str:
    if team and not count:
        return "team queue: captures run on `osint-capture worker`"
    return f"{count} workers" + (" on the team queue" if team else "")
