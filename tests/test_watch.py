"""Watching targets: intervals, the scheduler, the watch CLI, and runs on the real server.

The server tests run ``osint-capture serve`` as a process against a local page
whose content the test changes (tests/changing.py), with schedules of a few
seconds (``allow_fast``), and read what happened through the API and the catalog.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import CATALOG_NAME, CaptureRow, Catalog
from archive.datadir import Archive
from archive.timeutil import rfc3339
from capture.cli import main
from capture.cli.exits import ExitCode
from capture.scheduler import (
    JITTER_CAP,
    JITTER_SHARE,
    IntervalError,
    Scheduler,
    format_interval,
    jitter,
    next_run_at,
    parse_interval,
    record_run,
    settle_timeline,
)
from tests.changing import ChangingPage
from tests.server import RunningServer

# -- intervals and jitter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), (" 1M ", 60), ("1m", 60)],
)
def test_intervals_are_read_in_seconds_minutes_hours_and_days(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("6", "whole number followed by s, m, h or d"),
        ("6x", "whole number followed by s, m, h or d"),
        ("1.5h", "whole number followed by s, m, h or d"),
        ("-5m", "whole number followed by s, m, h or d"),
        ("", "whole number followed by s, m, h or d"),
        ("0m", "is zero"),
        ("400d", "longer than a year"),
        ("30s", "under a minute"),
        ("59s", "under a minute"),
    ],
)
def test_bad_intervals_are_refused_naming_the_problem(text: str, complaint: str) -> None:
    with pytest.raises(IntervalError, match=complaint) as caught:
        parse_interval(text)
    assert repr(text) in str(caught.value)


def test_intervals_under_a_minute_only_when_allowed() -> None:
    assert parse_interval("2s", allow_fast=True) == 2
    with pytest.raises(IntervalError, match="--allow-fast"):
        parse_interval("2s")


def test_intervals_are_written_back_in_their_largest_unit() -> None:
    for text in ("90s", "15m", "6h", "2d", "1m", "25h"):
        assert parse_interval(format_interval(parse_interval(text))) == parse_interval(text)
    assert format_interval(21600) == "6h" and format_interval(90) == "90s"


def test_jitter_is_small_bounded_and_spreads_targets() -> None:
    moment = "2026-11-26T10:00:00.000000Z"
    for interval in (2, 60, 3600, 86400):
        values = [jitter(target_id, interval, moment) for target_id in range(1, 200)]
        bound = min(interval * 0.05, JITTER_CAP)
        assert all(0 <= v < bound for v in values)
        assert len(set(values)) > 150, "targets added together should not fire together"
    assert jitter(7, 3600, moment) == jitter(7, 3600, moment)


# -- the scheduler against a real catalog ----------------------------------------------


def test_a_long_missed_schedule_is_caught_up_once_and_counted_from_now(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with Catalog.open(tmp_path / CATALOG_NAME) as catalog:
        missed = catalog.add_target(
            "https://example.org/a",
            interval_seconds=600,
            case=None,
            operator="t",
            note=None,
            next_run_at=rfc3339(now - timedelta(hours=5)),  # thirty runs missed
        )
        later = catalog.add_target(
            "https://example.org/b",
            interval_seconds=600,
            case=None,
            operator="t",
            note=None,
            next_run_at=rfc3339(now + timedelta(minutes=1)),
        )
        scheduler = Scheduler(
            Archive(tmp_path, catalog), on_queued=lambda: None, default_timeout=30
        )

        queued = scheduler.tick(now)
        assert [row.target_id for row in queued] == [missed.id]
        assert queued[0].status == "queued" and queued[0].url == "https://example.org/a"
        assert queued[0].request["target"] == {
            "id": missed.id,
            "url": "https://example.org/a",
            "interval_seconds": 600,
        }
        moved = catalog.get_target(missed.id)
        assert moved.next_run_at == next_run_at(missed, now)
        assert rfc3339(now + timedelta(seconds=600)) <= moved.next_run_at
        assert moved.next_run_at <= rfc3339(now + timedelta(seconds=630))

        # The same moment again, and one just after: nothing more is queued.
        assert scheduler.tick(now) == []
        assert scheduler.tick(now + timedelta(seconds=30)) == []
        # Once the other target is due it gets its run; the first still has one queued,
        # so even when due again it gets no second one.
        assert [r.target_id for r in scheduler.tick(now + timedelta(minutes=2))] == [later.id]
        assert scheduler.tick(now + timedelta(minutes=11)) == []
        assert len(catalog.list_captures(target_id=missed.id)) == 1
        assert catalog.get_target(missed.id).next_run_at > rfc3339(now + timedelta(minutes=11))


def test_a_run_that_ended_without_its_event_gets_it_once_on_start(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with Catalog.open(tmp_path / CATALOG_NAME) as catalog:
        target = catalog.add_target(
            "https://example.org/a",
            interval_seconds=600,
            case=None,
            operator="t",
            note=None,
            next_run_at=rfc3339(now),
        )
        scheduler = Scheduler(
            Archive(tmp_path, catalog), on_queued=lambda: None, default_timeout=30
        )
        (run,) = scheduler.tick(now)
        assert catalog.claim_next_queued(started_at=rfc3339(now)).id == run.id
        # The server stopped for good in the middle of it: recovery failed the run.
        reason = "the server stopped while this capture was running; not retried again"
        catalog.fail_capture(run.id, reasons=[reason], finished_at=rfc3339(now))

        archive = Archive(tmp_path, catalog)
        (event,) = settle_timeline(archive)
        assert (event.kind, event.capture_id, event.target_id) == ("failed", run.id, target.id)
        assert reason in event.summary and event.details["reasons"] == [reason]
        assert event.previous_capture_id is None
        assert settle_timeline(archive) == []
        assert record_run(archive, run.id) is None
        assert [e.id for e in catalog.timeline(target.id)] == [event.id]


def _end_run(catalog: Catalog, run: CaptureRow, at: datetime) -> None:
    """A worker claims ``run`` and it ends (failed: the schedule does not care how)."""
    assert catalog.claim_next_queued(started_at=rfc3339(at)).id == run.id
    catalog.fail_capture(run.id, reasons=["ended by the test"], finished_at=rfc3339(at))


def test_a_restarted_scheduler_catches_up_once_then_keeps_the_interval(tmp_path: Path) -> None:
    """A server down for three and a half intervals, restarted: its decisions, at given times."""
    every = 4
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    path = tmp_path / CATALOG_NAME
    with Catalog.open(path) as catalog:
        target = catalog.add_target(
            "https://example.org/a",
            interval_seconds=every,
            case=None,
            operator="t",
            note=None,
            next_run_at=rfc3339(start),
        )
        before = Scheduler(Archive(tmp_path, catalog), on_queued=lambda: None, default_timeout=30)
        (first,) = before.tick(start)
        _end_run(catalog, first, start + timedelta(seconds=1))

    # Down for more than three intervals: three runs are missed.
    restart = start + timedelta(seconds=every * 3.5)
    with Catalog.open(path) as catalog:
        after = Scheduler(Archive(tmp_path, catalog), on_queued=lambda: None, default_timeout=30)
        (catch_up,) = after.tick(restart)
        assert after.tick(restart) == [], "one catch-up run, not one per missed interval"
        _end_run(catalog, catch_up, restart + timedelta(seconds=1))
        # The next run is counted from the catch-up, a whole interval later.
        due = catalog.get_target(target.id).next_run_at
        assert rfc3339(restart + timedelta(seconds=every)) <= due
        assert due <= rfc3339(restart + timedelta(seconds=every * (1 + JITTER_SHARE)))
        assert after.tick(restart + timedelta(seconds=every - 0.5)) == []
        (following,) = after.tick(restart + timedelta(seconds=every * (1 + JITTER_SHARE)))
        runs = catalog.list_captures(target_id=target.id)
    assert [r.id for r in runs] == [following.id, catch_up.id, first.id]
    assert following.created_at == rfc3339(restart + timedelta(seconds=every * (1 + JITTER_SHARE)))
    assert catch_up.created_at == rfc3339(restart)


# -- the CLI ------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_watch_commands_write_targets_to_the_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    code, out, _ = _cli(
        capsys,
        "watch", "add", "https://example.org/post", "--every", "6h", "--case", "watch-case",
        "--note", "a note", "--operator", "ana", "--data", data, "--json",
    )  # fmt: skip
    assert code == ExitCode.COMPLETE
    added = json.loads(out)
    assert added["url"] == "https://example.org/post" and added["every"] == "6h"
    assert added["interval_seconds"] == 21600 and added["state"] == "active"
    assert added["case"] == "watch-case" and added["operator"] == "ana"
    assert added["next_run_at"] <= rfc3339(datetime.now(UTC)), "the first run is due at once"

    code, out, _ = _cli(capsys, "watch", "add", "http://127.0.0.1:1/x", "--every", "5s",
                        "--allow-fast", "--data", data)  # fmt: skip
    assert code == ExitCode.COMPLETE and "every 5s" in out

    code, out, _ = _cli(capsys, "watch", "list", "--data", data, "--json")
    listed = json.loads(out)
    assert [(t["id"], t["state"]) for t in listed] == [(added["id"], "active"), (2, "active")]

    assert _cli(capsys, "watch", "pause", str(added["id"]), "--data", data)[0] == 0
    code, out, _ = _cli(capsys, "watch", "list", "--data", data)
    assert "paused" in out and "every 6h" in out and "https://example.org/post" in out
    assert _cli(capsys, "watch", "resume", str(added["id"]), "--data", data)[0] == 0
    assert _cli(capsys, "watch", "remove", "2", "--data", data)[0] == 0

    code, out, _ = _cli(capsys, "watch", "list", "--data", data, "--json")
    assert [(t["id"], t["state"]) for t in json.loads(out)] == [(added["id"], "active")]
    code, out, _ = _cli(capsys, "watch", "list", "--all", "--data", data, "--json")
    assert [t["state"] for t in json.loads(out)] == ["active", "removed"]

    code, _, err = _cli(capsys, "watch", "resume", "2", "--data", data)
    assert code == ExitCode.BAD_INPUT and "removed" in err
    code, out, _ = _cli(capsys, "watch", "show", str(added["id"]), "--data", data, "--json")
    shown = json.loads(out)
    assert shown["timeline"] == [] and shown["captures"] == [] and shown["state"] == "active"
    code, out, _ = _cli(capsys, "watch", "show", str(added["id"]), "--data", data)
    assert "no runs yet" in out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["add", "ftp://example.org/", "--every", "1h"], "scheme 'ftp' is not captured"),
        (["add", "example.org", "--every", "1h"], "no scheme"),
        (["add", "https://example.org/", "--every", "10s"], "under a minute"),
        (["add", "https://example.org/", "--every", "often"], "'often' is not a whole number"),
        (["add", "https://example.org/", "--every", "1h", "--case", "a/b"], "'/'"),
        (["pause", "42"], "no target 42"),
        (["show", "42"], "no target 42"),
    ],
)
def test_bad_watch_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    data = tmp_path / "data"
    Catalog.open(data / CATALOG_NAME).close()
    code, _out, err = _cli(capsys, "watch", *argv, "--data", str(data))
    assert code == ExitCode.BAD_INPUT
    assert complaint in err and len(err.strip().splitlines()) == 1
    with Catalog.open(data / CATALOG_NAME) as catalog:
        assert catalog.list_targets(include_removed=True) == []


# -- on the real server -----------------------------------------------------------------

EVERY = 1  # seconds between runs in the server tests (allow_fast): the shortest


async def _poll(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 90.0, what: str = "condition"
) -> Any:
    """Call ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def _target(server: RunningServer, target_id: int) -> dict[str, Any]:
    status, _, body = await server.request("GET", f"/api/v1/targets/{target_id}")
    assert status == 200, body
    return body


