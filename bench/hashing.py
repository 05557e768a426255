"""Benchmark 2: a big media file hashed, sealed and written into a capture's WARC.

What is timed is the media stage's own work once yt-dlp has the file on disk
(:func:`capture.media.preserve`): the download adopted into the capture (moved
in, hashed, fsynced, sealed), then the WARC resource record streamed from it.
The baseline is ``sha256sum`` over the same file, warm in the page cache like
the product's read. It runs in a
child process that reports its own peak RSS, so the figure is the product's
memory, not this harness's, and is shown for 100 MB and the full size to show
that it does not grow with the file.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runner import (
    MiB,
    Row,
    drop_page_cache_hint,
    human_size,
    make_random_file,
    sha256sum_seconds,
)

NAME = "hashing"
#: At least this share of sha256sum's throughput.
TARGET_SHARE = 0.8
#: Peak memory at the full size may exceed the 100 MB figure by at most this factor.
FLAT_MEMORY = 1.25
SMALL = 100 * MiB


async def measure(size: int) -> tuple[list[Row], dict[str, Any]]:
    sizes = sorted({min(SMALL, size), size})
    rows: list[Row] = []
    details: dict[str, Any] = {}
    peaks: dict[int, int] = {}
    for each in sizes:
        work = Path(tempfile.mkdtemp(prefix="bench-hashing-"))
        try:
            source = make_random_file(work / "video.mp4", each)
            drop_page_cache_hint(source)
            baseline = sha256sum_seconds(source)
            child = await asyncio.to_thread(_run_child, source, work / "data")
            baseline_again = sha256sum_seconds(source)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        base = min(baseline, baseline_again)
        seconds = child["seconds"]
        share = base / seconds
        peaks[each] = child["peak_rss"]
        label = human_size(each)
        rows.append(
            Row(
                NAME,
                f"seal+WARC {label}",
                each / MiB / seconds,
                "MiB/s",
                baseline=each / MiB / base,
                baseline_what="sha256sum MiB/s",
                ratio=share,
                target=f">= {TARGET_SHARE}x",
                met=share >= TARGET_SHARE,
                extra={"seconds": seconds, "sha256sum_seconds": [baseline, baseline_again]},
            )
        )
        details[label] = {k: v for k, v in child.items() if k != "profile"}
        if child.get("profile"):
            details[f"profile {label}"] = child["profile"]
    small, big = sizes[0], sizes[-1]
    growth = peaks[big] / peaks[small]
    rows.append(
        Row(
            NAME,
            f"peak RSS {human_size(big)}",
            peaks[big] / MiB,
            "MiB",
            baseline=peaks[small] / MiB,
            baseline_what=f"peak RSS {human_size(small)}",
            ratio=growth,
            target=f"<= {FLAT_MEMORY}x (flat)",
            met=growth <= FLAT_MEMORY,
        )
    )
    return rows, details


def _run_child(source: Path, data: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.hashing", str(source), str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


async def _preserve(source: Path, data: Path) -> dict[str, Any]:
    """The product's media stage over one downloaded file, into a real store and WARC."""
    from archive.records import warcinfo_record
    from archive.store import FileStore
    from archive.warcfile import WarcFile
    from capture import media

    store = FileStore(data)
    capture_id = "bench-hashing"
    store.create_capture_dir(capture_id)
    warc_sink = store.create(capture_id, f"{capture_id}.warc.gz", "warc")
    warc = WarcFile(warc_sink)
    warc.write(warcinfo_record(f"{capture_id}.warc.gz", [("software", "bench")]))
    # yt-dlp leaves its download in the capture's work directory, which the store
    # adopts; a hard link puts the benchmark's file there and keeps it for the
    # baseline run after this one.
    downloaded = store.work_dir(capture_id) / "media-1" / "media.mp4"
    downloaded.parent.mkdir(parents=True)
    os.link(source, downloaded)
    url = "http://127.0.0.1/media/video.mp4"
    download = media.MediaDownload(
        candidate=media.Candidate(url, "video-element"),
        files=[media.MediaFile(downloaded, "media", url)],
        info={"url": url, "ext": "mp4", "extractor": "generic"},
    )
    started = time.perf_counter()
    preserved = await media.preserve(
        [download],
        store=store,
        capture_id=capture_id,
        warc=warc,
        page_url="http://127.0.0.1/video",
        page_record_id=None,
    )
    warc.close()
    warc_artifact = warc_sink.seal()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "media_sha256": preserved.items[0]["sha256"],
        "warc_size": warc_artifact.size,
    }


def _child(argv: list[str]) -> None:
    source, data = Path(argv[0]), Path(argv[1])
    profiler = cProfile.Profile() if "--profile" in argv else None
    if profiler:
        profiler.enable()
    result = asyncio.run(_preserve(source, data))
    if profiler:
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        result["profile"] = text.getvalue().splitlines()
    # Linux reports ru_maxrss in KiB.
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


if __name__ == "__main__":
    _child(sys.argv[1:])
