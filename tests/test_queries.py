"""What the server asks of the archive: reads never wait on the writer, writes leave the loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.datadir import Archive
from archive.people import Directory, Principal
from capture.queries import ArchiveQueries


class Queries(ArchiveQueries):
    """The queries over an archive, without the service's browser and workers."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.data_dir = archive.root
        self.tsa = None


@contextmanager
def writer_busy(archive: Archive) -> Iterator[None]:
    """A write transaction held open by another thread, as while a commit is written."""
    held, release = threading.Event(), threading.Event()

    def commit() -> None:
        with archive.catalog._write():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=commit)
    thread.start()
    held.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()


def _start(archive: Archive, capture_id: str) -> None:
    archive.catalog.start_capture(
        capture_id,
        "https://example.org/",
        case=None,
        note=None,
        operator=None,
        started_at="x",
        collector="amal",
    )


def _amal(archive: Archive) -> Principal:
    """The person asking (the queries are asked for someone): an admin, who may make cases."""
    if archive.catalog.user("amal") is None:
        Directory(archive.catalog).add_user("amal", "admin")
    return Directory(archive.catalog).principal("amal", "laptop")


async def test_reads_answer_while_the_writer_commits(tmp_path: Path) -> None:
    with Archive.open(tmp_path) as archive:
        amal = _amal(archive)
        _start(archive, "c1")
        queries = Queries(archive)
        with writer_busy(archive):
            began = time.monotonic()
            row = await queries.capture(amal, "c1")
            listed = await queries.captures(amal)
            files = await queries.artifacts(row)
            cases = await queries.cases(amal)
            waited = time.monotonic() - began
        assert row is not None and [r.id for r in listed] == ["c1"]
        assert files == [] and cases == []
        assert waited < 5, f"the reads waited {waited:.1f} s for the writer"


async def test_writes_go_through_the_writer_in_a_worker_thread(tmp_path: Path) -> None:
    with Archive.open(tmp_path) as archive:
        queries = Queries(archive)
        threads: list[str] = []

        def spy(method: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                threads.append(threading.current_thread().name)
                return method(*args, **kwargs)

            return call

        amal = _amal(archive)
        for name in ("add_member", "ensure_case", "add_target", "set_target_state"):
            setattr(archive.catalog, name, spy(getattr(archive.catalog, name)))
        case, created = await queries.ensure_case(amal, "Case A")
        target = await queries.add_target(
            amal,
            "https://example.org/",
            interval_seconds=3600,
            case=None,
            operator=None,
            note=None,
            request={},
        )
        paused = await queries.set_target_state(target, "paused")
        assert len(threads) == 4
        assert threading.main_thread().name not in threads
        assert created and [c.name for c in await queries.cases(amal)] == [case.name]
        assert paused.state == "paused"
        assert (await queries.target(amal, target.id)) == paused
