"""A forger's toolkit: take a package apart, change it, put it back together consistently.

The forgeries in tests/test_forgery.py are made the way someone with the package,
the tools and their own key would make them: every hash recomputed, every manifest
and the package re-signed, the custody slice re-chained, the index rebuilt, and
fresh RFC 3161 tokens from a real authority over the new bytes (a TSA stamps
whatever hash it is sent). Only what the verifier brings from outside the package
(the holder's fingerprint, the authorities' roots) can tell such a package from the
real one, and these tests check that it does.

Blocking (the TSAs answer over HTTP): call :meth:`Forgery.reseal` in a thread.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archive.custody import canonical_json, event_hash
from archive.export import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_FIELDS,
    INDEX_PATH,
    INDEX_RECORDS,
    SUMS_PATH,
)
from archive.signing import SigningKey, sign_file_bytes, signature_to_b64
from archive.timestamps import TrustStore, request_token

CUSTODY = "evidence/custody.jsonl"
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
        """Every ``prev`` and ``hash`` recomputed from the first event on."""
        events = self.events()
        previous = events[0]["prev"] if events else None
        for event in events:
            event["prev"] = previous
            event["hash"] = event_hash(event)
            previous = event["hash"]
        self.set_events(events)

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
