"""Whose keys the verifier trusts, and why: the signer's half of a verdict.

A signature proves that bytes are what one key signed; it cannot say whose key that
is. The package carries its own public key, so a forger who rewrites a package signs
it with a key of their own and every signature still "verifies". Only the verifier
can close that gap, in one of three ways, each named in the verdict:

- **pinned**: ``--key-fingerprint``, a fingerprint obtained from the key's holder
  through another channel (never from the package);
- **a trusted-keys file**: ``--trusted-keys FILE``, one key per line, its fingerprint
  then a name, for an organisation that publishes its keys (see :func:`load_keys_file`);
- **this installation's own key**: ``--data DIR`` points at the data directory whose
  key made the package.

A package signed by a key none of these establish is intact but not authenticated.
A pinned key is an expectation: a signature by any key the verifier did not name is
then a failure, and so is a package whose signatures come from several keys that are
not all trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.errors import BadInput
from archive.evidence.checks import Check, Outcome
from archive.evidence.signatures import BadFingerprint, SignatureError, parse_fingerprint
from archive.evidence.signatures import fingerprint_of as _fingerprint_of_b64
from archive.evidence.signing import KEYS_DIR, PUBLIC_KEY_NAME

CHECK = "signer"
#: A keys file is a short list; anything far larger is not one.
MAX_KEYS_FILE = 1024 * 1024


class TrustFileError(BadInput):
    """A file (or pinned fingerprint) the verifier named cannot be used as it stands."""


@dataclass(frozen=True)
class TrustedKey:
    """A key the verifier established, with who holds it and how it was established."""

    fingerprint: str
    #: Who holds it, as the verifier named them.
    holder: str
    #: How it was established, in words (the verdict quotes it).
    basis: str
    #: Pinned keys are expectations: a signature by another key fails.
    pinned: bool = False


class TrustedKeys:
    """The keys a verification rests on; empty when the verifier established none."""

    def __init__(self, keys: Iterable[TrustedKey] = ()) -> None:
        self._keys: dict[str, TrustedKey] = {}
        for key in keys:
            self._keys.setdefault(key.fingerprint, key)

    @classmethod
    def pinned(cls, *fingerprints: str) -> TrustedKeys:
        """Keys pinned by fingerprint (:class:`BadFingerprint` for text that is not one)."""
        return cls(
            TrustedKey(
                parse_fingerprint(fp), "the key you pinned", "pinned with --key-fingerprint", True
            )
            for fp in fingerprints
        )

    @classmethod
    def from_options(
        cls,
        *,
        pins: Sequence[str] = (),
        files: Sequence[Path] = (),
        data_dir: Path | None = None,
    ) -> TrustedKeys:
        """What the command line asked for; :class:`TrustFileError` names a bad file."""
        try:
            keys = list(cls.pinned(*pins))
        except BadFingerprint as exc:
            raise TrustFileError(f"--key-fingerprint: {exc}") from None
        for path in files:
            keys.extend(load_keys_file(Path(path)))
        if data_dir is not None:
            keys.append(installation_key(Path(data_dir)))
        return cls(keys)

    def get(self, fingerprint: str) -> TrustedKey | None:
        return self._keys.get(fingerprint)

    @property
    def has_pins(self) -> bool:
        return any(key.pinned for key in self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self._keys.values())


def load_keys_file(path: Path) -> list[TrustedKey]:
    """Read a trusted-keys file: ``<fingerprint> <holder's name>`` a line.

    Blank lines and lines starting with ``#`` are ignored; the fingerprint takes any
    form :func:`archive.evidence.signing.parse_fingerprint` accepts. A line that is neither is
    refused with its number, so a typo never silently drops a key.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEYS_FILE + 1)
    except OSError as exc:
        raise TrustFileError(f"cannot read trusted-keys file {path}: {exc.strerror}") from None
    if len(data) > MAX_KEYS_FILE:
        raise TrustFileError(f"trusted-keys file {path} is over {MAX_KEYS_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrustFileError(f"trusted-keys file {path} is not UTF-8 text: {exc}") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fingerprint, _, holder = line.partition(" ")
        try:
            canonical = parse_fingerprint(fingerprint)
        except BadFingerprint as exc:
            raise TrustFileError(f"{path} line {number}: {exc}") from None
        holder = holder.strip() or "(no name given)"
        keys.append(TrustedKey(canonical, holder, f"listed in {path} (line {number})"))
    if not keys:
        raise TrustFileError(f"trusted-keys file {path} lists no key (a line: FINGERPRINT NAME)")
    return keys


def installation_key(data_dir: Path) -> TrustedKey:
    """The public key of the installation at ``data_dir``, trusted because it is ours."""
    path = data_dir / KEYS_DIR / PUBLIC_KEY_NAME
    try:
        pem = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustFileError(
            f"--data {data_dir}: no installation key to trust at {path} ({exc})"
        ) from None
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    try:
        fingerprint = _fingerprint_of_b64(body)
    except SignatureError as exc:
        raise TrustFileError(f"{path} is not an ECDSA P-256 public key: {exc}") from None
    return TrustedKey(
        fingerprint, "this installation", f"the key of the installation at {data_dir}"
    )


def judge_signers(signers: Mapping[str, Sequence[str]], keys: TrustedKeys) -> Check:
    """Whether the keys that signed (fingerprint -> what each signed) are established.

    Only signatures that verified are passed in; each file's own check already failed
    the others.
    """
    if not signers:
        return Check(CHECK, Outcome.FAILED, "no signature in the package verifies")
    unknown = [fp for fp in signers if keys.get(fp) is None]
    described = "; ".join(_describe(fp, files, keys.get(fp)) for fp, files in signers.items())
    if not unknown:
        return Check(CHECK, Outcome.OK, described)
    if keys.has_pins:
        pinned = ", ".join(key.fingerprint for key in keys if key.pinned)
        return Check(
            CHECK,
            Outcome.FAILED,
            f"signed by a key you did not pin: {described}. You pinned {pinned}: this package"
            " was not signed by that key (a forgery, or not the package you were meant to get)",
        )
    if len(signers) > 1:
        return Check(
            CHECK,
            Outcome.FAILED,
            f"signed by {len(signers)} different keys, not all of them trusted: {described}."
            " One installation signs with one key; a package mixing keys was assembled from"
            " parts, unless you trust every key (--trusted-keys)",
        )
    return Check(
        CHECK,
        Outcome.UNPROVEN,
        f"{described}. Nothing establishes whose key that is: obtain the fingerprint from its"
        f" holder through another channel (never from the package) and pass --key-fingerprint,"
        " or list it in a --trusted-keys file",
    )


def _describe(fingerprint: str, files: Sequence[str], key: TrustedKey | None) -> str:
    what = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    who = f"{key.holder}, {key.basis}" if key else "not established"
    return f"key {fingerprint} ({who}) signed {what}"
