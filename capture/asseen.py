"""What the investigator's own browser showed, kept beside what our browser recorded.

The extension sends a screenshot of the visible tab and the page's serialized DOM
(and, only when ticked, the site's cookies so our browser loads the page as the
logged-in user). The server stages the files the moment they arrive, hashing them as
they are written (the store's :class:`~archive.sealed_store.IncomingStore`: in
``DATA/incoming/<capture-id>/``, and in team mode in the bucket too); the worker that
runs the capture fetches them (:func:`fetch_staged`: a no-op on one machine, a checked
download on another), then puts them into its WARC as separate ``resource`` records
labelled as provided by the investigator's browser, checking that each still has the
hash it arrived with.

Cookies are never written to disk: they live in memory for the one capture (in team
mode they cross to the worker sealed, :mod:`capture.lending`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archive.datadir import Archive
from archive.errors import OsintCaptureError
from archive.records import Payload, metadata_record, resource_record
from archive.sealed_store import SealedStore

PROVIDED_BY = "the investigator's browser, through the osint-capture extension"


@dataclass(frozen=True)
class ReceivedFile:
    """A file received from the extension: where it waits, and its hash on arrival."""

    path: Path
    sha256: str
    size: int
    content_type: str


@dataclass
class AsSeen:
    """The as-seen part of one capture request."""

    screenshot: ReceivedFile | None = None
    dom: ReceivedFile | None = None
    info: dict[str, Any] = field(default_factory=dict)  # tab URL, title, UA, viewport, times
    cookies: list[dict[str, Any]] | None = None  # memory only, never stored
    #: Whether cookies were sent with the request (what the catalog keeps of them).
    cookies_sent: bool = False

    def to_request(self) -> dict[str, Any]:
        """What the catalog keeps of it (so a queued capture survives a restart): no cookies."""
        files = {
            name: {
                "path": str(item.path),
                "sha256": item.sha256,
                "size": item.size,
                "content_type": item.content_type,
            }
            for name, item in (("screenshot", self.screenshot), ("dom", self.dom))
            if item is not None
        }
        cookies_sent = self.cookies_sent or bool(self.cookies)
        return {"files": files, "info": self.info, "cookies_sent": cookies_sent}

    @classmethod
    def from_request(cls, data: dict[str, Any]) -> AsSeen:
        files = {
            name: ReceivedFile(Path(f["path"]), f["sha256"], f["size"], f["content_type"])
            for name, f in data.get("files", {}).items()
        }
        return cls(
            files.get("screenshot"),
            files.get("dom"),
            dict(data.get("info", {})),
            cookies=None,
            cookies_sent=bool(data.get("cookies_sent")),
        )


def discard_incoming(archive: Archive, capture_id: str) -> None:
    """Once sealed into the WARC (or never queued), the waiting copies go."""
    archive.store.incoming.discard(capture_id)


def fetch_staged(store: SealedStore, capture_id: str, as_seen: AsSeen) -> tuple[AsSeen, list[str]]:
    """The as-seen files on this machine's disk for the capture to read (blocking), and
    what could not be fetched: each such file is then reported gone when the capture
    looks for it, and the reason here says why."""
    problems: list[str] = []
    fetched: dict[str, ReceivedFile | None] = {}
    for name, item in (("screenshot", as_seen.screenshot), ("dom", as_seen.dom)):
        if item is None:
            fetched[name] = None
            continue
        staged = item.path.name
        try:
            path = store.incoming.fetch(capture_id, staged, item.sha256, item.size)
        except OsintCaptureError as exc:
            problems.append(f"as-seen {name} could not be fetched from where it was staged: {exc}")
            path = item.path
        fetched[name] = replace(item, path=path)
    return replace(as_seen, screenshot=fetched["screenshot"], dom=fetched["dom"]), problems


def records(as_seen: AsSeen, page_url: str, problems: list[str]) -> list[ArcWarcRecord]:
    """The as-seen records, each checked against the hash it arrived with."""
    made: list[ArcWarcRecord] = []
    labelled = [("X-Osint-Provided-By", PROVIDED_BY)]
    received_at = as_seen.info.get("received_at")
    if received_at:
        labelled.append(("X-Osint-Received-At", str(received_at)))
    labelled.append(("WARC-Refers-To-Target-URI", page_url))
    for name, item, uri in (
        ("screenshot", as_seen.screenshot, f"urn:as-seen:view:{page_url}"),
        ("dom", as_seen.dom, f"urn:as-seen:dom:{page_url}"),
    ):
        if item is None:
            continue
        payload = _load(item.path)
        if payload is None:
            problems.append(f"as-seen {name} was received but is gone from {item.path}")
            continue
        if payload.sha256 != item.sha256:
            problems.append(
                f"as-seen {name} changed after it was received "
                f"(received {item.sha256}, now {payload.sha256}); it is not recorded"
            )
            payload.close()
            continue
        made.append(
            resource_record(uri, content_type=item.content_type, payload=payload, extra=labelled)
        )
    info = {
        **as_seen.info,
        "provided_by": PROVIDED_BY,
        "files": {
            name: {"sha256": item.sha256, "size": item.size}
            for name, item in (("screenshot", as_seen.screenshot), ("dom", as_seen.dom))
            if item is not None
        },
        "cookies_sent": len(as_seen.cookies or []),
    }
    body = Payload(json.dumps(info, indent=2, ensure_ascii=False).encode("utf-8"))
    made.append(
        metadata_record(
            f"urn:as-seen:info:{page_url}",
            content_type="application/json",
            payload=body,
            extra=labelled,
        )
    )
    return made


def _load(path: Path) -> Payload | None:
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return None
    payload = Payload()
    with fh:
        while chunk := fh.read(1024 * 1024):
            payload.write(chunk)
    return payload


def stage_file(
    archive: Archive, capture_id: str, name: str, data: bytes, content_type: str
) -> ReceivedFile:
    """Stage a received file at once, hashed as written (the hash the capture checks)."""
    staged = archive.store.incoming.stage(capture_id, name, data)
    return ReceivedFile(
        archive.incoming_dir(capture_id) / name, staged.sha256, staged.size, content_type
    )
