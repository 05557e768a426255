"""The installation's signing key on real files, and its signatures checked by others' code."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from archive.evidence.signing import (
    ALGORITHM,
    KEYS_DIR,
    P256_ORDER,
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_SIZE,
    NonCanonicalSignature,
    SignatureError,
    SigningError,
    SigningKey,
    fingerprint_of,
    sign_file_bytes,
    signature_from_b64,
    signature_to_b64,
    verify_signature,
    verify_signed,
)

#: What a WACZ anonymous signature signs: the text of datapackage.json's hash.
WACZ_HASH = "sha256:" + hashlib.sha256(b'{"resources": []}').hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return SigningKey.load_or_create(tmp_path / "data")[0]


# -- the key on disk --------------------------------------------------------------------------


def test_the_key_is_made_once_private_and_reloaded_the_same(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, created = SigningKey.load_or_create(data)
    assert created
    keys = data / KEYS_DIR
    assert mode(keys) == 0o700
    assert mode(keys / PRIVATE_KEY_NAME) == 0o600
    assert sorted(p.name for p in keys.iterdir()) == [PRIVATE_KEY_NAME, PUBLIC_KEY_NAME]
    pem = (keys / PRIVATE_KEY_NAME).read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert (keys / PUBLIC_KEY_NAME).read_text() == first.public_key_pem

    again, created_again = SigningKey.load_or_create(data)
    assert not created_again
    assert again.fingerprint == first.fingerprint
    assert (keys / PRIVATE_KEY_NAME).read_bytes() == pem
    # The reloaded key signs what the first one's public key verifies.
    verify_signature(first.public_key_b64, again.sign(b"x"), b"x")


def test_the_public_forms_agree(key: SigningKey) -> None:
    der = base64.b64decode(key.public_key_b64)
    public = serialization.load_der_public_key(der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    assert serialization.load_pem_public_key(key.public_key_pem.encode()) == public
    assert key.fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()
    assert fingerprint_of(key.public_key_b64) == key.fingerprint
    assert key.short_fingerprint == key.fingerprint[: len("sha256:") + 16]
    assert key.short_fingerprint in repr(key)


def _create_in(data: Path, barrier: threading.Barrier, results: list[tuple[str, bool]]) -> None:
    barrier.wait()
    made, created = SigningKey.load_or_create(data)
    results.append((made.fingerprint, created))


def test_threads_racing_to_create_end_with_one_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    count = 8
    barrier = threading.Barrier(count)
    results: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(target=_create_in, args=(data, barrier, results)) for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == count
    assert len({fingerprint for fingerprint, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert sorted(p.name for p in (data / KEYS_DIR).iterdir()) == [
        PRIVATE_KEY_NAME,
        PUBLIC_KEY_NAME,
    ]


def create_in_process(data: str, barrier: threading.Barrier) -> tuple[str, bool]:
    """One process's go at making the key (module level, so ``spawn`` can import it)."""
    barrier.wait(60)  # all at once, once every process has started
    made, created = SigningKey.load_or_create(Path(data))
    return made.fingerprint, created


