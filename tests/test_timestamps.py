"""RFC 3161 time-stamps: requested from a local OpenSSL TSA, verified by us and by openssl.

Every token is checked twice: with :func:`archive.evidence.tsa_verify.verify_token` and with
``openssl ts -verify``, the tool an outside expert would reach for. The TSA runs in
the test loop, so the blocking client runs in a thread (as the capture code does).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response

from archive.evidence.timestamps import Timestamp, TimestampError, TSAUnavailable
from archive.evidence.tsa_client import (
    DEFAULT_TSA_ROOTS,
    DEFAULT_TSAS,
    build_request,
    request_token,
)
from archive.evidence.tsa_roots import TrustStore
from archive.evidence.tsa_token import read_claim, signed_attributes
from archive.evidence.tsa_verify import verify_token
from tests.tsa import TEST_POLICY, TestTSA

MANIFEST = b'{"capture": "test", "files": []}\n'
DIGEST = hashlib.sha256(MANIFEST).digest()
OTHER_DIGEST = hashlib.sha256(b"another manifest").digest()


@pytest.fixture(scope="module")
async def plain_tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("tsa-plain")) as tsa:
        yield tsa


@pytest.fixture(scope="module")
async def chain_tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("tsa-chain"), chain_in_token=True) as tsa:
        yield tsa


@pytest.fixture(params=["signer-only", "chain-in-token"])
def tsa(request: pytest.FixtureRequest, plain_tsa: TestTSA, chain_tsa: TestTSA) -> TestTSA:
    """Each TSA configuration in turn: signer certificate only, or signer + CA (``certs=``)."""
    return plain_tsa if request.param == "signer-only" else chain_tsa


def trusting(tsa: TestTSA) -> TrustStore:
    return TrustStore.load([tsa.ca_pem_path])


async def stamp(
    tsa: TestTSA, *, trust: TrustStore | None = None, timeout: float = 10.0
) -> Timestamp:
    """A time-stamp over ``DIGEST`` from ``tsa``, trusting its root unless told otherwise."""
    trust = trust or trusting(tsa)
    return await asyncio.to_thread(request_token, DIGEST, tsa.url, trust=trust, timeout=timeout)


def openssl_ts_verify(
    tmp_path: Path, token: bytes, ca: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "token.tsr"
    path.write_bytes(token)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(path), "-CAfile", str(ca), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def flip(data: bytes, index: int) -> bytes:
    tampered = bytearray(data)
    tampered[index] ^= 0x01
    return bytes(tampered)


async def test_token_verifies_with_us_and_with_openssl(tsa: TestTSA, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    stamped = await stamp(tsa)
    after = datetime.now(UTC)

    assert stamped.tsa_url == tsa.url
    assert stamped.gen_time.utcoffset() == timedelta(0)
    # genTime is truncated to the TSA's precision (whole seconds or milliseconds)
    assert before - timedelta(seconds=2) <= stamped.gen_time <= after + timedelta(seconds=2)
    assert stamped.policy == TEST_POLICY
    assert isinstance(stamped.nonce, int)
    assert stamped.serial_number > 0
    assert stamped.accuracy_seconds == (1.5 if tsa.chain_in_token else 1.0)

    chain = x509.load_pem_x509_certificates(stamped.tsa_chain_pem.encode())
    assert chain[0] == x509.load_pem_x509_certificate(tsa.tsa_pem_path.read_bytes())
    assert chain[-1] == x509.load_pem_x509_certificate(tsa.ca_pem_path.read_bytes())
    assert len(chain) == 2

    again = verify_token(stamped.token_der, DIGEST, trust=trusting(tsa), tsa_url=tsa.url)
    assert again == stamped

    data = tmp_path / "manifest.json"
    data.write_bytes(MANIFEST)
    by_data = openssl_ts_verify(tmp_path, stamped.token_der, tsa.ca_pem_path, "-data", str(data))
    assert "Verification: OK" in by_data.stdout, by_data.stderr
    by_digest = openssl_ts_verify(
        tmp_path, stamped.token_der, tsa.ca_pem_path, "-digest", DIGEST.hex()
    )
    assert "Verification: OK" in by_digest.stdout, by_digest.stderr


async def test_what_is_stored_is_the_whole_reply(tsa: TestTSA, tmp_path: Path) -> None:
    """A ``.tsr`` as openssl reads it: the TSA's status, then the token, bytes untouched."""
    stamped = await stamp(tsa)
    (tmp_path / "reply.tsr").write_bytes(stamped.token_der)
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-text", "-in", str(tmp_path / "reply.tsr")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Status: Granted." in text
    nonce = re.search(r"^Nonce: 0x([0-9A-F]+)$", text, re.MULTILINE)
    assert nonce is not None and int(nonce[1], 16) == stamped.nonce
    assert f"Policy OID: {TEST_POLICY}" in text