def _kinds(target: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in target["timeline"]]


def _never_overlapping(captures: list[dict[str, Any]]) -> None:
    """Each run of a target started after the one before it had finished."""
    runs = sorted(captures, key=lambda c: c["created_at"])
    for before, after in itertools.pairwise(runs):
        assert before["finished_at"] is not None and after["started_at"] is not None
        assert before["finished_at"] <= after["started_at"], (before, after)


def _custody(data: Path) -> list[dict[str, Any]]:
    lines = (data / "custody.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


async def test_a_watched_page_that_changes_disappears_and_comes_back(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data", workers=2)
    async with ChangingPage() as page:
        page.show("The first version of the post.", colour=(0, 0, 255))
        url = page.url()
        await server.start()
        try:
            status, headers, added = await server.request(
                "POST",
                "/api/v1/targets",
                json={
                    "url": page.url(),
                    "every": f"{EVERY}s",
                    "allow_fast": True,
                    "case": "watched",
                    "operator": "ana",
                    "timeout": 30,
                },
            )
            assert status == 201, added
            assert headers["Location"] == added["href"] == f"/api/v1/targets/{added['id']}"
            target_id = added["id"]

            async def events_after(kinds: list[str]) -> dict[str, Any] | None:
                target = await _target(server, target_id)
                return target if set(kinds) <= set(_kinds(target)) else None

            # First run, then the same page again: unchanged.
            target = await _poll(
                lambda: events_after(["first", "unchanged"]), what="first, then unchanged"
            )
            assert _kinds(target)[:2] == ["first", "unchanged"]

            page.show("The post was edited after publication.", colour=(255, 0, 0))
            target = await _poll(lambda: events_after(["changed"]), what="a change")
            page.take_down("404")
            target = await _poll(lambda: events_after(["takedown"]), what="a takedown")
            page.show("The post is back.", colour=(0, 128, 0))
            target = await _poll(lambda: events_after(["restored"]), what="a restoration")
        finally:
            await server.stop()

    kinds = _kinds(target)
    significant = [k for k in kinds if k != "unchanged"]
    assert significant[:4] == ["first", "changed", "takedown", "restored"], kinds
    assert "failed" not in kinds
    changed = target["timeline"][kinds.index("changed")]
    takedown = target["timeline"][kinds.index("takedown")]
    assert changed["previous_capture_id"] and changed["summary"]
    assert takedown["previous_capture_id"] and takedown["summary"]
    assert changed["capture_href"] == f"/api/v1/captures/{changed['capture_id']}"

    # Every run is a sealed capture of the target, never two at once.
    captures = target["captures"]
    by_id = {c["id"]: c for c in captures}
    for event in target["timeline"]:
        assert by_id[event["capture_id"]]["status"] in ("complete", "partial")
        assert by_id[event["capture_id"]]["manifest_sha256"]
    _never_overlapping(captures)
    assert page.hits["/watched"] >= len(target["timeline"])

    # Each run is a re-capture in the chain of custody, naming its target.
    custody = {e["captures"][0]: e for e in _custody(server.data) if e["captures"]}
    for event in target["timeline"]:
        entry = custody[event["capture_id"]]
        assert entry["action"] == "re-captured" and entry["details"]["target_id"] == target_id
    manifest_path = server.data / "captures" / changed["capture_id"] / "manifest.json"
    manifest = json.loads(manifest_path.read_bytes())
    assert manifest["extra"]["scheduled_run"] == {
        "target_id": target_id,
        "url": url,
        "interval_seconds": EVERY,
    }
    assert manifest["case"] == "watched" and manifest["operator"] == "ana"

    # The alerts of the extension's badge are the changes and the takedown.
    with Catalog.open(server.data / CATALOG_NAME) as catalog:
        alerts = [e.kind for e in catalog.alerts() if e.target_id == target_id]
    assert alerts == [k for k in kinds if k in ("changed", "takedown", "restored")]


async def test_a_restart_keeps_the_schedule_and_catches_up_once(tmp_path: Path) -> None:
    every = 4
    data = tmp_path / "data"
    async with ChangingPage() as page:
        first = RunningServer(data, workers=2)
        await first.start()
        try:
            status, _, added = await first.request(
                "POST",
                "/api/v1/targets",
                json={"url": page.url(), "every": f"{every}s", "allow_fast": True},
            )
            assert status == 201, added
            target_id = added["id"]

            async def sealed_runs(server: RunningServer) -> list[dict[str, Any]]:
                captures = (await _target(server, target_id))["captures"]
                return [c for c in captures if c["status"] in ("complete", "partial")]

            await _poll(lambda: sealed_runs(first), what="the first run")
        finally:
            await first.stop()

        # Down for more than three intervals: three runs are missed. The schedule is
        # all a restarted server reads of the time it was down, so the outage is given
        # there (its next run three and a half intervals ago) instead of waited out;
        # test_a_restarted_scheduler_catches_up_once_then_keeps_the_interval makes the
        # same decisions at given times.
        with Catalog.open(data / CATALOG_NAME) as catalog:
            missed = rfc3339(datetime.now(UTC) - timedelta(seconds=every * 3.5))
            schedule = catalog.set_target_state(target_id, "active", next_run_at=missed)
        hits = page.hits["/watched"]
        assert schedule.next_run_at == missed
        assert page.hits["/watched"] == hits, "nothing runs while the server is down"

        second = RunningServer(data, workers=2, port=first.port)
        restarted_at = rfc3339(datetime.now(UTC))
        await second.start()
        try:

            async def runs_since_restart() -> list[dict[str, Any]]:
                captures = (await _target(second, target_id))["captures"]
                return [c for c in captures if c["created_at"] >= restarted_at]

            catch_up = await _poll(runs_since_restart, what="the catch-up run")
            assert len(catch_up) == 1
            # The next run is counted from the catch-up, a whole interval later.
            later = await _poll(
                lambda: _two_or_more(runs_since_restart), timeout=60, what="the next run"
            )
            await _poll(lambda: _all_finished(second, target_id), timeout=60, what="runs to finish")
            target = await _target(second, target_id)
        finally:
            await second.stop()

    runs = sorted(later, key=lambda c: c["created_at"])
    spacing = _seconds_between(runs[0]["created_at"], runs[1]["created_at"])
    assert spacing >= every - 0.01, runs
    assert target["state"] == "active" and target["interval_seconds"] == every
    assert target["url"] == schedule.url
    _never_overlapping([c for c in target["captures"] if c["status"] != "failed"])
    restart_runs = [c for c in target["captures"] if c["created_at"] >= restarted_at]
    assert sorted(c["created_at"] for c in restart_runs)[:2] == [r["created_at"] for r in runs]


async def test_a_run_killed_mid_capture_is_retried_once_and_timelined_once(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with ChangingPage() as page:
        first = RunningServer(data, workers=1)
        await first.start()
        try:
            status, _, added = await first.request(
                "POST", "/api/v1/targets", json={"url": page.url(), "every": "1h"}
            )
            assert status == 201, added
            target_id = added["id"]

            async def running() -> list[dict[str, Any]]:
                captures = (await _target(first, target_id))["captures"]
                return [c for c in captures if c["status"] == "running"]

            (run,) = await _poll(running, what="the first run to start")
            await first.reach_stage(run["id"], "behaviours")
        finally:
            await first.stop(kill=True)  # kill -9 in the middle of the run

        second = RunningServer(data, workers=1, port=first.port)
        await second.start()
        try:
            outcome = await second.wait_done(run["id"])
            target = await _target(second, target_id)
        finally:
            await second.stop()
    assert outcome["event"] == "done" and outcome["status"] in ("complete", "partial")
    assert [c["id"] for c in target["captures"]] == [run["id"]], "no second run was queued"
    assert [(e["kind"], e["capture_id"]) for e in target["timeline"]] == [("first", run["id"])]
    with Catalog.open(data / CATALOG_NAME) as catalog:
        assert catalog.get_capture(run["id"]).attempts == 2
    custody = [e for e in _custody(data) if run["id"] in e["captures"]]
    # The killed attempt's files were set aside (its own event), then the retry sealed.
    assert [e["action"] for e in custody] == ["quarantined", "re-captured"]


async def _two_or_more(get: Callable[[], Awaitable[list[dict[str, Any]]]]) -> Any:
    runs = await get()
    return runs if len(runs) >= 2 else None


async def _all_finished(server: RunningServer, target_id: int) -> bool:
    captures = (await _target(server, target_id))["captures"]
    return all(c["status"] not in ("queued", "running") for c in captures)


def _queued_at(data: Path, moment: datetime) -> list[CaptureRow]:
    """The runs the scheduler queues at ``moment``, deciding on the catalog in ``data``."""
    with Archive.open(data) as archive:
        scheduler = Scheduler(archive, on_queued=lambda: None, default_timeout=30)
        return scheduler.tick(moment)


def _seconds_between(earlier: str, later: str) -> float:
    def parse(text: str) -> datetime:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    return (parse(later) - parse(earlier)).total_seconds()


async def test_pause_resume_and_remove_through_the_api(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data", workers=1)
    async with ChangingPage() as page:
        await server.start()
        try:
            # Bad requests are refused with the field named.
            for body, status, words in (
                ({"url": page.url(), "every": "2s"}, 400, "under a minute"),
                ({"url": page.url(), "every": "often"}, 400, "body.every"),
                ({"url": "ftp://example.org/", "every": "1h"}, 422, "ftp"),
                ({"url": page.url()}, 400, "body.every"),
                ({"url": page.url(), "every": "1h", "colour": "red"}, 400, "body.colour"),
                ({"url": page.url(), "every": "1h", "allow_fast": "yes"}, 400, "allow_fast"),
            ):
                got, _, error = await server.request("POST", "/api/v1/targets", json=body)
                assert got == status and words in error["detail"], (body, error)
            for path in ("/api/v1/targets/999", "/api/v1/targets/abc"):
                got, _, error = await server.request("GET", path)
                assert got == 404 and error["error"] == "not found"

            status, _, added = await server.request(
                "POST",
                "/api/v1/targets",
                json={"url": page.url(), "every": "2s", "allow_fast": True},
            )
            assert status == 201 and added["every"] == "2s"
            target_id = added["id"]
            path = f"/api/v1/targets/{target_id}"

            async def sealed() -> int:
                captures = (await _target(server, target_id))["captures"]
                return sum(c["status"] in ("complete", "partial") for c in captures)

            await _poll(sealed, what="a first run")
            status, _, paused = await server.request("POST", path + "/pause")
            assert status == 200 and paused["state"] == "paused"
            await _poll(lambda: _all_finished(server, target_id), what="the last run to end")
            count = len((await _target(server, target_id))["captures"])
            # Two intervals pass while paused: what the scheduler decides then, on the
            # server's catalog, at that time (not waited for).
            two_intervals_on = datetime.now(UTC) + timedelta(seconds=2 * 2 + 1)
            assert await asyncio.to_thread(_queued_at, server.data, two_intervals_on) == []
            assert len((await _target(server, target_id))["captures"]) == count

            status, _, resumed = await server.request("POST", path + "/resume")
            assert status == 200 and resumed["state"] == "active"

            async def more_runs() -> bool:
                return len((await _target(server, target_id))["captures"]) > count

            await _poll(more_runs, what="a run after resuming")

            status, _, removed = await server.request("DELETE", path)
            assert status == 200 and removed["state"] == "removed"
            await _poll(lambda: _all_finished(server, target_id), what="the last run to end")
            kept = (await _target(server, target_id))["captures"]
            status, _, error = await server.request("POST", path + "/resume")
            assert status == 409 and "removed" in error["detail"]
            status, _, listing = await server.request("GET", "/api/v1/targets")
            assert target_id not in [t["id"] for t in listing["targets"]]
            status, _, listing = await server.request("GET", "/api/v1/targets?all=true")
            assert [t["state"] for t in listing["targets"] if t["id"] == target_id] == ["removed"]
            # No run of a removed target, two intervals on (decided at that time).
            two_intervals_on = datetime.now(UTC) + timedelta(seconds=2 * 2 + 1)
            assert await asyncio.to_thread(_queued_at, server.data, two_intervals_on) == []
            after = (await _target(server, target_id))["captures"]
            assert [c["id"] for c in after] == [c["id"] for c in kept]
            for capture in kept:
                status, _, detail = await server.request("GET", capture["href"])
                assert status == 200 and detail["status"] in ("complete", "partial")
        finally:
            await server.stop()


async def test_targets_added_with_the_cli_are_run_by_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = RunningServer(data, workers=1)
    async with ChangingPage() as page:
        await server.start()
        try:
            code = await asyncio.to_thread(
                main,
                ["watch", "add", page.url(), "--every", "1h", "--data", str(data), "--json"],
            )
            assert code == ExitCode.COMPLETE

            async def one_run() -> list[dict[str, Any]]:
                status, _, listing = await server.request("GET", "/api/v1/targets")
                assert status == 200
                return [t for t in listing["targets"] if t["last_run_at"]]

            (target,) = await _poll(one_run, what="the server to run the CLI's target")
            await _poll(lambda: _all_finished(server, target["id"]), what="the run to end")
            detail = await _target(server, target["id"])
        finally:
            await server.stop()
    assert len(detail["captures"]) == 1 and detail["every"] == "1h"
    assert detail["next_run_at"] > rfc3339(datetime.now(UTC) + timedelta(minutes=55))
