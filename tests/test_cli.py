"""The ``osint-capture`` console script, run as a real subprocess against the local test site.

The test site is served by the same event loop as the tests, so the command is
started with :func:`asyncio.create_subprocess_exec` and awaited: a blocking
``subprocess.run`` would keep the site from answering the browser.

Browser captures are slow (seconds each), so each one is made once, by a
module-scoped fixture, and its result checked by several tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from archive.datadir import Archive
from archive.people.owner import owner_name
from tests.site import TestSite

CLI = Path(sys.executable).with_name("osint-capture")
#: A run that never starts a browser must end well within this (seconds).
FAST = 5.0
STAGES = ("prepare", "browser", "load", "behaviours", "cut", "derived", "media", "seal", "done")


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"osint-capture {' '.join(self.args)} -> exit {self.returncode} "
            f"in {self.seconds:.1f} s\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


@dataclass(frozen=True)
class Env:
    """A run whose data dir was given only by $OSINT_CAPTURE_DATA."""

    cwd: Path
    data: Path
    env: dict[str, str]
    url: str
    run: Run


async def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    """Run the console script to its end without blocking the event loop."""
    environment = {k: v for k, v in os.environ.items() if k != "OSINT_CAPTURE_DATA"}
    environment.update(env or {})
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        *args,
        cwd=cwd,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return Run(
        args,
        process.returncode if process.returncode is not None else -1,
        out.decode("utf-8"),
        err.decode("utf-8"),
        time.monotonic() - started,
    )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the captures, each made once -----------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory shared by this module's captures (not created in advance)."""
    return tmp_path_factory.mktemp("cli") / "data"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working directory of the runs, so a stray ``./data`` would be seen, not left."""
    return tmp_path_factory.mktemp("cwd")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rich_json(site: TestSite, data: Path, workdir: Path) -> Run:
    return await run_cli(
        "capture",
        site.url("/rich"),
        "--case",
        "c1",
        "--note",
        "n",
        "--operator",
        "o",
        "--json",
        "--data",
        str(data),
        cwd=workdir,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rich_text(site: TestSite, data: Path, workdir: Path) -> Run:
    return await run_cli(
        "capture", site.url("/rich"), "--case", "c2", "--data", str(data), cwd=workdir
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def partial(site: TestSite, data: Path, workdir: Path) -> Run:
    return await run_cli(
        "capture",
        site.url("/never-finishes"),
        "--case",
        "c1",
        "--timeout",
        "12",
        "--json",
        "--data",
        str(data),
        cwd=workdir,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def refused(data: Path, workdir: Path) -> tuple[str, Run]:
    url = f"http://127.0.0.1:{free_port()}/nothing"
    return url, await run_cli("capture", url, "--timeout", "20", "--data", str(data), cwd=workdir)


# -- capture --json ------------------------------------------------------------------


async def test_json_capture_prints_the_manifest_of_a_complete_capture(
    site: TestSite, data: Path, rich_json: Run
) -> None:
    assert rich_json.returncode == 0, rich_json
    manifest = rich_json.json()
    assert isinstance(manifest, dict)
    assert manifest["status"] == "complete", manifest["reasons"]
    assert manifest["reasons"] == []
    assert manifest["url"] == site.url("/rich")
    assert manifest["final_url"] == site.url("/rich")
    assert (manifest["case"], manifest["note"], manifest["operator"]) == ("c1", "n", "o")
    assert manifest["http_status"] == 200 and manifest["title"] == "Rich page"
    assert manifest["warc"] == f"{manifest['id']}.warc.gz"
    # --json keeps stderr free of progress lines.
    assert "[load]" not in rich_json.stderr and "[seal]" not in rich_json.stderr


async def test_json_capture_every_artifact_hash_matches_the_file_on_disk(
    data: Path, rich_json: Run
) -> None:
    manifest = rich_json.json()
    capture_dir = data / "captures" / manifest["id"]
    artifacts = manifest["artifacts"]
    assert {a["kind"] for a in artifacts} == {"warc", "screenshot"}
    for artifact in artifacts:
        path = capture_dir / artifact["path"]
        assert path.is_file(), path
        assert sha256_of(path) == artifact["sha256"], artifact["path"]
        assert path.stat().st_size == artifact["size"], artifact["path"]
    on_disk = {p.name for p in capture_dir.iterdir()}
    # Beside the manifest: its signature (it cannot be listed inside what it signs).
    assert on_disk == {a["path"] for a in artifacts} | {"manifest.json", "manifest.sig.json"}


async def test_json_capture_manifest_on_disk_is_what_was_printed(
    data: Path, rich_json: Run
) -> None:
    manifest = rich_json.json()
    manifest_path = data / "captures" / manifest["id"] / "manifest.json"
    assert json.loads(manifest_path.read_bytes()) == manifest
    # Byte for byte: the printed manifest is the sealed file.
    assert manifest_path.read_text("utf-8") == rich_json.stdout


# -- capture without --json ----------------------------------------------------------


async def test_text_capture_prints_status_hashes_and_paths(
    site: TestSite, data: Path, rich_text: Run
) -> None:
    assert rich_text.returncode == 0, rich_text
    lines = rich_text.stdout.splitlines()
    assert lines[0] == f"complete: {site.url('/rich')}"
    capture_id = next(line.split()[1] for line in lines if line.strip().startswith("capture:"))
    capture_dir = data / "captures" / capture_id
    warc = capture_dir / f"{capture_id}.warc.gz"

    warc_line = next(i for i, line in enumerate(lines) if line.split()[:1] == ["warc"])
    assert lines[warc_line].split()[1] == str(warc)
    hash_line = lines[warc_line + 1].split()
    assert hash_line[0] == "sha256" and hash_line[1] == sha256_of(warc)
    assert f"({warc.stat().st_size} bytes)" in lines[warc_line + 1]

    screenshot = capture_dir / "screenshot.png"
    assert any(line.split()[:2] == ["screenshot", str(screenshot)] for line in lines)
    assert f"sha256 {sha256_of(screenshot)}" in rich_text.stdout
    assert lines[-1].split() == ["manifest", str(capture_dir / "manifest.json")]

    manifest = json.loads((capture_dir / "manifest.json").read_bytes())
    assert manifest["status"] == "complete" and manifest["case"] == "c2"
    assert manifest["operator"] == (os.environ.get("USER") or None)


async def test_text_capture_shows_the_stages_on_stderr(site: TestSite, rich_text: Run) -> None:
    assert rich_text.returncode == 0, rich_text
    stages = [
        line.split()[0][1:-1] for line in rich_text.stderr.splitlines() if line.startswith("[")
    ]
    assert stages == list(STAGES), rich_text.stderr
    assert f"[prepare] {site.url('/rich')}" in rich_text.stderr
    assert "[load]" in rich_text.stderr and "[seal]" in rich_text.stderr
    # Progress goes to stderr only: stdout stays the summary.
    assert "[" not in rich_text.stdout


# -- partial ---------------------------------------------------------------------------


async def test_a_page_that_never_finishes_exits_3_sealed_partial(
    site: TestSite, data: Path, partial: Run
) -> None:
    assert partial.returncode == 3, partial
    manifest = partial.json()
    assert manifest["status"] == "partial"
    assert manifest["url"] == site.url("/never-finishes")
    assert any("/hang" in reason for reason in manifest["reasons"]), manifest["reasons"]
    # Cut at the budget: 12 s, plus the time to start Python and Chromium.
    assert partial.seconds < 12 + 8, partial.seconds
    capture_dir = data / "captures" / manifest["id"]
    for artifact in manifest["artifacts"]:
        assert sha256_of(capture_dir / artifact["path"]) == artifact["sha256"]
    assert json.loads((capture_dir / "manifest.json").read_bytes()) == manifest


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("data:text/html,x", "scheme 'data'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("chrome://settings", "scheme 'chrome'"),
        ("not a url", "spaces"),
        ("http://", "no host name"),
    ],
)
async def test_a_bad_url_exits_2_fast_with_one_line_and_no_capture(
    tmp_path: Path, url: str, problem: str
) -> None:
    data = tmp_path / "data"
    run = await run_cli("capture", url, "--data", str(data), cwd=tmp_path, timeout=30)
    assert run.returncode == 2, run
    assert run.seconds < FAST, f"took {run.seconds:.1f} s: did a browser start?"
    assert run.stdout == ""
    error = run.stderr.strip()
    assert "\n" not in error, run.stderr
    assert error.startswith("osint-capture: ")
    assert problem in error and url in error
    assert not (data / "captures").exists()
    assert not data.exists()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("value", ["0", "abc"])
async def test_a_bad_timeout_exits_2(site: TestSite, tmp_path: Path, value: str) -> None:
    data = tmp_path / "data"
    run = await run_cli(
        "capture", site.url("/rich"), "--timeout", value, "--data", str(data), cwd=tmp_path
    )
    assert run.returncode == 2, run
    assert run.seconds < FAST, run
    assert run.stdout == ""
    assert "argument --timeout" in run.stderr
    assert not data.exists()


# -- failed ----------------------------------------------------------------------------


async def test_a_refused_connection_exits_1_with_the_reason_on_stderr(
    data: Path, refused: tuple[str, Run]
) -> None:
    url, run = refused
    assert run.returncode == 1, run
    assert run.stdout == ""
    assert f"failed: {url}" in run.stderr
    assert "ERR_CONNECTION_REFUSED" in run.stderr
    assert "[failed]" in run.stderr and "Traceback" not in run.stderr


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def refused_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A refused capture with --json, its data dir given only by $OSINT_CAPTURE_DATA."""
    cwd = tmp_path_factory.mktemp("env")
    env_data = cwd / "from-env"
    url = f"http://127.0.0.1:{free_port()}/nothing"
    env = {"OSINT_CAPTURE_DATA": str(env_data)}
    run = await run_cli(
        "capture", url, "--case", "gone", "--json", "--timeout", "20", cwd=cwd, env=env
    )
    return Env(cwd, env_data, env, url, run)


