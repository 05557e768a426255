"""A forger's toolkit: take custody logs and packages apart, change them, put them back
together consistently.

What a forger with the machine (or with a package and the tools) does: edit, then
make every part agree again. Every hash is recomputed, every ``prev`` relinked, every
manifest and the package re-signed with the forger's own key, the index rebuilt, and
fresh RFC 3161 tokens and custody anchors obtained from a real authority over the new
bytes (a TSA stamps whatever hash it is sent). Only what lies outside the forger's
reach (an anchor made before the edit, the holder's fingerprint, the authorities'
roots) can then tell the forgery from the real thing; tests/test_forgery.py,
tests/test_anchors.py and tests/test_package_anchors.py check that it does.

Blocking where TSAs are asked (HTTP): call those methods in a thread.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archive.evidence.custody import canonical_json, event_hash
from archive.evidence.package_anchors import PACKAGE_HEAD_PATH, package_path
from archive.evidence.signing import SigningKey, sign_file_bytes, signature_to_b64
from archive.evidence.tsa_client import request_token
from archive.evidence.tsa_roots import TrustStore
from archive.timeutil import rfc3339
from archive.wacz.layout import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_FIELDS,
    INDEX_PATH,
    INDEX_RECORDS,
    SUMS_PATH,
)

CUSTODY = "evidence/custody.jsonl"


def relink(events: Sequence[Mapping[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """``events`` with every ``prev`` and ``hash`` from ``start`` on recomputed."""
    linked = [dict(event) for event in events]
    for position in range(start, len(linked)):
        if position > 0:
            linked[position]["prev"] = linked[position - 1]["hash"]
        linked[position]["hash"] = event_hash(linked[position])
    return linked


def rechained(
    events: Sequence[Mapping[str, Any]], index: int, details: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``events`` with ``events[index]``'s details replaced and every later one re-chained."""
    forged = [dict(event) for event in events]
    forged[index]["details"] = dict(details)
    return relink(forged, index)


#: A record's header and block, as a forger edits them: headers in order, raw block bytes.
Record = tuple[list[tuple[str, str]], bytes]