def test_processes_racing_to_create_end_with_one_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    count = 4
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(count) as pool:
        barrier = manager.Barrier(count)
        pending = [pool.apply_async(create_in_process, (str(data), barrier)) for _ in range(count)]
        results = [result.get(timeout=120) for result in pending]
    assert len({fingerprint for fingerprint, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert SigningKey.load_or_create(data)[0].fingerprint == results[0][0]


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    SigningKey.load_or_create(data)
    private = data / KEYS_DIR / PRIVATE_KEY_NAME
    private.chmod(0o644)
    with pytest.raises(SigningError, match=r"mode 0644.*chmod 600"):
        SigningKey.load_or_create(data)


def test_a_missing_public_key_is_written_again_and_a_foreign_one_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key, _ = SigningKey.load_or_create(data)
    public = data / KEYS_DIR / PUBLIC_KEY_NAME
    public.unlink()
    SigningKey.load_or_create(data)
    assert public.read_text() == key.public_key_pem
    public.chmod(0o644)
    public.write_text(SigningKey.generate().public_key_pem)
    with pytest.raises(SigningError, match="does not belong to the signing key"):
        SigningKey.load_or_create(data)


def test_a_key_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(SigningError, match="P-256"):
        SigningKey.load(path)


# -- signatures -------------------------------------------------------------------------------


def test_sign_and_verify_round_trip(key: SigningKey) -> None:
    data = b"manifest bytes \x00\xff"
    signature = key.sign(data)
    assert len(signature) == SIGNATURE_SIZE
    verify_signature(key.public_key_b64, signature, data)
    assert signature_from_b64(signature_to_b64(signature)) == signature


@pytest.mark.parametrize("where", [0, 17, -1])
def test_a_flipped_byte_in_the_data_fails(key: SigningKey, where: int) -> None:
    data = bytearray(b"the page as it was seen, on that date")
    signature = key.sign(bytes(data))
    data[where] ^= 0x01
    with pytest.raises(SignatureError, match="does not match the data"):
        verify_signature(key.public_key_b64, signature, bytes(data))


@pytest.mark.parametrize("where", [0, 31, 32, 63])
def test_a_flipped_byte_in_the_signature_fails(key: SigningKey, where: int) -> None:
    signature = bytearray(key.sign(b"data"))
    signature[where] ^= 0x80
    with pytest.raises(SignatureError):
        verify_signature(key.public_key_b64, bytes(signature), b"data")


def test_another_key_or_a_der_signature_fails_clearly(key: SigningKey) -> None:
    other = SigningKey.generate()
    with pytest.raises(SignatureError, match=key.fingerprint):
        verify_signature(key.public_key_b64, other.sign(b"data"), b"data")
    raw = key.sign(b"data")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    with pytest.raises(SignatureError, match="looks DER-encoded"):
        verify_signature(key.public_key_b64, der, b"data")
    with pytest.raises(SignatureError, match="not valid base64"):
        verify_signature("not base64!", key.sign(b"data"), b"data")


def test_the_signature_is_raw_r_s_as_cryptography_reads_it(key: SigningKey) -> None:
    """The spec's form, checked with nothing of ours: 32-byte r, 32-byte s, big-endian."""
    signature = key.sign(WACZ_HASH.encode())
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    public = serialization.load_der_public_key(base64.b64decode(key.public_key_b64))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(encode_dss_signature(r, s), WACZ_HASH.encode(), ec.ECDSA(hashes.SHA256()))


_WEBCRYPTO = """
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bytes = (b64) => Buffer.from(b64, "base64");
const algorithm = { name: "ECDSA", namedCurve: "P-256" };
const ecdsa = { name: "ECDSA", hash: "SHA-256" };
(async () => {
  const subtle = globalThis.crypto.subtle;
  const ours = await subtle.importKey("spki", bytes(input.publicKey), algorithm, false, ["verify"]);
  const data = new TextEncoder().encode(input.hash);
  const verified = await subtle.verify(ecdsa, ours, bytes(input.signature), data);
  const theirs = await subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const signatures = [];
  for (let n = 0; n < 16; n++) {
    const signature = await subtle.sign(ecdsa, theirs.privateKey, data);
    signatures.push(Buffer.from(signature).toString("base64"));
  }
  const spki = await subtle.exportKey("spki", theirs.publicKey);
  console.log(JSON.stringify({
    verified,
    publicKey: Buffer.from(spki).toString("base64"),
    signatures,
  }));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for WebCrypto")
def test_webcrypto_verifies_ours_and_we_verify_webcrypto(key: SigningKey) -> None:
    """WebCrypto is what ArchiveWeb.page signs WACZ anonymous signatures with.

    py-wacz verifies no anonymous signatures itself (it hands domain signatures to
    authsign), so the browser's own ECDSA is the reference checked here, both ways.
    WebCrypto does not normalise ``s``: about half its signatures are high-S, which we
    refuse as non-canonical while their low-S twin verifies (16 signatures leave a
    chance of 2 in 65536 that one of the two cases does not occur).
    """
    record = {
        "hash": WACZ_HASH,
        "publicKey": key.public_key_b64,
        "signature": signature_to_b64(key.sign(WACZ_HASH.encode())),
    }
    done = subprocess.run(
        ["node", "-e", _WEBCRYPTO],
        input=json.dumps(record),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert answer["verified"] is True
    forms = {"low": 0, "high": 0}
    for text in answer["signatures"]:
        signature = signature_from_b64(text)
        r, s = signature[:32], int.from_bytes(signature[32:], "big")
        if s <= P256_ORDER // 2:
            forms["low"] += 1
            verify_signature(answer["publicKey"], signature, WACZ_HASH.encode())
            continue
        forms["high"] += 1
        with pytest.raises(NonCanonicalSignature, match="high-S"):
            verify_signature(answer["publicKey"], signature, WACZ_HASH.encode())
        twin = r + (P256_ORDER - s).to_bytes(32, "big")
        verify_signature(answer["publicKey"], twin, WACZ_HASH.encode())
    assert forms["low"] and forms["high"], forms


def test_our_signatures_are_low_s(key: SigningKey) -> None:
    for n in range(64):
        signature = key.sign(b"message %d" % n)
        assert int.from_bytes(signature[32:], "big") <= P256_ORDER // 2


# -- per-capture records ----------------------------------------------------------------------


def test_signed_records_round_trip_and_name_what_is_wrong(key: SigningKey) -> None:
    data = b'{"capture": "c1"}'
    record = sign_file_bytes(key, data)
    assert set(record) == {"algorithm", "publicKey", "fingerprint", "signature"}
    assert record["algorithm"] == ALGORITHM == "ECDSA-P256-SHA256"
    assert record["publicKey"] == key.public_key_b64
    assert record["fingerprint"] == key.fingerprint
    json.dumps(record)  # ready for JSON as it is
    verify_signed(record, data)
    verify_signed(record, data, expected_fingerprint=key.fingerprint)

    with pytest.raises(SignatureError, match="does not match the data"):
        verify_signed(record, data + b" ")
    with pytest.raises(SignatureError, match="not by the expected key"):
        verify_signed(record, data, expected_fingerprint=SigningKey.generate().fingerprint)
    other = SigningKey.generate()
    with pytest.raises(SignatureError, match="the record was altered"):
        verify_signed({**record, "publicKey": other.public_key_b64}, data)
    with pytest.raises(SignatureError, match="does not match the data"):
        verify_signed(
            {**record, "publicKey": other.public_key_b64, "fingerprint": other.fingerprint}, data
        )
    with pytest.raises(SignatureError, match="only ECDSA-P256-SHA256"):
        verify_signed({**record, "algorithm": "RSA"}, data)
    with pytest.raises(SignatureError, match="lacks signature"):
        verify_signed({k: v for k, v in record.items() if k != "signature"}, data)