async def test_a_refused_connection_with_json_prints_a_failed_manifest(refused_env: Env) -> None:
    run = refused_env.run
    assert run.returncode == 1, run
    manifest = run.json()
    assert manifest["status"] == "failed" and manifest["url"] == refused_env.url
    assert manifest["case"] == "gone"
    assert manifest["artifacts"] == [] and manifest["warc"] is None
    assert "ERR_CONNECTION_REFUSED" in manifest["reasons"][0]
    assert not (refused_env.data / "captures" / manifest["id"]).exists()

    listing = await run_cli("list", "--json", cwd=refused_env.cwd, env=refused_env.env)
    assert listing.returncode == 0, listing
    rows = listing.json()
    assert [(r["id"], r["status"], r["case"], r["url"]) for r in rows] == [
        (manifest["id"], "failed", "gone", refused_env.url)
    ]
    assert any("ERR_CONNECTION_REFUSED" in reason for reason in rows[0]["reasons"])
    assert rows[0]["warc"] is None and rows[0]["manifest_sha256"] is None


# -- list ------------------------------------------------------------------------------


async def test_list_json_shows_every_capture_of_the_data_dir(
    data: Path,
    workdir: Path,
    rich_json: Run,
    rich_text: Run,
    partial: Run,
    refused: tuple[str, Run],
) -> None:
    run = await run_cli("list", "--json", "--data", str(data), cwd=workdir)
    assert run.returncode == 0, run
    assert run.seconds < FAST
    rows = {row["id"]: row for row in run.json()}
    text_id = next(line.split()[1] for line in rich_text.stdout.splitlines() if "capture:" in line)
    expected = {
        rich_json.json()["id"]: ("complete", "c1"),
        text_id: ("complete", "c2"),
        partial.json()["id"]: ("partial", "c1"),
    }
    assert len(rows) == 4
    for capture_id, (status, case) in expected.items():
        assert (rows[capture_id]["status"], rows[capture_id]["case"]) == (status, case)
        manifest_path = data / "captures" / capture_id / "manifest.json"
        assert rows[capture_id]["manifest_sha256"] == sha256_of(manifest_path)
    (failed,) = [row for row in rows.values() if row["id"] not in expected]
    assert failed["status"] == "failed" and failed["url"] == refused[0]
    assert failed["case"] is None
    assert any("ERR_CONNECTION_REFUSED" in reason for reason in failed["reasons"])
    # Newest first.
    started = [row["started_at"] for row in run.json()]
    assert started == sorted(started, reverse=True)
    # --data was honoured every time: nothing went to ./data.
    assert not (workdir / "data").exists()


