"""The ``osint-capture`` command: thin argparse subcommands over the pipeline and catalog."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from archive import __version__
from archive.catalog import CATALOG_NAME, Catalog, CatalogError
from archive.timeutil import now_rfc3339
from capture.analysis.engines import AnalysisSettings
from capture.analysis.options import AnalysisOptions, AnalysisOptionsError
from capture.analysis_commands import (
    add_analyse_parser,
    add_reading_options,
    analyse_now,
    print_run,
    reading_options,
    run_analyse,
)
from capture.browser import BrowserError
from capture.custody_commands import add_custody_parser, print_anchor_run, run_custody
from capture.media import MediaLimits
from capture.pipeline import (
    DEFAULT_TIMEOUT,
    CaptureFailed,
    CaptureRequest,
    capture_page,
)
from capture.scheduler import (
    IntervalError,
    event_dict,
    format_interval,
    parse_interval,
    target_dict,
)
from capture.trustedtime import ANCHOR_INTERVAL_SECONDS, TimestampConfig
from capture.urls import BadURL, validate_url
from capture.verify_commands import add_key_parser, add_verify_parser, run_key, run_verify


class ExitCode(IntEnum):
    COMPLETE = 0
    FAILED = 1
    BAD_INPUT = 2
    PARTIAL = 3
    INTERRUPTED = 130


def default_data_dir() -> Path:
    return Path(os.environ.get("OSINT_CAPTURE_DATA") or "./data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="osint-capture",
        description="Capture web pages as sealed, verifiable evidence (WARC + SHA-256).",
    )
    parser.add_argument("--version", action="version", version=f"osint-capture {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    capture = commands.add_parser("capture", help="capture one page into a sealed WARC")
    capture.add_argument("url", help="http or https URL of the page")
    capture.add_argument("--case", help="case the capture belongs to (created if new)")
    capture.add_argument("--note", help="free text kept with the capture")
    capture.add_argument("--operator", help="who made the capture (default: $USER)")
    _data_option(capture)
    capture.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"the whole capture's time budget in seconds (default {DEFAULT_TIMEOUT:g})",
    )
    capture.add_argument("--json", action="store_true", help="print the manifest as JSON")
    _media_options(capture)
    add_reading_options(capture)
    _tsa_options(capture)

    listing = commands.add_parser("list", help="list captures in the catalog")
    listing.add_argument("--case", help="only captures of this case")
    _data_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")

    serve = commands.add_parser("serve", help="run the capture server (API for the extension)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (8787)")
    _data_option(serve)
    serve.add_argument(
        "--workers", type=_workers, default=2, help="captures that run at once (default 2)"
    )
    _tsa_options(serve)
    add_reading_options(serve, server=True)
    serve.add_argument(
        "--anchor-every",
        type=_anchor_interval,
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

    token = commands.add_parser("token", help="print the API token (made on first use)")
    _data_option(token)
    token.add_argument(
        "--reset-pairing",
        action="store_true",
        help="forget the paired extension, so the next one that presents the token is paired",
    )

    timestamp = commands.add_parser(
        "timestamp", help="get trusted time (RFC 3161) for captures that are still pending"
    )
    timestamp.add_argument(
        "--pending", action="store_true", required=True, help="every pending capture, now"
    )
    _data_option(timestamp)
    _tsa_options(timestamp)

    export = commands.add_parser(
        "export", help="package captures as a signed WACZ with a report, for court"
    )
    export.add_argument("ids", nargs="*", metavar="CAPTURE_ID", help="captures to export")
    export.add_argument("--case", help="export every sealed capture of this case")
    export.add_argument("--out", type=Path, required=True, help="the .wacz file to write")
    export.add_argument("--operator", help="who exports (default: $USER)")
    _data_option(export)
    _tsa_options(export)

    add_analyse_parser(commands, _data_option, _tsa_options)
    add_verify_parser(commands, _data_option)
    add_key_parser(commands, _data_option, _tsa_options)

    add_custody_parser(commands, data_option=_data_option, tsa_options=_tsa_options)
    _watch_parser(commands)
    return parser


def _watch_parser(commands: Any) -> None:
    """``osint-capture watch``: targets the running server re-captures on a schedule."""
    watch = commands.add_parser(
        "watch", help="watch pages: re-capture them on a schedule (the server runs them)"
    )
    actions = watch.add_subparsers(dest="watch_command", metavar="ACTION")
    add = actions.add_parser("add", help="watch a URL: capture it now, then every INTERVAL")
    add.add_argument("url", help="http or https URL of the page")
    add.add_argument(
        "--every", required=True, metavar="INTERVAL", help="how often, e.g. 90s, 15m, 6h, 2d"
    )
    add.add_argument("--case", help="case its captures belong to (created if new)")
    add.add_argument("--note", help="free text kept with every capture of it")
    add.add_argument("--operator", help="who watches it (default: $USER)")
    add.add_argument(
        "--allow-fast",
        action="store_true",
        help="allow intervals under a minute (for tests against local pages only)",
    )
    _data_option(add)
    add.add_argument("--json", action="store_true", help="print the target as JSON")
    listing = actions.add_parser("list", help="list watched targets")
    listing.add_argument("--all", action="store_true", help="include removed targets")
    _data_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one target and its timeline")
    show.add_argument("id", type=int, metavar="ID")
    _data_option(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (
        ("pause", "stop re-capturing a target for now"),
        ("resume", "re-capture a paused target again (a missed run is caught up once)"),
        ("remove", "stop watching a target for good (its captures are kept)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int, metavar="ID")
        _data_option(action)


def _anchor_interval(value: str) -> float:
    try:
        return float(parse_interval(value, allow_fast=True))
    except IntervalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= workers <= 16:
        raise argparse.ArgumentTypeError("workers must be between 1 and 16")
    return workers


def _media_options(parser: argparse.ArgumentParser) -> None:
    defaults = MediaLimits()
    group = parser.add_argument_group("media (videos and audio, downloaded whole with yt-dlp)")
    group.add_argument("--no-media", action="store_true", help="do not download media")
    group.add_argument(
        "--media-max-size",
        type=_size,
        default=defaults.max_file_bytes,
        help="largest media file, e.g. 500M or 2G (default 4G); larger ones are cut",
    )
    group.add_argument(
        "--media-max-total",
        type=_size,
        default=defaults.max_capture_bytes,
        help="all media of one capture together (default 16G)",
    )
    group.add_argument(
        "--media-max-duration",
        type=_positive_seconds,
        default=defaults.max_duration,
        help="longest media in seconds (default 21600)",
    )
    group.add_argument(
        "--media-timeout",
        type=_positive_seconds,
        default=defaults.budget,
        help="time for all media downloads of a capture, in seconds (default 1800)",
    )


def _tsa_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("trusted time (RFC 3161)")
    group.add_argument(
        "--tsa",
        action="append",
        metavar="URL",
        help="time-stamp authority (repeatable; default $OSINT_CAPTURE_TSA, comma-separated, "
        "else a few public TSAs; an empty $OSINT_CAPTURE_TSA asks none)",
    )
    group.add_argument(
        "--tsa-trust",
        action="append",
        type=Path,
        metavar="FILE",
        help="PEM file of extra trust roots for TSAs (repeatable)",
    )


def _tsa_config(args: argparse.Namespace) -> TimestampConfig:
    return TimestampConfig.resolve(args.tsa, args.tsa_trust)


def _media_limits(args: argparse.Namespace) -> MediaLimits | None:
    if args.no_media:
        return None
    return MediaLimits(
        max_file_bytes=args.media_max_size,
        max_capture_bytes=args.media_max_total,
        max_duration=args.media_max_duration,
        budget=args.media_timeout,
    )


def _size(value: str) -> int:
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    text = value.strip().upper().removesuffix("B")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size like 500M or 2G") from None
    if size <= 0:
        raise argparse.ArgumentTypeError("a size must be more than 0")
    return size


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data directory (default: $OSINT_CAPTURE_DATA or ./data)",
    )


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 1 <= seconds <= 24 * 3600:
        raise argparse.ArgumentTypeError("the time budget must be between 1 and 86400 seconds")
    return seconds


def _unreadable_trust(files: list[Path] | None) -> str | None:
    """Why a ``--tsa-trust`` file cannot be used, before any work starts (else ``None``).

    Found later, a missing root would leave every token unverifiable halfway through a
    capture or an export; every command that takes the option is checked here, once.
    """
    from archive.timestamps import TimestampError, TrustStore

    try:
        TrustStore.load(files or ())
    except TimestampError as exc:
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return ExitCode.BAD_INPUT
    data_dir = getattr(args, "data", None) or default_data_dir()
    unreadable = _unreadable_trust(getattr(args, "tsa_trust", None))
    if unreadable:
        print(f"osint-capture: {unreadable}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.command == "capture":
        return run_capture(args, data_dir)
    if args.command == "serve":
        return run_serve(args, data_dir)
    if args.command == "token":
        return run_token(args, data_dir)
    if args.command == "key":
        return run_key(args, data_dir)
    if args.command == "timestamp":
        return run_timestamp(args, data_dir)
    if args.command == "export":
        return run_export(args, data_dir)
    if args.command == "verify":
        return run_verify(args, data_dir)
    if args.command == "analyse":
        return run_analyse(args, data_dir, CATALOG_NAME)
    if args.command == "watch":
        if args.watch_command is None:
            parser.parse_args(["watch", "--help"])
        return run_watch(args, data_dir)
    if args.command == "custody":
        if args.custody_command is None:
            parser.parse_args(["custody", "--help"])
        return run_custody(args, data_dir)
    return run_list(args, data_dir)


def run_export(args: argparse.Namespace, data_dir: Path) -> int:
    from archive.export import ExportError
    from capture.exporting import choose_captures, export

    if bool(args.ids) == bool(args.case):
        print("osint-capture: give capture ids or --case NAME (one of the two)", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.out.suffix != ".wacz":
        print(f"osint-capture: {args.out} should end in .wacz", file=sys.stderr)
        return ExitCode.BAD_INPUT
    catalog_path = data_dir / CATALOG_NAME
    if not catalog_path.exists():
        print(f"osint-capture: no archive at {data_dir} (no {CATALOG_NAME})", file=sys.stderr)
        return ExitCode.BAD_INPUT
    actor = args.operator or os.environ.get("USER") or "operator"
    try:
        with Catalog.open(catalog_path) as catalog:
            ids = choose_captures(catalog, case=args.case, ids=args.ids)
            result = asyncio.run(
                export(data_dir, ids, args.out, actor=actor, catalog=catalog, tsa=_tsa_config(args))
            )
    except (ExportError, BrowserError) as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(f"exported {len(result.captures)} capture(s) to {result.path}")
    print(f"sha256 {result.sha256}  ({result.size} bytes)")
    for note in result.notes:
        print(f"osint-capture: warning: {note}", file=sys.stderr)
    if result.custody_anchors is not None:
        print_anchor_run(result.custody_anchors, data_dir)
    return ExitCode.COMPLETE


def run_timestamp(args: argparse.Namespace, data_dir: Path) -> int:
    """Retry trusted time for every pending capture, now (not waiting for the backoff)."""
    from capture.trustedtime import stamp_pending

    config = _tsa_config(args)
    if not config.tsas:
        print("osint-capture: no time-stamp authority configured (--tsa URL)", file=sys.stderr)
        return ExitCode.BAD_INPUT
    with Catalog.open(data_dir / CATALOG_NAME) as catalog:
        results = stamp_pending(data_dir=data_dir, catalog=catalog, config=config, due_only=False)
    if not results:
        print("no captures are waiting for trusted time")
    for capture_id, result in results.items():
        print(f"{capture_id}  {result.state}")
        for token in result.tokens:
            print(f"  {token.tsa_url}: {token.gen_time.isoformat()}")
        for problem in result.problems:
            print(f"  {problem}")
    pending = [cid for cid, result in results.items() if result.state != "stamped"]
    return ExitCode.FAILED if pending else ExitCode.COMPLETE


def run_serve(args: argparse.Namespace, data_dir: Path) -> int:
    from aiohttp import web

    from capture.server import ServerSettings, make_app
    from capture.server.security import LOOPBACK_NAMES, allowed_hosts, load_or_create_token
    from capture.service import CaptureService

    loopback = args.host in (*LOOPBACK_NAMES, "::1")
    if not loopback and not args.allow_remote:
        print(
            f"osint-capture: refusing to listen on {args.host}: the API would face the network. "
            "Use --allow-remote if that is really meant.",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    token = load_or_create_token(data_dir)
    settings = ServerSettings(token=token, hosts=allowed_hosts(args.host, args.port))
    try:
        defaults = reading_options(args)
    except AnalysisOptionsError as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    service = CaptureService(
        data_dir,
        workers=args.workers,
        tsa=_tsa_config(args),
        anchor_interval=args.anchor_every,
        analysis=AnalysisSettings.for_data_dir(data_dir, translation_model=args.translation_model),
        analysis_defaults=defaults,
        analysis_workers=args.analysis_workers,
    )
    app = make_app(service, settings)
    print(
        f"osint-capture {__version__} serving {data_dir.resolve()} on "
        f"http://{args.host}:{args.port}/api/v1 ({args.workers} workers)\n"
        f"  token: `osint-capture token --data {data_dir}`",
        file=sys.stderr,
        flush=True,
    )
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    except OSError as exc:
        print(f"osint-capture: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.COMPLETE


def run_token(args: argparse.Namespace, data_dir: Path) -> int:
    from capture.server.security import Pairing, load_or_create_token

    print(load_or_create_token(data_dir))
    if args.reset_pairing:
        Pairing(data_dir).reset()
        print(
            "pairing reset: the next extension that presents the token is paired", file=sys.stderr
        )
    return ExitCode.COMPLETE


def run_capture(args: argparse.Namespace, data_dir: Path) -> int:
    try:
        url = validate_url(args.url)
    except BadURL as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        reading = reading_options(args)
    except AnalysisOptionsError as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    request = CaptureRequest(
        url=url,
        case=args.case,
        note=args.note,
        operator=args.operator or os.environ.get("USER") or None,
        timeout=args.timeout,
        media=_media_limits(args),
        tsa=_tsa_config(args),
    )
    display = ProgressDisplay(sys.stderr, quiet=args.json)
    try:
        manifest = asyncio.run(capture_page(request, data_dir, progress=display))
    except KeyboardInterrupt:
        display.finish()
        print(f"interrupted: {url} was not sealed (recorded as failed)", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except CaptureFailed as failure:
        display.finish()
        if args.json:
            print(json.dumps(failure.manifest.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(f"failed: {url}", file=sys.stderr)
            for reason in failure.manifest.reasons:
                print(f"  - {reason}", file=sys.stderr)
        return ExitCode.FAILED
    except (BrowserError, CatalogError, ValueError) as exc:
        display.finish()
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    display.finish()
    if args.json:
        print(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))
    else:
        capture_dir = data_dir / "captures" / manifest.id
        print(f"{manifest.status}: {manifest.url}")
        if manifest.final_url and manifest.final_url != manifest.url:
            print(f"  final URL: {manifest.final_url}")
        print(f"  capture:   {manifest.id}")
        for reason in manifest.reasons:
            print(f"  reason:    {reason}")
        for artifact in manifest.artifacts:
            print(f"  {artifact.kind:<10} {capture_dir / artifact.path}")
            print(f"  {'':<10} sha256 {artifact.sha256}  ({artifact.size} bytes)")
        print(f"  manifest   {capture_dir / 'manifest.json'}")
        with Catalog.open(data_dir / CATALOG_NAME) as catalog:
            row = catalog.get_capture(manifest.id)
        if row is not None and row.timestamp != "none":
            print(f"  trusted time: {row.timestamp}")
    if reading.wanted:
        _read_after_capture(args, data_dir, manifest.id, reading, request.operator)
    return ExitCode.COMPLETE if manifest.status == "complete" else ExitCode.PARTIAL


def _read_after_capture(
    args: argparse.Namespace,
    data_dir: Path,
    capture_id: str,
    options: AnalysisOptions,
    operator: str | None,
) -> None:
    """The capture is sealed: read it now, as an addendum (its outcome never changes the
    capture's exit code: the capture is sealed whatever the reading finds)."""
    from capture.analysis.engines import Engines

    settings = AnalysisSettings.for_data_dir(data_dir, translation_model=args.translation_model)
    engines = Engines(settings)
    try:
        with Catalog.open(data_dir / CATALOG_NAME) as catalog:
            row = analyse_now(
                capture_id, options, operator, data_dir, catalog, engines, _tsa_config(args)
            )
        if not args.json:
            print_run(row, as_json=False)
    except (CatalogError, OSError) as exc:
        print(f"osint-capture: the capture is sealed; its analysis failed: {exc}", file=sys.stderr)
    finally:
        engines.close()


def run_watch(args: argparse.Namespace, data_dir: Path) -> int:
    """Targets are rows of the catalog; a running server's scheduler picks changes up."""
    command = args.watch_command
    catalog_path = data_dir / CATALOG_NAME
    if command != "add" and not catalog_path.exists():
        print(f"osint-capture: no archive at {data_dir} (no {CATALOG_NAME})", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        if command == "add":
            url = validate_url(args.url)
            interval = parse_interval(args.every, allow_fast=args.allow_fast)
    except (BadURL, IntervalError) as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        with Catalog.open(catalog_path) as catalog:
            if command == "add":
                target = catalog.add_target(
                    url,
                    interval_seconds=interval,
                    case=args.case,
                    operator=args.operator or os.environ.get("USER") or None,
                    note=args.note,
                    next_run_at=now_rfc3339(),  # the first run is due at once
                )
                _print_target(target, args.json)
            elif command == "list":
                targets = catalog.list_targets(include_removed=args.all)
                _print_targets(catalog, targets, args.json)
            elif command == "show":
                return _show_target(catalog, args.id, args.json)
            else:
                state = {"pause": "paused", "resume": "active", "remove": "removed"}[command]
                target = catalog.set_target_state(args.id, state)
                print(f"target {target.id} {target.state}: {target.url}")
    except (CatalogError, ValueError) as exc:
        print(f"osint-capture: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    return ExitCode.COMPLETE


def _print_target(target: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(target_dict(target), ensure_ascii=False))
        return
    every = format_interval(target.interval_seconds)
    print(f"watching {target.url} every {every} (target {target.id})")
    print(f"  first run due {target.next_run_at}; the running server (osint-capture serve)")
    print("  captures it on schedule")


def _print_targets(catalog: Catalog, targets: list[Any], as_json: bool) -> None:
    if as_json:
        rows = []
        for target in targets:
            timeline = catalog.timeline(target.id)
            row = target_dict(target)
            row["last_kind"] = timeline[-1].kind if timeline else None
            rows.append(row)
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not targets:
        print("no watched targets")
    for target in targets:
        timeline = catalog.timeline(target.id)
        last = timeline[-1].kind if timeline else "-"
        every = format_interval(target.interval_seconds)
        due = target.next_run_at if target.state == "active" else "-"
        print(
            f"{target.id:>4}  {target.state:<7}  every {every:<5}  next {due}  "
            f"last {last:<9}  {target.case or '-':<16}  {target.url}"
        )


def _show_target(catalog: Catalog, target_id: int, as_json: bool) -> int:
    target = catalog.get_target(target_id)
    if target is None:
        print(
            f"osint-capture: no target {target_id} (see `osint-capture watch list`)",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    timeline = catalog.timeline(target_id)
    if as_json:
        body = target_dict(target)
        body["timeline"] = [event_dict(event) for event in timeline]
        body["captures"] = [_row_dict(row) for row in catalog.list_captures(target_id=target_id)]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return ExitCode.COMPLETE
    print(f"target {target.id}: {target.url}")
    every = format_interval(target.interval_seconds)
    print(f"  {target.state}, every {every}; next run {target.next_run_at}")
    if not timeline:
        print("  no runs yet")
    for event in timeline:
        print(f"  {event.created_at}  {event.kind:<9}  {event.capture_id or '-'}  {event.summary}")
    return ExitCode.COMPLETE


def run_list(args: argparse.Namespace, data_dir: Path) -> int:
    catalog_path = data_dir / CATALOG_NAME
    if not catalog_path.exists():
        rows = []
    else:
        with Catalog.open(catalog_path) as catalog:
            rows = catalog.list_captures(case=args.case)
    if args.json:
        print(json.dumps([_row_dict(row) for row in rows], indent=2, ensure_ascii=False))
        return ExitCode.COMPLETE
    if not rows:
        print("no captures" + (f" in case {args.case!r}" if args.case else ""))
    for row in rows:
        when = row.finished_at or row.started_at or row.created_at
        print(f"{row.id}  {row.status:<8}  {when}  {row.case or '-':<16}  {row.url}")
    return ExitCode.COMPLETE


def _row_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "final_url": row.final_url,
        "case": row.case,
        "status": row.status,
        "reasons": row.reasons,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "warc": row.warc,
        "manifest_sha256": row.manifest_sha256,
    }


class ProgressDisplay:
    """Progress on the terminal while a capture works: stages, then a running count."""

    def __init__(self, out: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.live = out.isatty()
        self._line_open = False

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if self.quiet:
            return
        if kind == "stage":
            self._write_line(f"[{data['stage']}]" + (f" {data['url']}" if "url" in data else ""))
        elif kind == "resource" and self.live:
            text = f"  {data['recorded']} records, {data['bytes'] / 1e6:.1f} MB streamed"
            self.out.write("\r" + text.ljust(60))
            self.out.flush()
            self._line_open = True
        elif kind == "media" and "downloaded" in data and self.live:
            total = f"/{data['total'] / 1e6:.1f}" if data.get("total") else ""
            text = f"  media {data['downloaded'] / 1e6:.1f}{total} MB  {data['url'][-40:]}"
            self.out.write("\r" + text.ljust(70))
            self.out.flush()
            self._line_open = True
        elif kind == "timestamp":
            self._write_line(f"  trusted time: {data['state']}")
            for problem in data.get("problems", []):
                self._write_line(f"    {problem}")
        elif kind == "media" and "found" in data:
            self._write_line(f"  media found: {len(data['found'])}")
        elif kind == "behaviour":
            state = "done" if data["finished"] else "stopped"
            self._write_line(f"  {data['name']}: {state}")

    def _write_line(self, text: str) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False
        self.out.write(text + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False
