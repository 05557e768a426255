"""A large sealed file: uploaded in parts read one at a time, read back streamed, with
the process's memory measured (psutil) while it happens. Against a real SeaweedFS."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from archive.catalog import Catalog
from archive.objectstore import ObjectStore
from tests.seaweed import Seaweed

pytest_plugins = ["tests.seaweed"]


@contextmanager
def _open(seaweed: Seaweed, data: Path, **kw: str) -> Iterator[ObjectStore]:
    """The store, with the data directory's SQLite catalog as its version book."""
    location = seaweed.location(seaweed.make_bucket(), prefix="team", **kw)
    with (
        Catalog.open(data / "catalog.sqlite3") as book,
        ObjectStore(data, location, seaweed.credentials, book) as store,
    ):
        yield store


# -- large files: multipart, streamed, memory flat ------------------------------------------


def _peak_rss_while(work: Callable[[], object]) -> tuple[int, int]:
    """(RSS before, peak RSS) of this process while ``work()`` runs, sampled every 10 ms."""
    process = psutil.Process()
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return before, peak[0]


@pytest.mark.slow
def test_a_large_file_is_uploaded_in_parts_and_read_with_memory_flat(
    seaweed: Seaweed, tmp_path: Path
) -> None:
    size = 320 * 1024 * 1024
    with _open(seaweed, tmp_path, part_mb="8") as store:
        store.create_capture_dir("big")
        source = store.work_dir("big") / "video.bin"
        source.parent.mkdir(parents=True)
        digest = hashlib.sha256()
        with open(source, "wb") as out:
            block = os.urandom(1024 * 1024)
            for i in range(size // len(block)):
                chunk = block[:-4] + i.to_bytes(4, "big")
                digest.update(chunk)
                out.write(chunk)
        sealed: list = []
        before, peak = _peak_rss_while(
            lambda: sealed.append(store.adopt("big", "video.bin", "media", source))
        )
        assert sealed[0].sha256 == digest.hexdigest() and sealed[0].size == size
        # Measured: about 17 MiB over 8 MiB parts for 320 MiB; a file read whole would be 320.
        assert peak - before < 4 * 8 * 1024 * 1024 + 32 * 1024 * 1024, f"grew {peak - before} B"
        recorded = store.sealed_version("big", "video.bin")
        assert recorded.key == store.location.capture_key("big", "video.bin")
        head = seaweed.client().head_object(
            Bucket=store.location.bucket,
            Key=recorded.key,
            VersionId=recorded.version_id,
            ChecksumMode="ENABLED",
        )
        assert head["ChecksumSHA256"].endswith(f"-{size // (8 * 1024 * 1024)}")
        assert head["ObjectLockMode"] == "COMPLIANCE"

        def read_through() -> None:
            hashed = hashlib.sha256()
            with store.open_sealed("big", "video.bin") as fh:
                while chunk := fh.read(1024 * 1024):
                    hashed.update(chunk)
            assert hashed.hexdigest() == digest.hexdigest()

        before, peak = _peak_rss_while(read_through)
        assert peak - before < 64 * 1024 * 1024, f"reading grew memory by {peak - before} bytes"
