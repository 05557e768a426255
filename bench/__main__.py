"""``python -m bench [--only NAME] [--size 100M] [--pages 10] [--captures N]``: run, print, save.

Each benchmark's rows are printed as soon as it finishes and merged into
``bench/results.json`` (its entry replaced, the others kept), so a quick run of
one benchmark at a small size never erases the full figures of another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bench import (
    api,
    capture_speed,
    export_verify,
    hashing,
    server_memory,
    team_capture,
    team_catalog,
)
from bench.runner import RESULTS, Row, machine, merge_results, parse_size, print_table

Bench = Callable[[argparse.Namespace], Awaitable[tuple[list[Row], dict[str, Any]]]]

BENCHES: dict[str, Bench] = {
    capture_speed.NAME: lambda a: capture_speed.measure(a.pages),
    hashing.NAME: lambda a: hashing.measure(a.size),
    export_verify.NAME: lambda a: export_verify.measure(a.size),
    api.NAME: lambda a: api.measure(a.requests),
    server_memory.NAME: lambda a: server_memory.measure(a.size, a.queued),
    team_catalog.NAME: lambda a: team_catalog.measure(a.captures),
    team_capture.NAME: lambda a: team_capture.measure(a.pages),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help=f"one or more of {', '.join(BENCHES)} (comma-separated)")
    parser.add_argument("--size", default="1G", help="big file size, e.g. 100M or 1G")
    parser.add_argument("--pages", type=int, default=50, help="article pages (capture, team)")
    parser.add_argument("--requests", type=int, default=200, help="concurrent API requests")
    parser.add_argument("--queued", type=int, default=20, help="captures queued (memory)")
    parser.add_argument(
        "--captures", type=int, default=1_000_000, help="captures generated (PostgreSQL catalog)"
    )
    args = parser.parse_args(argv)
    try:
        args.size = parse_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHES)}")
    everything: list[Row] = []
    for name in names:
        print(f"== {name}", flush=True)
        began = machine()  # the load average as the benchmark begins, not as it ends
        rows, details = asyncio.run(BENCHES[name](args))
        params = {"size": args.size, "pages": args.pages, "requests": args.requests}
        params |= {"queued": args.queued, "captures": args.captures}
        merge_results(name, rows, params | {"details": details}, began)
        print_table(rows)
        print(json.dumps(details, indent=1, default=str), flush=True)
        everything.extend(rows)
    print(f"\n== all ({RESULTS})")
    print_table(everything)
    return 0


if __name__ == "__main__":
    sys.exit(main())
