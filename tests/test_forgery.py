"""Forgeries, made as the other side's expert would make them, and what ``verify`` says.

A genuine capture of the local test site, stamped by a local time-stamp authority
(TSA), is exported once for the module. Each test builds one forgery from it with
tests/forgery.py (an attacker's own key, a second TSA under another CA, clocks set back
and forward, a re-chained custody slice, ZIP wrapping, directory entries, emptied
SHA256SUMS, digest-less records, swapped and stripped tokens) and runs ``osint-capture
verify`` as a recipient would, asserting its exit code and the line that names the
catch. The genuine package, with the holder's key pinned, must pass: exit 0.

Some forgeries are made by an insider who holds the genuine key, to show that the
check that catches them is not the signature: a trusted time that contradicts the
claim, a token from an authority the verifier does not trust, an index that points a
URL at another record.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from archive.evidence.custody import canonical_json
from archive.evidence.package_anchors import PACKAGE_HEAD_PATH
from archive.evidence.signing import P256_ORDER, SigningKey
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_client import request_token
from archive.evidence.tsa_roots import TrustStore
from archive.timeutil import rfc3339, set_clock
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.exports import export_stamped
from tests.forgery import Forgery, Record, block_digests, rechained
from tests.site import TestSite
from tests.tsa import TestTSA

CLI = Path(sys.executable).with_name("osint-capture")
DIGEST = "datapackage-digest.json"


@dataclass
class Genuine:
    """The genuine package and everything a verifier or a forger may hold."""

    path: Path
    capture_id: str
    url: str
    holder: SigningKey
    tsa: TestTSA
    forger_tsa: TestTSA
    trust: TrustStore
    work: Path

    @property
    def pin(self) -> str:
        return self.holder.fingerprint


@dataclass(frozen=True)
class Verdict:
    code: int
    out: str
    err: str

    @property
    def first(self) -> str:
        return self.out.splitlines()[0] if self.out else ""

    def line(self, label: str, *needles: str) -> str:
        """The check line with this label (``FAIL``, ``UNPROVEN``) naming every needle."""
        for line in self.out.splitlines():
            text = line.strip()
            if text.startswith(label) and all(n in text for n in needles):
                return text
        raise AssertionError(f"no {label} line naming {needles} in:\n{self.out}\n{self.err}")


async def export_capture(
    site: TestSite, browser: Browser, data: Path, tsa: TestTSA, *, clock_shift: timedelta
) -> tuple[Path, str]:
    """Capture /gzip with the machine's clock shifted, stamp it, export it (clock right)."""
    config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
    if clock_shift:
        set_clock(lambda: datetime.now(UTC) + clock_shift)
    try:
        captured = await capture_into(
            CaptureRequest(site.url("/gzip"), timeout=30, media=None, tsa=config),
            data,
            browser=browser,
        )
    finally:
        set_clock(None)
    out = data.parent / f"{data.name}.wacz"
    await export_stamped(data, [captured.id], out, tsa)
    return out, captured.id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def genuine(
    site: TestSite, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Genuine]:
    work = tmp_path_factory.mktemp("forgery")
    async with (
        TestTSA(work / "tsa") as tsa,
        TestTSA(work / "forger-tsa", chain_in_token=True) as forger_tsa,
    ):
        path, capture_id = await export_capture(
            site, browser, work / "holder", tsa, clock_shift=timedelta(0)
        )
        holder, _ = SigningKey.load_or_create(work / "holder")
        trust = await asyncio.to_thread(TrustStore.load, [tsa.ca_pem_path])
        yield Genuine(path, capture_id, site.url("/gzip"), holder, tsa, forger_tsa, trust, work)


