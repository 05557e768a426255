"""The archive package on its own: sealing files, writing WARC records, keeping out of capture."""

from __future__ import annotations

import ast
import gzip
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archive import records
from archive.hashing import sha256_bytes, sha256_file
from archive.manifest import Manifest
from archive.store import FileStore, StoreError
from archive.timeutil import rfc3339
from archive.warcfile import WarcFile
from tests.warcs import read_records, warcio_check

MOMENT = datetime(2026, 11, 26, 12, 30, 15, 250000, tzinfo=UTC)


def test_sealed_file_is_hashed_while_written_renamed_and_read_only(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c1")
    writer = store.create("c1", "notes.txt", "text")
    writer.write(b"first ")
    assert writer.partial_path.exists() and not writer.final_path.exists()
    writer.write(b"second")
    artifact = writer.seal()
    path = store.local_path("c1", "notes.txt")
    assert artifact.sha256 == sha256_bytes(b"first second") == sha256_file(path)[0]
    assert artifact.size == 12 and artifact.path == "notes.txt" and artifact.kind == "text"
    assert not writer.partial_path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444


def test_store_refuses_to_overwrite_a_sealed_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c1")
    with store.create("c1", "a.bin", "x") as out:
        out.write(b"evidence")
    with pytest.raises(StoreError, match="refusing to overwrite"):
        store.create("c1", "a.bin", "x")
    with pytest.raises(StoreError, match="invalid artifact name"):
        store.create("c1", "../escape", "x")


def test_store_adopts_a_finished_download_without_copying_it(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c1")
    download = store.work_dir("c1") / "media-1" / "media.mp4"
    download.parent.mkdir(parents=True)
    download.write_bytes(b"video bytes" * 1000)
    inode = download.stat().st_ino
    artifact = store.adopt("c1", "media-1.mp4", "media", download)
    path = store.local_path("c1", "media-1.mp4")
    assert artifact.sha256 == sha256_bytes(b"video bytes" * 1000) == sha256_file(path)[0]
    assert artifact.size == 11000 and artifact.kind == "media"
    assert path.stat().st_ino == inode, "moved, not copied"
    assert not download.exists() and not store.partial_files("c1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    download.write_bytes(b"another")
    with pytest.raises(StoreError, match="refusing to overwrite"):
        store.adopt("c1", "media-1.mp4", "media", download)
    with pytest.raises(StoreError, match="invalid artifact name"):
        store.adopt("c1", "../media.mp4", "media", download)
    assert download.read_bytes() == b"another", "a refused file is left where it was"


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat("/tmp").st_dev,
    reason="needs a second filesystem (/dev/shm) besides the one under test",
)
def test_store_copies_a_download_from_another_filesystem(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c1")
    elsewhere = Path("/dev/shm") / f"osint-capture-test-{os.getpid()}.bin"
    elsewhere.write_bytes(b"x" * 5000)
    try:
        artifact = store.adopt("c1", "media-1.bin", "media", elsewhere)
    finally:
        elsewhere.unlink()
    assert artifact.sha256 == sha256_bytes(b"x" * 5000)
    assert store.local_path("c1", "media-1.bin").read_bytes() == b"x" * 5000


def test_failed_write_leaves_only_a_partial_file_which_quarantine_moves(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c2")
    with pytest.raises(RuntimeError), store.create("c2", "w.warc.gz", "warc") as out:
        out.write(b"half")
        raise RuntimeError("disk went away")
    assert [p.name for p in store.partial_files("c2")] == [".w.warc.gz.partial"]
    moved = store.quarantine("c2")
    assert moved is not None and (moved / ".w.warc.gz.partial").read_bytes() == b"half"
    assert not store.capture_dir("c2").exists()


def test_warc_records_use_sha256_and_each_is_its_own_gzip_member(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create_capture_dir("c3")
    sink = store.create("c3", "c3.warc.gz", "warc")
    warc = WarcFile(sink)
    info = warc.write(records.warcinfo_record("c3.warc.gz", [("software", "test")], date=MOMENT))
    body = records.Payload("مرحبا".encode())
    response_id = records.new_record_id()
    response = warc.write(
        records.response_record(
            "https://example.org/a",
            status=200,
            reason="OK",
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            body=body,
            record_id=response_id,
            date=MOMENT,
            version="HTTP/1.1",
            extra=[("WARC-IP-Address", "192.0.2.1"), ("WARC-Protocol", "h2")],
        )
    )
    warc.write(
        records.request_record(
            "https://example.org/a",
            method="GET",
            path="/a",
            headers=[("Host", "example.org")],
            body=None,
            record_id=records.new_record_id(),
            date=MOMENT,
            concurrent_to=response_id,
        )
    )
    warc.close()
    artifact = sink.seal()
    path = store.local_path("c3", "c3.warc.gz")
    assert artifact.sha256 == sha256_file(path)[0]
    assert warcio_check(path).returncode == 0

    parsed = read_records(path)
    assert [r.type for r in parsed] == ["warcinfo", "response", "request"]
    assert parsed[1].header("WARC-Payload-Digest") == "sha256:" + sha256_bytes("مرحبا".encode())
    assert parsed[1].header("WARC-Block-Digest").startswith("sha256:")
    assert parsed[1].header("WARC-Date") == "2026-11-26T12:30:15.250000Z"
    assert parsed[2].header("WARC-Concurrent-To") == response_id
    assert parsed[1].headers["warc-protocol"] == ["h2"]

    # Any record can be read alone from its offset: one gzip member per record.
    with open(path, "rb") as fh:
        fh.seek(response.offset)
        member = fh.read(response.length)
    assert gzip.decompress(member).startswith(b"WARC/1.1\r\nWARC-Type: response")
    with open(path, "rb") as fh:
        fh.seek(info.offset + info.length)
        assert next(iter(ArchiveIterator(fh))).rec_type == "response"


def test_http_records_refuse_other_schemes_and_status_lines_readers_cannot_parse() -> None:
    """warcio reads an HTTP header block only for http: and https: targets, and only
    HTTP/1.0 and HTTP/1.1 status lines: any other record would fail ``warcio check``."""
    for uri in ("blob:https://example.org/1", "data:,x", "file:///C|/a.jpg", "ws://example.org/"):
        with pytest.raises(ValueError, match="needs an http: or https: target URI"):
            records.request_record(
                uri,
                method="GET",
                path="/",
                headers=[],
                body=None,
                record_id=records.new_record_id(),
                date=MOMENT,
                concurrent_to=None,
            )
        with pytest.raises(ValueError, match="needs an http: or https: target URI"):
            _response("HTTP/1.1", uri)
    with pytest.raises(ValueError, match="not one WARC readers accept"):
        _response("HTTP/2")
    old = _response("HTTP/1.0")
    assert old.http_headers is not None and old.http_headers.protocol == "HTTP/1.0"


def _response(version: str, uri: str = "https://example.org/") -> ArcWarcRecord:
    return records.response_record(
        uri,
        status=200,
        reason="OK",
        headers=[],
        body=records.Payload(),
        record_id=records.new_record_id(),
        date=MOMENT,
        version=version,
    )


def test_video_is_stored_in_its_gzip_member_and_text_is_deflated(tmp_path: Path) -> None:
    """Encoded media skip deflate (it cannot shrink them); the bytes read back are the same."""
    store = FileStore(tmp_path)
    store.create_capture_dir("c4")
    sink = store.create("c4", "c4.warc.gz", "warc")
    warc = WarcFile(sink)
    # Repetitive on purpose: deflate would shrink it, so its size shows none ran.
    video = b"\x00\x00\x01\xb3frame" * 32768
    text = b"the same sentence again. " * 4096
    written = [
        warc.write(
            records.resource_record(
                "https://example.org/" + name, content_type=kind, payload=records.Payload(body)
            )
        )
        for name, kind, body in (("v.mp4", "video/mp4", video), ("t.txt", "text/plain", text))
    ]
    warc.close()
    sink.seal()
    path = store.local_path("c4", "c4.warc.gz")
    assert warcio_check(path).returncode == 0
    parsed = read_records(path)
    assert [r.payload for r in parsed] == [video, text]
    assert parsed[0].header("WARC-Payload-Digest") == "sha256:" + sha256_bytes(video)
    # Stored blocks: the member is a little larger than the video; the text is deflated.
    assert written[0].length > len(video)
    assert written[1].length < len(text) / 20


def test_payload_spills_to_disk_and_keeps_its_digest(tmp_path: Path) -> None:
    payload = records.Payload()
    chunk = os.urandom(1024 * 1024)
    for _ in range(3):
        payload.write(chunk)
    assert payload.size == 3 * len(chunk)
    assert payload.sha256 == sha256_bytes(chunk * 3)
    assert payload.stream().read() == chunk * 3
    payload.close()


def test_times_are_utc_rfc3339_and_naive_times_refused() -> None:
    assert rfc3339(MOMENT) == "2026-11-26T12:30:15.250000Z"
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2026, 1, 1))


def test_manifest_bytes_are_stable_and_status_checked() -> None:
    manifest = Manifest(
        id="x",
        url="https://example.org/",
        final_url=None,
        status="complete",
        reasons=[],
        started_at="t0",
        finished_at="t1",
        case=None,
        note="ملاحظة",
        operator=None,
        warc=None,
        artifacts=[],
        software={"osint-capture": "0"},
    )
    assert manifest.to_bytes() == manifest.to_bytes()
    assert "ملاحظة".encode() in manifest.to_bytes()
    assert Manifest.from_dict(manifest.to_dict()) == manifest
    with pytest.raises(ValueError, match="status"):
        Manifest.from_dict({**manifest.to_dict(), "status": "sealed-ish"})


def test_archive_never_imports_capture() -> None:
    root = Path(__file__).resolve().parent.parent / "archive"
    modules = sorted(root.rglob("*.py"))
    # A rule checked over no files passes for nothing: a move into subpackages, or a
    # wrong root, must fail here rather than pass.
    assert len(modules) > 20, f"only {len(modules)} modules under {root}"
    for path in modules:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "capture", f"{path} imports {name}"


#: What capture/server may import from the modules that hold the archive's state: the
#: types its handlers name (rows, errors) and the constants they show. Never what holds
#: a connection, a directory or a log (Catalog, FileStore, Archive, CustodyLog), nor the
#: functions that use them: the server asks the capture service (capture/queries.py).
SERVER_MAY_IMPORT = {
    "archive.catalog": {
        "ALERT_KINDS",
        "ANALYSIS_STATUSES",
        "CASE_NAME_MAX",
        "FINISHED_STATUSES",
        "SNIPPET_END",
        "SNIPPET_START",
        "STATUSES",
        "TARGET_STATES",
        "TIMELINE_KINDS",
        "AnalysisHit",
        "AnalysisRow",
        "BadCaseName",
        "BadFilter",
        "CaptureRow",
        "CaseRow",
        "CatalogError",
        "SearchHit",
        "TargetRow",
        "TextLine",
        "TimelineEvent",
    },
    "archive.store": {"Artifact"},
    "archive.evidence.custody": {"CustodyError"},
    "archive.datadir": set(),
    "sqlite3": set(),
}
#: The service's attributes that would hand a handler the archive itself.
SERVICE_INTERNALS = {"catalog", "store", "archive", "data_dir"}


def _server_imports_outside_the_rule(path: Path, tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                for module in SERVER_MAY_IMPORT:
                    if alias.name == module or alias.name.startswith(module + "."):
                        found.append(f"{path}:{node.lineno} imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if module.startswith("archive.catalog."):  # its submodules: the SQL itself
                found.append(f"{path}:{node.lineno} imports {module}")
            elif module in SERVER_MAY_IMPORT:
                found.extend(
                    f"{path}:{node.lineno} imports {alias.name} from {module}"
                    for alias in node.names
                    if alias.name not in SERVER_MAY_IMPORT[module]
                )
        elif isinstance(node, ast.Attribute) and node.attr in SERVICE_INTERNALS:
            found.append(f"{path}:{node.lineno} reaches .{node.attr}")
    return found


def test_the_server_talks_to_the_service_not_to_the_catalog() -> None:
    root = Path(__file__).resolve().parent.parent / "capture" / "server"
    modules = sorted(root.rglob("*.py"))
    # As above: a rule over no files passes for nothing.
    assert len(modules) > 10, f"only {len(modules)} modules under {root}"
    found = []
    for path in modules:
        tree = ast.parse(path.read_text(), filename=str(path))
        found.extend(_server_imports_outside_the_rule(path, tree))
    assert not found, "\n".join(found)


def test_the_server_rule_catches_what_it_forbids() -> None:
    source = (
        "import sqlite3\n"
        "from archive.catalog import Catalog, CaptureRow\n"
        "from archive.catalog.captures import CaptureTables\n"
        "from archive.store import FileStore\n"
        "from archive.datadir import TOKEN_FILE\n"
        "from archive.evidence.custody import CustodyLog, CustodyError\n"
        "row = request.app[keys.SERVICE].catalog.get_capture(capture_id)\n"
        "path = service.store.path(capture_id, name)\n"
    )
    found = _server_imports_outside_the_rule(Path("x.py"), ast.parse(source))
    assert len(found) == 8, found
    assert not any("CaptureRow" in f or "CustodyError" in f for f in found)