async def test_chain_token_is_out_of_der_order_and_still_verifies(chain_tsa: TestTSA) -> None:
    """The trap: OpenSSL writes signer then CA; rfc3161_client wants DER order and refuses."""
    stamped = await stamp(chain_tsa)
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        decode_timestamp_response(stamped.token_der)
    verify_token(stamped.token_der, DIGEST, trust=trusting(chain_tsa))


async def test_both_ess_attribute_versions_are_checked(tsa: TestTSA) -> None:
    """The signer-only TSA names its certificate by SHA-1 (ESS v1), the other by SHA-256 (v2)."""
    stamped = await stamp(tsa)
    oids = {oid for oid, _ in signed_attributes(stamped.token_der)}
    v1, v2 = "1.2.840.113549.1.9.16.2.12", "1.2.840.113549.1.9.16.2.47"
    assert oids & {v1, v2} == ({v2} if tsa.chain_in_token else {v1})


async def test_a_bare_token_verifies_too(tsa: TestTSA, tmp_path: Path) -> None:
    stamped = await stamp(tsa)
    (tmp_path / "reply.tsr").write_bytes(stamped.token_der)
    subprocess.run(
        [
            *("openssl", "ts", "-reply", "-token_out"),
            *("-in", str(tmp_path / "reply.tsr"), "-out", str(tmp_path / "token.der")),
        ],
        check=True,
        capture_output=True,
    )
    token = (tmp_path / "token.der").read_bytes()
    assert verify_token(token, DIGEST, trust=trusting(tsa)).serial_number == stamped.serial_number


async def test_token_checked_against_another_digest_is_an_imprint_mismatch(tsa: TestTSA) -> None:
    stamped = await stamp(tsa)
    with pytest.raises(TimestampError, match=r"^imprint mismatch: .* not " + OTHER_DIGEST.hex()):
        verify_token(stamped.token_der, OTHER_DIGEST, trust=trusting(tsa))


async def test_tsa_answering_for_other_data_is_an_imprint_mismatch(plain_tsa: TestTSA) -> None:
    """A reply for another request (replayed, misrouted) is refused before it is returned."""
    plain_tsa.canned = await plain_tsa.reply(build_request(OTHER_DIGEST, 12345))
    try:
        with pytest.raises(TimestampError, match=r"^imprint mismatch"):
            await stamp(plain_tsa)
    finally:
        plain_tsa.canned = None


async def test_replayed_reply_for_the_same_digest_is_a_nonce_mismatch(plain_tsa: TestTSA) -> None:
    plain_tsa.canned = await plain_tsa.reply(build_request(DIGEST, 12345))
    try:
        with pytest.raises(TimestampError, match=r"^nonce mismatch: .* answered nonce 12345"):
            await stamp(plain_tsa)
    finally:
        plain_tsa.canned = None


async def test_tampered_certificate_is_an_untrusted_chain(tsa: TestTSA) -> None:
    stamped = await stamp(tsa)
    tsa_cert = x509.load_pem_x509_certificate(tsa.tsa_pem_path.read_bytes())
    public_key = tsa_cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    index = stamped.token_der.index(public_key) + len(public_key) // 2
    with pytest.raises(TimestampError, match=r"^untrusted chain: .*no certificate .* signed it"):
        verify_token(flip(stamped.token_der, index), DIGEST, trust=trusting(tsa))


