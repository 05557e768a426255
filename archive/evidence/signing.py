"""The installation's signing identity: one ECDSA P-256 key pair per data directory.

A signature says "this installation produced these bytes"; it is what lets an
investigator hand a capture to a court and have a third party check, offline, that
not one byte changed since it was sealed here. The key pair is the one the WACZ
signing spec ("WACZ Signing and Verification", anonymous signatures) expects: an
ECDSA key whose public half travels with the signature as ``publicKey``, the
base64 of its DER SubjectPublicKeyInfo. Who owns the key is established out of
band, by its fingerprint (SHA-256 of that DER), which is why the fingerprint is
shown wherever the key is.

Signature encoding: raw IEEE P1363 ``r || s`` (64 bytes for P-256), base64 in JSON,
always with the low ``s`` of the two that verify (``s <= n/2``). For every ECDSA
signature ``(r, s)``, ``(r, n - s)`` verifies too, so anyone can turn one valid
signature into another without the key; writing only low-S and refusing high-S
(:class:`NonCanonicalSignature`) leaves one valid form of each, and a changed form
is visible.
The WACZ spec itself only says "base64 encoded signature". Its reference
producer of anonymous signatures (ArchiveWeb.page) signs with WebCrypto, whose
ECDSA output is raw ``r || s``, and WebCrypto's ``verify`` accepts only that form;
the independent verifiers of WACZ anonymous signatures accept it too (they try
DER, then raw). DER signatures would fail in a browser. py-wacz verifies no
anonymous signatures itself (it hands domain signatures to ``authsign``, which uses
DER), so it is not the reference here.

Checking signatures needs no key and lives in :mod:`archive.evidence.signatures`; its
names are imported here too, for callers that sign and check.

Files: ``DATA/keys/signing-key.pem`` (PKCS#8, unencrypted, mode 0600, in a 0700
directory) and ``DATA/keys/signing-key.pub.pem``. The private key is made under a
temporary name and linked into place, so two processes starting at once end with
one key: the loser of the link reads the winner's.
"""

from __future__ import annotations

import base64
import contextlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archive.errors import Failed
from archive.evidence.signatures import (
    ALGORITHM,
    COORDINATE_SIZE,
    FINGERPRINT_PREFIX,
    HALF_ORDER,
    P256_ORDER,
    SHORT_FINGERPRINT_HEX,
    SIGNATURE_SIZE,
    BadFingerprint,
    NonCanonicalSignature,
    SignatureError,
    fingerprint_of,
    fingerprint_of_der,
    parse_fingerprint,
    short_fingerprint,
    signature_from_b64,
    signature_to_b64,
    verify_signature,
    verify_signed,
)
from archive.store import fsync_dir, write_all_and_sync

#: The names other modules import from here; checking a signature is
#: :mod:`archive.evidence.signatures`'s, and needs no key.
__all__ = [
    "ALGORITHM",
    "COORDINATE_SIZE",
    "FINGERPRINT_PREFIX",
    "KEYS_DIR",
    "P256_ORDER",
    "PRIVATE_KEY_NAME",
    "PUBLIC_KEY_NAME",
    "SHORT_FINGERPRINT_HEX",
    "SIGNATURE_SIZE",
    "BadFingerprint",
    "NonCanonicalSignature",
    "SignatureError",
    "SigningError",
    "SigningKey",
    "fingerprint_of",
    "parse_fingerprint",
    "short_fingerprint",
    "sign_file_bytes",
    "signature_from_b64",
    "signature_to_b64",
    "verify_signature",
    "verify_signed",
    "write_key_file",
]

KEYS_DIR = "keys"
PRIVATE_KEY_NAME = "signing-key.pem"
PUBLIC_KEY_NAME = "signing-key.pub.pem"
_KEY_MODE = 0o600
_DIR_MODE = 0o700


class SigningError(Failed):
    """The signing key cannot be made, read or trusted."""