async def test_list_filters_by_case(
    data: Path, workdir: Path, rich_json: Run, rich_text: Run, partial: Run
) -> None:
    run = await run_cli("list", "--json", "--case", "c1", "--data", str(data), cwd=workdir)
    assert run.returncode == 0, run
    rows = run.json()
    assert {row["id"] for row in rows} == {rich_json.json()["id"], partial.json()["id"]}
    assert {row["case"] for row in rows} == {"c1"}

    text = await run_cli("list", "--case", "c1", "--data", str(data), cwd=workdir)
    assert text.returncode == 0, text
    lines = text.stdout.splitlines()
    assert len(lines) == 2
    assert {line.split()[0] for line in lines} == {rich_json.json()["id"], partial.json()["id"]}
    assert all(" c1 " in line for line in lines)

    none = await run_cli("list", "--case", "no-such-case", "--data", str(data), cwd=workdir)
    assert none.returncode == 0, none
    assert none.stdout.strip() == "no captures in case 'no-such-case'"


async def test_list_of_an_empty_data_dir_says_no_captures(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    run = await run_cli("list", "--data", str(missing), cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout.strip() == "no captures"
    assert not missing.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    run = await run_cli("list", "--data", str(empty), cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout.strip() == "no captures"

    run = await run_cli("list", "--json", "--data", str(missing), cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.json() == []


# -- $OSINT_CAPTURE_DATA ---------------------------------------------------------------


async def test_the_data_dir_comes_from_the_environment_without_data(refused_env: Env) -> None:
    assert refused_env.run.returncode == 1, refused_env.run
    assert (refused_env.data / "catalog.sqlite3").is_file()
    assert list((refused_env.data / "quarantine").iterdir())
    assert not (refused_env.cwd / "data").exists()

    listing = await run_cli("list", cwd=refused_env.cwd, env=refused_env.env)
    assert listing.returncode == 0, listing
    (line,) = listing.stdout.splitlines()
    assert line.split()[:2] == [refused_env.run.json()["id"], "failed"]
    assert line.split()[-1] == refused_env.url

    # --data wins over the environment.
    other = refused_env.cwd / "other"
    listing = await run_cli("list", "--data", str(other), cwd=refused_env.cwd, env=refused_env.env)
    assert listing.returncode == 0, listing
    assert listing.stdout.strip() == "no captures"


async def test_key_and_custody_verify_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await run_cli("key", "--data", str(data), cwd=tmp_path)
    second = await run_cli("key", "--data", str(data), cwd=tmp_path)
    assert first.returncode == second.returncode == 0 and first.stdout == second.stdout
    assert "BEGIN PUBLIC KEY" in first.stdout and "fingerprint: sha256:" in first.stdout
    verified = await run_cli("custody", "verify", "--data", str(data), cwd=tmp_path)
    # Intact, but no TSA has anchored it: exit 4, and the first line says how to.
    assert verified.returncode == 4 and "1 events, intact" in verified.stdout
    assert "not anchored" in verified.stdout and "custody anchor --tsa URL" in verified.stdout
    log = data / "custody.jsonl"
    log.write_text(log.read_text().replace("key-created", "key-CREATED"))
    tampered = await run_cli("custody", "verify", "--data", str(data), "--json", cwd=tmp_path)
    assert tampered.returncode == 1 and tampered.json()["ok"] is False


async def test_export_a_case_to_a_signed_wacz_that_validates(
    site: TestSite, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    for path in ("/gzip", "/arabic"):
        made = await run_cli(
            "capture",
            site.url(path),
            "--case",
            "court",
            "--no-media",
            "--data",
            str(data),
            cwd=tmp_path,
        )
        assert made.returncode == 0, made
    out = tmp_path / "court.wacz"
    exported = await run_cli(
        "export", "--case", "court", "--out", str(out), "--data", str(data), cwd=tmp_path
    )
    assert exported.returncode == 0, exported
    assert f"sha256 {sha256_of(out)}" in exported.stdout
    with Archive.open(data, create=False) as archive:  # the person, in custody and access
        [event] = [e for e in archive.custody.events() if e.action == "exported"]
        assert event.actor == owner_name() and event.details["device"] == "command line"
        [opened] = [e for e in archive.access.entries() if e.action == "exported"]
        assert opened.user == owner_name() and opened.details["sha256"] == sha256_of(out)
    validator = await asyncio.create_subprocess_exec(
        str(CLI.with_name("wacz")),
        "validate",
        "-f",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await validator.communicate()
    assert validator.returncode == 0, output.decode()
    # --data trusts this installation's key; no TSA is configured here, so nothing proves
    # when the captures were made: intact, not authenticated.
    verified = await run_cli("verify", str(out), "--data", str(data), cwd=tmp_path)
    assert verified.returncode == 4, verified
    first = verified.stdout.splitlines()[0]
    assert "INTACT, NOT AUTHENTICATED" in first and "whose key" not in first, verified
    assert "when captures were made" in first and "FAIL" not in verified.stdout
    assert f"the key of the installation at {data}" in verified.stdout
    unpinned = await run_cli("verify", str(out), "--json", cwd=tmp_path)
    assert unpinned.returncode == 4 and unpinned.json()["verdict"] == "unproven", unpinned
    signers = unpinned.json()["rests_on"]["signers"]
    assert len(signers) == 1 and signers[0]["established"] is False
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(tampered, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "evidence/report.html":
                content = content.replace(b"Capture report", b"Captured report", 1)  # a word
            target.writestr(entry, content)
    failed = await run_cli("verify", str(tampered), "--json", cwd=tmp_path)
    assert failed.returncode == 1 and failed.json()["verdict"] == "failed"
    missing_trust = await run_cli(
        "verify", str(out), "--tsa-trust", str(tmp_path / "no-such-root.pem"), cwd=tmp_path
    )
    assert missing_trust.returncode == 2, missing_trust
    assert "no-such-root.pem" in missing_trust.stderr and "Traceback" not in missing_trust.stderr
    bad_pin = await run_cli("verify", str(out), "--key-fingerprint", "sha256:abc", cwd=tmp_path)
    assert bad_pin.returncode == 2 and "64 hexadecimal digits" in bad_pin.stderr, bad_pin
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip at all")
    unreadable = await run_cli("verify", str(junk), cwd=tmp_path)
    assert unreadable.returncode == 2 and "not a readable" in unreadable.stderr
    custody = await run_cli("custody", "verify", "--data", str(data), cwd=tmp_path)
    assert custody.returncode == 4 and "intact" in custody.stdout  # not anchored: no TSA
    again = await run_cli(
        "export", "--case", "court", "--out", str(out), "--data", str(data), cwd=tmp_path
    )
    assert again.returncode == 1 and "exists" in again.stderr
    neither = await run_cli(
        "export", "--out", str(tmp_path / "x.wacz"), "--data", str(data), cwd=tmp_path
    )
    assert neither.returncode == 2


async def test_a_missing_tsa_trust_file_is_bad_input_for_every_command(tmp_path: Path) -> None:
    """Named at once, before a browser starts or a file is written, never a traceback."""
    missing = tmp_path / "no-such-root.pem"
    data = tmp_path / "data"
    for command in (
        ("capture", "http://127.0.0.1:1/"),
        ("serve",),
        ("timestamp", "--pending"),
        ("export", "--case", "c", "--out", str(tmp_path / "x.wacz")),
        ("verify", str(tmp_path / "x.wacz")),
        ("key",),
        ("custody", "verify"),
        ("custody", "anchor"),
    ):
        run = await run_cli(
            *command, "--data", str(data), "--tsa-trust", str(missing), cwd=tmp_path
        )
        assert run.returncode == 2, run
        assert f"cannot read trust file {missing}" in run.stderr, run
        assert "Traceback" not in run.stderr and run.seconds < FAST, run
    assert not data.exists()


async def test_a_bad_case_name_is_refused_before_anything_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = await run_cli(
        "capture", "https://example.org/", "--case", "a/b", "--data", str(data), cwd=tmp_path
    )
    assert run.returncode == 2, run.stderr
    assert "a case name is" in run.stderr and "'/'" in run.stderr
    assert not data.exists()  # no browser started, no archive made for nothing