@pytest.mark.parametrize("where", ["nonce in the signed content", "last byte of the signature"])
async def test_tampered_byte_is_a_bad_signature(tsa: TestTSA, where: str) -> None:
    stamped = await stamp(tsa)
    token = stamped.token_der
    if where == "last byte of the signature":
        index = len(token) - 1
    else:
        assert stamped.nonce is not None
        nonce = stamped.nonce.to_bytes(stamped.nonce.bit_length() // 8 + 1, "big")
        index = token.index(bytes([0x02, len(nonce)]) + nonce) + 1 + len(nonce)
    with pytest.raises(TimestampError, match=r"^bad signature: .*altered or corrupted"):
        verify_token(flip(token, index), DIGEST, trust=trusting(tsa))


async def test_untrusted_root_is_refused(tsa: TestTSA) -> None:
    stamped = await stamp(tsa)
    public_only = TrustStore.load()
    with pytest.raises(
        TimestampError,
        match=r"^untrusted chain: .*Test TSA Root.*(not trusted|nor in the trust store)",
    ):
        verify_token(stamped.token_der, DIGEST, trust=public_only)
    with pytest.raises(TimestampError, match=r"^untrusted chain"):
        await stamp(tsa, trust=public_only)


async def test_root_with_the_same_name_but_another_key_is_refused(
    plain_tsa: TestTSA, chain_tsa: TestTSA
) -> None:
    """Both test roots are called "Test TSA Root": names alone must not chain."""
    stamped = await stamp(plain_tsa)
    with pytest.raises(TimestampError, match=r"^untrusted chain"):
        verify_token(stamped.token_der, DIGEST, trust=trusting(chain_tsa))


async def test_tsa_down_is_unavailable_then_retry_succeeds(plain_tsa: TestTSA) -> None:
    plain_tsa.down = True
    try:
        with pytest.raises(TSAUnavailable, match="HTTP 503"):
            await stamp(plain_tsa)
    finally:
        plain_tsa.down = False
    assert (await stamp(plain_tsa)).gen_time.tzinfo is not None


async def test_tsa_not_listening_is_unavailable(tmp_path: Path) -> None:
    async with TestTSA(tmp_path / "gone") as gone:
        url, trust = gone.url, trusting(gone)
    with pytest.raises(TSAUnavailable, match="unreachable"):
        await asyncio.to_thread(request_token, DIGEST, url, trust=trust, timeout=5)


async def test_tsa_too_slow_is_unavailable(plain_tsa: TestTSA) -> None:
    plain_tsa.delay = 2.0
    try:
        with pytest.raises(TSAUnavailable, match="timed out"):
            await stamp(plain_tsa, timeout=0.3)
    finally:
        plain_tsa.delay = 0.0


async def test_refusal_names_the_status_and_reason(plain_tsa: TestTSA, tmp_path: Path) -> None:
    """The test TSA accepts SHA-2 only; a SHA-1 query is rejected with badAlg."""
    (tmp_path / "data").write_bytes(MANIFEST)
    subprocess.run(
        [
            *("openssl", "ts", "-query", "-sha1", "-cert"),
            *("-data", str(tmp_path / "data"), "-out", str(tmp_path / "q.tsq")),
        ],
        check=True,
        capture_output=True,
    )
    rejection = await plain_tsa.reply((tmp_path / "q.tsq").read_bytes())
    with pytest.raises(TimestampError, match=r"refused the request: rejection \(.*badAlg") as info:
        verify_token(rejection, DIGEST, trust=trusting(plain_tsa))
    assert not isinstance(info.value, TSAUnavailable)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"\x30\x03\x02\x01\x00", bytes.fromhex("3080")], ids=repr
)
def test_not_a_timestamp(data: bytes) -> None:
    with pytest.raises(TimestampError, match=r"^not a time-stamp"):
        verify_token(data, DIGEST, trust=TrustStore.load())


async def test_read_claim_says_what_a_token_stamps_without_trusting_it(tsa: TestTSA) -> None:
    stamped = await stamp(tsa)
    # Read with no trust at all: what the token claims, to hold against a record.
    assert read_claim(stamped.token_der) == (DIGEST, stamped.gen_time)
    with pytest.raises(TimestampError, match=r"^not a time-stamp"):
        read_claim(b"garbage")


def test_digest_must_be_raw_sha256() -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        verify_token(b"", DIGEST.hex().encode(), trust=TrustStore.load())


def test_request_is_what_rfc3161_client_would_build() -> None:
    """Our request over a digest equals the library's over the data, byte for byte."""
    theirs = TimestampRequestBuilder().data(MANIFEST).hash_algorithm(HashAlgorithm.SHA256).build()
    assert theirs.nonce is not None
    assert build_request(DIGEST, theirs.nonce) == theirs.as_bytes()


async def test_trust_store_adds_extra_roots_and_explains_bad_files(
    plain_tsa: TestTSA, tmp_path: Path
) -> None:
    public = TrustStore.load()
    assert len(public.roots) > 50
    ca = x509.load_pem_x509_certificate(plain_tsa.ca_pem_path.read_bytes())
    extended = TrustStore.load([plain_tsa.ca_pem_path, plain_tsa.ca_pem_path])
    assert not public.contains(ca) and extended.contains(ca)
    assert len(extended.roots) == len(public.roots) + 1
    assert str(plain_tsa.ca_pem_path) in extended.describe()
    (tmp_path / "empty.pem").write_text("nothing here\n")
    with pytest.raises(TimestampError, match="holds no PEM certificate"):
        TrustStore.load([tmp_path / "empty.pem"])
    with pytest.raises(TimestampError, match="cannot read trust file"):
        TrustStore.load([tmp_path / "missing.pem"])


def test_default_tsas_chain_to_roots_in_the_public_store() -> None:
    subjects = [root.subject.rfc4514_string() for root in TrustStore.load().roots]
    assert DEFAULT_TSAS
    for url in DEFAULT_TSAS:
        assert url.startswith(("http://", "https://"))
        assert "freetsa" not in url
        root = DEFAULT_TSA_ROOTS[url]
        assert any(root in subject for subject in subjects), f"{root} ({url}) not in certifi"
