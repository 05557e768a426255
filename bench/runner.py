"""What every benchmark shares: sizes, timing, the baseline tools, the table, results.json.

A figure alone says little about a program on a shared two-core machine; a ratio
against a baseline measured minutes apart on the same machine says more. Every
row therefore carries the measured value, its baseline, their ratio and the
target the ratio is judged against (``ok`` or ``MISSED``, never hidden).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from archive.timeutil import rfc3339, utc_now

RESULTS = Path(__file__).with_name("results.json")
MiB = 1024 * 1024
GiB = 1024 * MiB
#: Random bytes are written in blocks of this size (fast, and never all in memory).
BLOCK = 4 * MiB
#: Environment of every product subprocess: no time-stamp authority (the network is loopback only).
PRODUCT_ENV = {**os.environ, "OSINT_CAPTURE_TSA": ""}


@dataclass
class Row:
    """One measured figure: value against baseline, judged against a target ratio."""

    bench: str
    what: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    #: value / baseline when ``higher_is_better`` is false, baseline / value otherwise.
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "ok" if self.met else "MISSED"


def parse_size(text: str) -> int:
    """``100M``, ``1G``, ``512K`` or bytes; a clear error for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"size {text!r}: expected a number with K, M or G, e.g. 100M or 1G")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * {"": 1, "K": 1024, "M": MiB, "G": GiB}[unit])


def human_size(size: int) -> str:
    for unit, scale in (("G", GiB), ("M", MiB), ("K", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size / MiB:.1f}M"


def make_random_file(path: Path, size: int) -> Path:
    """``size`` random bytes (incompressible, like encoded video) written block by block."""
    with open(path, "wb") as out:
        left = size
        while left > 0:
            n = min(BLOCK, left)
            out.write(os.urandom(n))
            left -= n
    return path


def drop_page_cache_hint(path: Path) -> None:
    """Read a file once so baseline and product both start from a warm page cache."""
    with open(path, "rb") as fh:
        while fh.read(BLOCK):
            pass


def sha256sum_seconds(path: Path) -> float:
    """The baseline: wall time of ``sha256sum`` over the file (coreutils, as users run it)."""
    tool = shutil.which("sha256sum")
    if tool is None:
        raise RuntimeError("sha256sum not found: install coreutils to run this benchmark")
    started = time.perf_counter()
    subprocess.run([tool, str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - started


class RssSampler:
    """Peak RSS of one process (not its children) polled every ``interval`` seconds.

    Polling can miss a spike shorter than the interval; the interval is short
    enough for the buffers this product holds (they live for seconds).
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0

    def sample(self) -> None:
        try:
            rss = self.process.memory_info().rss
        except psutil.NoSuchProcess:
            return
        self.samples += 1
        self.peak = max(self.peak, rss)

    async def run(self) -> None:
        import asyncio

        while True:
            self.sample()
            await asyncio.sleep(self.interval)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, the disk of the temp dir and the load when the run began."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    disk = _disk_of(Path(os.environ.get("TMPDIR", "/tmp")))
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(psutil.virtual_memory().total / GiB, 1),
        "disk": disk,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _disk_of(path: Path) -> dict[str, Any]:
    """Which device holds ``path`` and whether it spins (from /sys), best effort."""
    info: dict[str, Any] = {"path": str(path)}
    try:
        found = (
            subprocess.run(
                ["df", "--output=source,fstype,size", str(path)],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.splitlines()[-1]
            .split()
        )
        info.update(device=found[0], fstype=found[1], size_kib=int(found[2]))
        name = Path(found[0]).name.rstrip("0123456789")
        rotational = Path(f"/sys/block/{name}/queue/rotational")
        if rotational.exists():
            info["rotational"] = rotational.read_text().strip() == "1"
    except (OSError, subprocess.CalledProcessError, IndexError, ValueError):
        pass
    return info


def print_table(rows: list[Row]) -> None:
    """The rows as an aligned text table, one figure a line."""
    header = ("bench", "what", "value", "baseline", "ratio", "target", "")
    lines = [header]
    for row in rows:
        baseline = f"{row.baseline:.4g} ({row.baseline_what})" if row.baseline is not None else "-"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(
            (
                row.bench,
                row.what,
                f"{row.value:.4g} {row.unit}",
                baseline,
                ratio,
                row.target or "-",
                row.verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def merge_results(
    bench: str, rows: list[Row], params: dict[str, Any], began: dict[str, Any] | None = None
) -> None:
    """Replace ``bench``'s entry in results.json, keeping the other benchmarks' entries.

    ``began`` is :func:`machine` taken as the benchmark began (its load average is the
    one results.json promises); without it the machine is read now.
    """
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results.setdefault("benchmarks", {})
    results["benchmarks"][bench] = {
        "taken_at": rfc3339(utc_now()),
        "machine": began or machine(),
        "params": params,
        "rows": [asdict(row) | {"verdict": row.verdict} for row in rows],
    }
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