async def verify(path: Path, *args: str | Path, cwd: Path | None = None) -> Verdict:
    """``osint-capture verify`` as a recipient runs it, away from any data directory."""
    env = {k: v for k, v in os.environ.items() if k != "OSINT_CAPTURE_DATA"}
    process = await asyncio.create_subprocess_exec(
        CLI,
        "verify",
        str(path),
        *map(str, args),
        cwd=cwd or path.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return Verdict(process.returncode or 0, out.decode(), err.decode())


def pinned(genuine: Genuine) -> tuple[str, ...]:
    """What a careful recipient passes: the holder's fingerprint and the TSA's root."""
    return ("--key-fingerprint", genuine.pin, "--tsa-trust", str(genuine.tsa.ca_pem_path))


def forge(genuine: Genuine) -> Forgery:
    return Forgery(genuine.path)


async def resign_as_insider(forgery: Forgery, genuine: Genuine) -> None:
    """An insider holding the key, last: the sums made anew, the package signed and stamped."""
    forgery.rebuild_sums()
    await asyncio.to_thread(
        forgery.resign_package, genuine.holder, tsa_url=genuine.tsa.url, trust=genuine.trust
    )


# -- the genuine package ---------------------------------------------------------------------


async def test_the_genuine_package_verifies_with_the_pinned_key(genuine: Genuine) -> None:
    verdict = await verify(genuine.path, *pinned(genuine))
    assert verdict.code == 0, verdict.out + verdict.err
    assert "VERIFIED" in verdict.first
    assert f"key {genuine.pin} (the key you pinned, pinned with --key-fingerprint)" in verdict.out
    assert "time-stamp authority CN=Test Time-Stamping Authority" in verdict.out
    assert f"trusted from {genuine.tsa.ca_pem_path}" in verdict.out
    # Fingerprints in any case, with or without the prefix, are the same pin.
    bare = genuine.pin.removeprefix("sha256:").upper()
    again = await verify(
        genuine.path, "--key-fingerprint", bare, "--tsa-trust", genuine.tsa.ca_pem_path
    )
    assert again.code == 0, again.out


async def test_without_a_pin_the_genuine_package_is_intact_not_authenticated(
    genuine: Genuine,
) -> None:
    verdict = await verify(genuine.path, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert verdict.code == 4, verdict.out
    assert "INTACT, NOT AUTHENTICATED" in verdict.first and "whose key signed it" in verdict.first
    verdict.line("UNPROVEN", "signer:", genuine.pin, "--key-fingerprint")


# -- the complete forgery --------------------------------------------------------------------


def _rewrite_page(genuine: Genuine, forged_url: str) -> Forgery:
    """New page bytes, a new URL and an earlier start, every record and manifest consistent."""
    forgery = forge(genuine)

    def change(records: list[Record]) -> list[Record]:
        changed = []
        for headers, block in records:
            block = block.replace(b"identical once decoded", b"seen by nobody, forged")
            headers = [
                (k, forged_url if k == "WARC-Target-URI" and v == genuine.url else v)
                for k, v in headers
            ]
            changed.append((block_digests(headers, block), block))
        return changed

    forgery.edit_warc(genuine.capture_id, change)

    def claim(manifest: dict) -> None:
        manifest["url"] = manifest["final_url"] = forged_url
        started = datetime.fromisoformat(manifest["started_at"].replace("Z", "+00:00"))
        manifest["started_at"] = rfc3339(started - timedelta(minutes=1))

    forgery.edit_manifest(genuine.capture_id, claim)
    pages = forgery.files["pages/pages.jsonl"].decode().replace(genuine.url, forged_url)
    forgery.files["pages/pages.jsonl"] = pages.encode()
    return forgery


async def test_a_complete_forgery_with_a_fresh_key_is_never_verified(
    genuine: Genuine, tmp_path: Path
) -> None:
    attacker = SigningKey.generate()
    forgery = _rewrite_page(genuine, "http://127.0.0.1:1/what-they-said")
    await asyncio.to_thread(
        forgery.reseal, package_key=attacker, tsa_url=genuine.tsa.url, trust=genuine.trust
    )
    forged = forgery.write(tmp_path / "forged.wacz")
    # Everything in the package agrees; only whose key it is cannot be established.
    unpinned = await verify(forged, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert unpinned.code == 4, unpinned.out
    assert "whose key signed it" in unpinned.first
    unpinned.line("UNPROVEN", "signer:", attacker.fingerprint, "not established")
    assert "FAIL " not in unpinned.out
    # With the holder's fingerprint pinned, the forgery fails and the line says why.
    checked = await verify(forged, *pinned(genuine))
    assert checked.code == 1, checked.out
    checked.line("FAIL", "signer:", attacker.fingerprint, "did not pin", genuine.pin)
    # A trusted-keys file that lists only the holder does not vouch for the forger either.
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# our installations\n{genuine.pin.upper()} Field office laptop\n")
    listed = await verify(forged, "--trusted-keys", keys, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert listed.code == 4, listed.out
    trusted = await verify(
        genuine.path, "--trusted-keys", keys, "--tsa-trust", genuine.tsa.ca_pem_path
    )
    assert trusted.code == 0 and "Field office laptop" in trusted.out, trusted.out


async def test_manifests_and_package_signed_by_different_keys_fail_unless_all_trusted(
    genuine: Genuine, tmp_path: Path
) -> None:
    other = SigningKey.generate()
    forgery = forge(genuine)
    forgery.reseal_capture(genuine.capture_id, other)
    await asyncio.to_thread(forgery.reanchor, genuine.tsa.url, genuine.trust)
    await resign_as_insider(forgery, genuine)
    mixed = forgery.write(tmp_path / "mixed.wacz")
    verdict = await verify(mixed, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "signer:", "2 different keys", other.fingerprint, genuine.pin)
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{genuine.pin} holder\n{other.fingerprint} second installation\n")
    both = await verify(mixed, "--trusted-keys", keys, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert both.code == 0, both.out


# -- trusted time ----------------------------------------------------------------------------


async def test_a_capture_made_with_the_clock_30_days_behind_is_not_authenticated(
    genuine: Genuine, site: TestSite, browser: Browser
) -> None:
    path, capture_id = await export_capture(
        site, browser, genuine.work / "slow-clock", genuine.tsa, clock_shift=-timedelta(days=30)
    )
    holder, _ = SigningKey.load_or_create(genuine.work / "slow-clock")
    verdict = await verify(
        path, "--key-fingerprint", holder.fingerprint, "--tsa-trust", genuine.tsa.ca_pem_path
    )
    assert verdict.code == 4, verdict.out
    assert "when captures were made" in verdict.first
    line = verdict.line("UNPROVEN", "trusted time:", capture_id, "proven no later than")
    assert "unproven for 30 days" in line or "unproven for 29 days" in line, line


async def test_a_manifest_claiming_a_time_after_its_token_fails(
    genuine: Genuine, site: TestSite, browser: Browser
) -> None:
    path, capture_id = await export_capture(
        site, browser, genuine.work / "fast-clock", genuine.tsa, clock_shift=timedelta(days=3)
    )
    holder, _ = SigningKey.load_or_create(genuine.work / "fast-clock")
    verdict = await verify(
        path, "--key-fingerprint", holder.fingerprint, "--tsa-trust", genuine.tsa.ca_pem_path
    )
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "trusted time:", capture_id, "contradicted by the time-stamp")


def _digest_file(genuine: Genuine, change: object) -> Forgery:
    forgery = forge(genuine)
    document = forgery.json(DIGEST)
    change(document)  # type: ignore[operator]
    forgery.set_json(DIGEST, document)
    return forgery


async def test_stripped_package_tokens_leave_it_unproven(genuine: Genuine, tmp_path: Path) -> None:
    stripped = _digest_file(genuine, lambda d: d.pop("timestamps"))
    verdict = await verify(stripped.write(tmp_path / "s.wacz"), *pinned(genuine))
    assert verdict.code == 4, verdict.out
    assert "when the package was signed" in verdict.first
    verdict.line("UNPROVEN", "package time-stamp:", "carries no time-stamp")


async def test_a_package_token_replaced_by_an_error_entry_fails(
    genuine: Genuine, tmp_path: Path
) -> None:
    def to_error(document: dict) -> None:
        document["timestamps"] = [{"tsa": genuine.tsa.url, "error": "TSA unreachable"}]

    forged = _digest_file(genuine, to_error).write(tmp_path / "e.wacz")
    verdict = await verify(forged, *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "package time-stamp:", "no token from", "proves nothing")


async def test_package_tokens_from_the_forgers_authority_or_over_other_data(
    genuine: Genuine, tmp_path: Path
) -> None:
    signature = base64.b64decode(forge(genuine).json(DIGEST)["signedData"]["signature"])
    theirs = await asyncio.to_thread(
        request_token,
        hashlib.sha256(signature).digest(),
        genuine.forger_tsa.url,
        trust=await asyncio.to_thread(TrustStore.load, [genuine.forger_tsa.ca_pem_path]),
    )
    elsewhere = await asyncio.to_thread(
        request_token, hashlib.sha256(b"other").digest(), genuine.tsa.url, trust=genuine.trust
    )

    def swap(token: bytes) -> object:
        def change(document: dict) -> None:
            document["timestamps"] = [{"tsa": "x", "token": base64.b64encode(token).decode()}]

        return change

    untrusted = _digest_file(genuine, swap(theirs.token_der)).write(tmp_path / "u.wacz")
    verdict = await verify(untrusted, *pinned(genuine))
    assert verdict.code == 4, verdict.out
    verdict.line("UNPROVEN", "package time-stamp:", "untrusted chain", "--tsa-trust")
    other = _digest_file(genuine, swap(elsewhere.token_der)).write(tmp_path / "o.wacz")
    verdict = await verify(other, *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "package time-stamp:", "imprint mismatch")


async def test_a_capture_token_from_another_authority_rests_on_the_verifiers_trust(
    genuine: Genuine, tmp_path: Path
) -> None:
    """An insider re-stamps a capture at their own TSA: unproven unless its root is trusted."""
    forgery = forge(genuine)
    forger_trust = await asyncio.to_thread(TrustStore.load, [genuine.forger_tsa.ca_pem_path])
    await asyncio.to_thread(
        forgery.reseal_capture,
        genuine.capture_id,
        genuine.holder,
        genuine.forger_tsa.url,
        forger_trust,
    )
    forgery.rechain_custody()
    await resign_as_insider(forgery, genuine)
    path = forgery.write(tmp_path / "restamped.wacz")
    verdict = await verify(path, *pinned(genuine))
    assert verdict.code == 4, verdict.out
    verdict.line("UNPROVEN", "time-stamp:", "untrusted chain", "Test TSA Root")
    both = await verify(path, *pinned(genuine), "--tsa-trust", genuine.forger_tsa.ca_pem_path)
    assert both.code == 0, both.out


async def test_signed_created_contradicted_or_left_unproven_by_its_token(
    genuine: Genuine, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for shift, code, label, needle in (
        (timedelta(days=3), 1, "FAIL", "contradicted by the time-stamp"),
        (-timedelta(days=1), 4, "UNPROVEN", "proven no later than"),
    ):
        forgery = forge(genuine)
        await asyncio.to_thread(
            forgery.resign_package,
            genuine.holder,
            tsa_url=genuine.tsa.url,
            trust=genuine.trust,
            created=rfc3339(now + shift),
        )
        verdict = await verify(forgery.write(tmp_path / f"c{code}.wacz"), *pinned(genuine))
        assert verdict.code == code, verdict.out
        verdict.line(label, "package time-stamp:", "the package", needle)


# -- custody ---------------------------------------------------------------------------------


async def test_a_rechained_custody_slice_with_its_head_rewritten_fails_on_the_anchor(
    genuine: Genuine, tmp_path: Path
) -> None:
    """An insider with the key edits an event and re-chains; the anchor made at export stays."""
    forgery = forge(genuine)
    events = forgery.events()
    forgery.set_events(rechained(events, 0, {**events[0]["details"], "status": "complete!"}))
    head = forgery.json(PACKAGE_HEAD_PATH)
    head["seq"], head["hash"] = forgery.events()[-1]["seq"], forgery.events()[-1]["hash"]
    forgery.set_json(PACKAGE_HEAD_PATH, head)
    await resign_as_insider(forgery, genuine)
    verdict = await verify(forgery.write(tmp_path / "rechained.wacz"), *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "custody anchor:", "it was rewritten after that time")


async def test_an_edited_log_rechained_with_the_catalog_head_moved_fails_on_the_anchor(
    genuine: Genuine, tmp_path: Path
) -> None:
    """The collecting machine's own log: edit, re-chain every later event, fix the head."""
    data = tmp_path / "data"
    shutil.copytree(genuine.work / "holder", data)
    log = data / "custody.jsonl"
    events = [json.loads(line) for line in log.read_bytes().splitlines()]
    first = next(i for i, e in enumerate(events) if e["action"] == "captured")
    forged = rechained(events, first, {**events[first]["details"], "files": 99})
    log.chmod(0o644)
    log.write_bytes(b"".join(canonical_json(e) + b"\n" for e in forged))
    with sqlite3.connect(data / "catalog.sqlite3") as raw:
        raw.execute("UPDATE custody_head SET hash = ? WHERE id = 1", (forged[-1]["hash"],))
    process = await asyncio.create_subprocess_exec(
        CLI, "custody", "verify", "--data", str(data), "--tsa-trust", str(genuine.tsa.ca_pem_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    verdict = Verdict(process.returncode or 0, out.decode(), err.decode())
    assert verdict.code == 1, verdict.out + verdict.err
    assert "rewritten after that time" in verdict.out, verdict.out


# -- every byte accounted for ----------------------------------------------------------------


def _wrapped(genuine: Genuine, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """(what, package, what the failing line names) for each kind of ZIP hiding place."""
    data = genuine.path.read_bytes()
    prefix = tmp_path / "prefix.wacz"
    prefix.write_bytes(b"MZ" + bytes(510) + data)
    yield "prefix", prefix, "512 bytes before the first member"
    comment = tmp_path / "comment.wacz"
    comment.write_bytes(data)
    with zipfile.ZipFile(comment, "a") as zf:
        zf.comment = b"hidden note"
    yield "comment", comment, "a ZIP comment of 11 bytes"
    for name, content, needle in (
        ("hidden/", b"a message nothing hashes", "'hidden/' carries 24 bytes"),
        ("empty/", b"", "'empty/' is a directory entry"),
    ):
        target = tmp_path / f"dir-{name.strip('/')}.wacz"
        with zipfile.ZipFile(genuine.path) as zin, zipfile.ZipFile(target, "w") as zout:
            for info in zin.infolist():
                zout.writestr(info, zin.read(info))
            zout.writestr(zipfile.ZipInfo(name), content)
        yield name, target, needle


async def test_bytes_outside_the_members_fail(genuine: Genuine, tmp_path: Path) -> None:
    for what, path, needle in _wrapped(genuine, tmp_path):
        verdict = await verify(path, *pinned(genuine))
        assert verdict.code == 1, f"{what}: {verdict.out}"
        verdict.line("FAIL", "zip layout:", needle)


async def test_a_local_header_naming_another_file_fails(genuine: Genuine, tmp_path: Path) -> None:
    data = bytearray(genuine.path.read_bytes())
    with zipfile.ZipFile(genuine.path) as zf:
        at = zf.getinfo("evidence/VERIFY.md").header_offset + 30  # the local header's name
    assert data[at : at + 18] == b"evidence/VERIFY.md"
    data[at : at + 18] = b"evidence/VERIFY.mx"
    path = tmp_path / "renamed.wacz"
    path.write_bytes(bytes(data))
    verdict = await verify(path, *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "zip layout:", "'evidence/VERIFY.md'", "'evidence/VERIFY.mx'")


async def test_an_emptied_sha256sums_fails_even_when_re_signed(
    genuine: Genuine, tmp_path: Path
) -> None:
    forgery = forge(genuine)
    forgery.files["evidence/SHA256SUMS"] = b""
    await asyncio.to_thread(
        forgery.resign_package, genuine.holder, tsa_url=genuine.tsa.url, trust=genuine.trust
    )
    verdict = await verify(forgery.write(tmp_path / "sums.wacz"), *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "SHA256SUMS:", f"archive/{genuine.capture_id}.warc.gz", "not in")


async def test_records_without_digests_fail_even_when_re_signed(
    genuine: Genuine, tmp_path: Path
) -> None:
    forgery = forge(genuine)

    def strip(records: list[Record]) -> list[Record]:
        drop = ("WARC-Block-Digest", "WARC-Payload-Digest")
        return [([(k, v) for k, v in h if k not in drop], b) for h, b in records]

    forgery.edit_warc(genuine.capture_id, strip)
    await asyncio.to_thread(
        forgery.reseal, package_key=genuine.holder, tsa_url=genuine.tsa.url, trust=genuine.trust
    )
    verdict = await verify(forgery.write(tmp_path / "nodigest.wacz"), *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "WARC records:", "no WARC-Block-Digest")
    verdict.line("FAIL", "WARC records:", "response", "no WARC-Payload-Digest")


async def test_an_index_pointing_a_url_at_another_record_fails(
    genuine: Genuine, tmp_path: Path
) -> None:
    """Replay would show the screenshot's bytes, or any other record, as the page."""
    forgery = forge(genuine)
    lines = forgery.files["indexes/index.cdxj"].decode().splitlines()
    fields = [json.loads(line.split(" ", 2)[2]) for line in lines]
    page = next(i for i, f in enumerate(fields) if f["url"] == genuine.url)
    other = next(f for f in fields if f["url"] != genuine.url)
    fields[page].update(offset=other["offset"], length=other["length"])
    urlkey, stamp, _ = lines[page].split(" ", 2)
    lines[page] = f"{urlkey} {stamp} {json.dumps(fields[page])}"
    forgery.files["indexes/index.cdxj"] = ("\n".join(lines) + "\n").encode()
    await resign_as_insider(forgery, genuine)
    verdict = await verify(forgery.write(tmp_path / "index.wacz"), *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "index:", repr(genuine.url), "but the record has")


async def test_a_high_s_twin_of_the_package_signature_fails(
    genuine: Genuine, tmp_path: Path
) -> None:
    """Made without the key: (r, n - s) verifies mathematically, so it must be refused."""

    def flip(document: dict) -> None:
        raw = base64.b64decode(document["signedData"]["signature"])
        s = int.from_bytes(raw[32:], "big")
        twin = raw[:32] + (P256_ORDER - s).to_bytes(32, "big")
        document["signedData"]["signature"] = base64.b64encode(twin).decode()

    verdict = await verify(_digest_file(genuine, flip).write(tmp_path / "s.wacz"), *pinned(genuine))
    assert verdict.code == 1, verdict.out
    verdict.line("FAIL", "package signature:", "high-S form")


# -- bad input -------------------------------------------------------------------------------


async def test_unreadable_trust_input_is_exit_2_with_its_path(
    genuine: Genuine, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-root.pem"
    verdict = await verify(genuine.path, "--tsa-trust", missing)
    assert verdict.code == 2 and str(missing) in verdict.err and not verdict.out, verdict
    keys = tmp_path / "keys.txt"
    keys.write_text("sha256:not-hex holder\n")
    verdict = await verify(genuine.path, "--trusted-keys", keys)
    assert verdict.code == 2 and f"{keys} line 1" in verdict.err, verdict
    verdict = await verify(genuine.path, "--key-fingerprint", "sha256:12ab")
    assert verdict.code == 2 and "64 hexadecimal digits" in verdict.err, verdict


async def test_a_check_the_custody_log_cannot_record_is_said_and_keeps_its_verdict(
    genuine: Genuine, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(genuine.work / "holder", data)
    with open(data / "custody.jsonl", "ab") as log:
        log.write(b'{"torn')
    verdict = await verify(genuine.path, "--data", data, "--tsa-trust", genuine.tsa.ca_pem_path)
    assert verdict.code == 0 and "VERIFIED" in verdict.first, verdict.out + verdict.err
    assert "NOT recorded in the chain of custody" in verdict.err and "torn" in verdict.err
    assert "Traceback" not in verdict.err