class Forgery:
    """A package as a dict of member name -> bytes, kept in the ZIP's order."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as zf:
            self.files = {info.filename: zf.read(info) for info in zf.infolist()}

    # -- reading and changing members ------------------------------------------------------

    def json(self, name: str) -> Any:
        return json.loads(self.files[name])

    def set_json(self, name: str, value: Any) -> None:
        self.files[name] = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()

    def capture_ids(self) -> list[str]:
        suffix = ".manifest.json"
        return sorted(
            n.removeprefix("evidence/").removesuffix(suffix)
            for n in self.files
            if n.startswith("evidence/") and n.endswith(suffix)
        )

    def manifest(self, capture_id: str) -> dict[str, Any]:
        return self.json(f"evidence/{capture_id}.manifest.json")

    def edit_manifest(self, capture_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        manifest = self.manifest(capture_id)
        change(manifest)
        self.set_json(f"evidence/{capture_id}.manifest.json", manifest)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.files[CUSTODY].splitlines()]

    def set_events(self, events: list[dict[str, Any]]) -> None:
        self.files[CUSTODY] = b"".join(canonical_json(e) + b"\n" for e in events)

    def edit_warc(self, capture_id: str, change: Callable[[list[Record]], list[Record]]) -> None:
        """Rewrite a capture's WARC record by record; ``change`` gets and returns them all."""
        name = f"archive/{capture_id}.warc.gz"
        records: list[Record] = []
        for record in ArchiveIterator(io.BytesIO(self.files[name]), no_record_parse=True):
            headers = list(record.rec_headers.headers)
            records.append((headers, record.raw_stream.read()))
        self.files[name] = b"".join(_gzip_record(h, b) for h, b in change(records))

    # -- putting it back together ------------------------------------------------------------

    def reseal(
        self,
        *,
        package_key: SigningKey,
        manifest_key: SigningKey | None = None,
        tsa_url: str | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        """Make every part agree again, signed by the forger's keys, stamped anew."""
        for capture_id in self.capture_ids():
            self.reseal_capture(capture_id, manifest_key or package_key, tsa_url, trust)
        self.rechain_custody()
        if tsa_url is not None and trust is not None and PACKAGE_HEAD_PATH in self.files:
            self.reanchor(tsa_url, trust)
        self.rebuild_index()
        self.rebuild_sums()
        self.resign_package(package_key, tsa_url=tsa_url, trust=trust)

    def reseal_capture(
        self,
        capture_id: str,
        key: SigningKey,
        tsa_url: str | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        """The manifest lists the files as they are now, signed by ``key``, stamped anew."""

        def relist(manifest: dict[str, Any]) -> None:
            for artifact in manifest["artifacts"]:
                data = self.files[self._artifact_path(capture_id, artifact)]
                artifact["sha256"] = hashlib.sha256(data).hexdigest()
                artifact["size"] = len(data)

        self.edit_manifest(capture_id, relist)
        manifest_bytes = self.files[f"evidence/{capture_id}.manifest.json"]
        sha = hashlib.sha256(manifest_bytes).hexdigest()
        record = {**sign_file_bytes(key, manifest_bytes), "signs": "manifest.json", "sha256": sha}
        self.set_json(f"evidence/{capture_id}.manifest.sig.json", record)
        if tsa_url is not None and trust is not None:
            stamp = request_token(bytes.fromhex(sha), tsa_url, trust=trust)
            stem = f"evidence/{capture_id}.timestamp-1"
            self.files[f"{stem}.tsr"] = stamp.token_der
            self.files[f"{stem}.chain.pem"] = stamp.tsa_chain_pem.encode()
        self._set_sealing_event(capture_id, sha, key.fingerprint)

    def rechain_custody(self) -> None:
        """Every ``hash`` recomputed, every ``prev`` relinked (the first keeps its own)."""
        self.set_events(relink(self.events()))

    def reanchor(self, tsa_url: str, trust: TrustStore) -> None:
        """New anchors over the re-chained slice, made now by a real authority.

        The ``anchored`` events of the slice are re-made in order (each changes its own
        hash and every later one), then each anchor of ``custody-head.json`` and the head
        itself. What cannot be re-made is an anchor's time: every new one says "now".
        """
        events = relink(self.events())
        first, last = events[0]["seq"], events[-1]["seq"]
        for index, event in enumerate(events):
            details = event["details"]
            if event["action"] != "anchored" or not first <= details["anchored_seq"] <= last:
                continue
            target = events[details["anchored_seq"] - first]["hash"]
            token, when = self._stamp_anchor(package_path(details["token"]), target, tsa_url, trust)
            details.update(anchored_hash=target, gen_time=when, token_sha256=token)
            events = relink(events, index)
        self.set_events(events)
        head = self.json(PACKAGE_HEAD_PATH)
        head["seq"], head["hash"] = last, events[-1]["hash"]
        for entry in head["anchors"]:
            entry["hash"] = events[entry["seq"] - first]["hash"]
            _, entry["gen_time"] = self._stamp_anchor(entry["path"], entry["hash"], tsa_url, trust)
        self.set_json(PACKAGE_HEAD_PATH, head)

    def rebuild_index(self) -> None:
        """The CDXJ index made anew from the WARCs, as the exporter makes it."""
        with tempfile.TemporaryDirectory() as work:
            paths = []
            for name, data in self.files.items():
                if name.startswith("archive/"):
                    path = Path(work) / name.removeprefix("archive/")
                    path.write_bytes(data)
                    paths.append(str(path))
            out = Path(work) / "index.cdxj"
            CDXJIndexer(
                str(out),
                paths,
                sort=True,
                post_append=True,
                digest_records=True,
                fields=INDEX_FIELDS,
                records=INDEX_RECORDS,
            ).process_all()
            self.files[INDEX_PATH] = out.read_bytes()

    def rebuild_sums(self) -> None:
        skip = {SUMS_PATH, DATAPACKAGE, DATAPACKAGE_DIGEST}
        self.files[SUMS_PATH] = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, data in self.files.items()
            if name not in skip
        ).encode()

    def resign_package(
        self,
        key: SigningKey,
        *,
        tsa_url: str | None = None,
        trust: TrustStore | None = None,
        created: str | None = None,
    ) -> None:
        """datapackage.json lists the files as they are; its digest is signed by ``key``."""
        package = self.json(DATAPACKAGE)
        if created is not None:
            package["created"] = created
        listed = {r["path"]: r for r in package["resources"]}
        package["resources"] = [
            {
                **listed.get(name, {"name": name.rsplit("/", 1)[-1], "path": name}),
                "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
                "bytes": len(data),
            }
            for name, data in self.files.items()
            if name not in (DATAPACKAGE, DATAPACKAGE_DIGEST)
        ]
        self.set_json(DATAPACKAGE, package)
        digest = f"sha256:{hashlib.sha256(self.files[DATAPACKAGE]).hexdigest()}"
        signature = key.sign(digest.encode())
        document: dict[str, Any] = {
            "path": DATAPACKAGE,
            "hash": digest,
            "signedData": {
                "hash": digest,
                "signature": signature_to_b64(signature),
                "publicKey": key.public_key_b64,
                "created": package["created"],
                "software": "osint-capture 0.1.0",
            },
        }
        if tsa_url is not None and trust is not None:
            stamp = request_token(hashlib.sha256(signature).digest(), tsa_url, trust=trust)
            token = base64.b64encode(stamp.token_der).decode()
            document["timestamps"] = [{"tsa": tsa_url, "token": token}]
        self.set_json(DATAPACKAGE_DIGEST, document)
        # Members after the datapackage files would break nothing, but keep the order.
        for name in (DATAPACKAGE, DATAPACKAGE_DIGEST):
            self.files[name] = self.files.pop(name)

    def write(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in self.files.items():
                zf.writestr(name, data)
        return path

    # -- plumbing -----------------------------------------------------------------------------

    def _stamp_anchor(
        self, path: str, event_hash_hex: str, tsa_url: str, trust: TrustStore
    ) -> tuple[str, str]:
        """A token over an event's hash at ``path``; its SHA-256 and time."""
        stamp = request_token(bytes.fromhex(event_hash_hex), tsa_url, trust=trust)
        self.files[path] = stamp.token_der
        return hashlib.sha256(stamp.token_der).hexdigest(), rfc3339(stamp.gen_time)

    def _artifact_path(self, capture_id: str, artifact: dict[str, Any]) -> str:
        if artifact["kind"] == "warc":
            return f"archive/{artifact['path']}"
        return f"evidence/{capture_id}.{artifact['path']}"

    def _set_sealing_event(self, capture_id: str, sha: str, fingerprint: str) -> None:
        events = self.events()
        for event in events:
            if event["action"] == "captured" and capture_id in event["captures"]:
                event["details"]["manifest_sha256"] = sha
                event["details"]["signed_by"] = fingerprint
        self.set_events(events)


def block_digests(headers: list[tuple[str, str]], block: bytes) -> list[tuple[str, str]]:
    """Headers with Content-Length and both digests recomputed for ``block``."""
    http = any(k == "Content-Type" and v.startswith("application/http") for k, v in headers)
    payload = block.split(b"\r\n\r\n", 1)[1] if http and b"\r\n\r\n" in block else block
    replace = {
        "Content-Length": str(len(block)),
        "WARC-Block-Digest": f"sha256:{hashlib.sha256(block).hexdigest()}",
        "WARC-Payload-Digest": f"sha256:{hashlib.sha256(payload).hexdigest()}",
    }
    return [(k, replace.get(k, v)) for k, v in headers]


def _gzip_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return gzip.compress(head.encode() + block + b"\r\n\r\n")