class SigningKey:
    """The installation's private key, with its public half in the forms others need."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, path: Path | None = None) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise SigningError(f"signing key must be on P-256, not {private_key.curve.name}")
        self._private_key = private_key
        #: Where the private key is stored (``None`` for a key held only in memory).
        self.path = path
        self._public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def generate(cls) -> SigningKey:
        """A new key held in memory only (tests, or a caller that stores it itself)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> tuple[SigningKey, bool]:
        """The data directory's key, made now if there is none; and whether it was made now.

        The caller records ``key-created`` in the custody log when the flag is true.
        """
        keys_dir = Path(data_dir) / KEYS_DIR
        private_path = keys_dir / PRIVATE_KEY_NAME
        created = False
        if not private_path.exists():
            _make_private_dir(keys_dir)
            created = _create_private_key(private_path)
        key = cls.load(private_path)
        key._ensure_public_file(keys_dir / PUBLIC_KEY_NAME)
        return key, created

    @classmethod
    def load(cls, private_path: Path) -> SigningKey:
        """Read a private key file, refusing one that others could read."""
        private_path = Path(private_path)
        try:
            mode = stat.S_IMODE(private_path.stat().st_mode)
            pem = private_path.read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read signing key {private_path}: {exc}") from exc
        if mode & 0o077:
            raise SigningError(
                f"signing key {private_path} has mode {mode:04o}: other users could read it;"
                f" run `chmod 600 {private_path}` if no one else has, or replace the key"
            )
        try:
            private_key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(
                f"signing key {private_path} is not an unencrypted PKCS#8 PEM key: {exc}"
            ) from exc
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise SigningError(f"signing key {private_path} is not an ECDSA key")
        return cls(private_key, private_path)

    # -- the public half ------------------------------------------------------------------

    @property
    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo: the bytes the fingerprint is taken over."""
        return self._public_der

    @property
    def public_key_pem(self) -> str:
        return (
            self._private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    @property
    def public_key_b64(self) -> str:
        """Base64 of the DER SubjectPublicKeyInfo: the WACZ ``publicKey`` field."""
        return base64.b64encode(self._public_der).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """``sha256:`` and the hex SHA-256 of the DER public key."""
        return fingerprint_of_der(self._public_der)

    @property
    def short_fingerprint(self) -> str:
        """The fingerprint cut for display (``sha256:`` + 16 hex digits); never for trust."""
        return short_fingerprint(self.fingerprint)

    # -- signing --------------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        """ECDSA with SHA-256 over ``data``; the raw 64-byte low-S ``r || s`` (module doc)."""
        der = self._private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        if s > HALF_ORDER:
            s = P256_ORDER - s
        return r.to_bytes(COORDINATE_SIZE, "big") + s.to_bytes(COORDINATE_SIZE, "big")

    def __repr__(self) -> str:
        return f"SigningKey({self.short_fingerprint}, path={self.path})"

    def _ensure_public_file(self, public_path: Path) -> None:
        """Write the public key beside the private one, or check the one there.

        It is derived from the private key, so a missing one (a crash between the two
        writes) is simply written; a different one means someone replaced a file.
        """
        expected = self.public_key_pem.encode("ascii")
        try:
            existing = public_path.read_bytes()
        except FileNotFoundError:
            _write_atomically(public_path, expected, mode=0o644)
            return
        except OSError as exc:
            raise SigningError(f"cannot read public key {public_path}: {exc}") from exc
        if existing != expected:
            raise SigningError(
                f"public key {public_path} does not belong to the signing key beside it"
                f" ({self.fingerprint}); one of the two files was replaced. Restore the pair"
                " from a backup, or move the public key file away to have it written again"
            )


# -- per-capture records --------------------------------------------------------------------


def sign_file_bytes(key: SigningKey, data: bytes) -> dict[str, str]:
    """A signature record for ``data`` (a sealed file's bytes), ready for JSON."""
    return {
        "algorithm": ALGORITHM,
        "publicKey": key.public_key_b64,
        "fingerprint": key.fingerprint,
        "signature": signature_to_b64(key.sign(data)),
    }


# -- plumbing -------------------------------------------------------------------------------


def _make_private_dir(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask; say what is meant.
    os.chmod(keys_dir, _DIR_MODE)


def _create_private_key(private_path: Path) -> bool:
    """Make a key unless another process did first; return whether this one did.

    The key is written whole and fsynced under a unique temporary name, then
    hard-linked to its final name: ``link`` never replaces an existing file, so of
    two racing processes exactly one key ends up in place, complete.
    """
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temp_path = private_path.with_name(f".{private_path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    write_key_file(temp_path, pem, _KEY_MODE)
    try:
        os.link(temp_path, private_path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise SigningError(f"cannot store signing key at {private_path}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
    fsync_dir(private_path.parent)
    return True


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write under a temporary name and rename over ``path`` (same bytes either way)."""
    temp_path = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    write_key_file(temp_path, data, mode)
    os.replace(temp_path, path)
    fsync_dir(path.parent)


def write_key_file(path: Path, data: bytes, mode: int) -> None:
    """A new file in the keys folder, whole and fsynced, with ``mode``; never replaces one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise SigningError(f"cannot create {path}: {exc}") from exc
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away from os.open's mode
        write_all_and_sync(fd, data)
    finally:
        os.close(fd)
