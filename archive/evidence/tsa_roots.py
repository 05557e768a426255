"""The roots a TSA's certificate must chain to, and the path from the signer to one.

A token is only as good as the authority that signed it, and the verifier says
which authorities it trusts: certifi's (Mozilla's) bundle, plus any root it names
with ``--tsa-trust``. :func:`build_chain` finds the path from the token's signer to
one of those roots; when there is none, :class:`UntrustedChain` says where the path
ends and which root to pass to trust it. The chain is checked here for names and
signatures only: validity at the token's time and the time-stamping EKU are checked
with the token's signature (:mod:`archive.evidence.tsa_verify`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning

from archive.evidence.timestamps import BadTrustFile, UntrustedChain

#: Longest certificate path tried from the TSA's certificate to a root.
MAX_CHAIN = 8


@dataclass(frozen=True)
class TrustStore:
    """The roots a TSA's certificate must chain to: certifi's bundle plus extra PEM files."""

    roots: tuple[x509.Certificate, ...]
    #: Where the roots came from, for messages.
    sources: tuple[str, ...]
    #: Where each root came from, in the order of ``roots`` (empty: not recorded).
    root_sources: tuple[str, ...] = ()

    @classmethod
    def load(cls, extra: Iterable[Path] = ()) -> TrustStore:
        bundle = f"certifi ({certifi.where()})"
        found = [(cert, bundle) for cert in _certifi_roots()]
        sources = [bundle]
        for path in extra:
            found.extend((cert, str(path)) for cert in _load_pem_file(Path(path)))
            sources.append(str(path))
        # The last source of a root wins: a root the verifier named is reported as theirs.
        unique = {cert.public_bytes(Encoding.DER): (cert, source) for cert, source in found}
        return cls(
            roots=tuple(cert for cert, _ in unique.values()),
            sources=tuple(sources),
            root_sources=tuple(source for _, source in unique.values()),
        )

    def contains(self, cert: x509.Certificate) -> bool:
        return cert in self.roots

    def source_of(self, root: x509.Certificate) -> str:
        """Where a trusted root came from (a file the verifier named, or certifi)."""
        for cert, source in zip(self.roots, self.root_sources, strict=False):
            if cert == root:
                return source
        return self.describe()

    def describe(self) -> str:
        return ", ".join(self.sources)


@cache
def _certifi_roots() -> tuple[x509.Certificate, ...]:
    with warnings.catch_warnings():
        # Some long-lived roots have a non-positive serial number, which cryptography
        # warns about; they are still the roots everyone trusts.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


def _load_pem_file(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadTrustFile(f"cannot read trust file {path}: {exc.strerror}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BadTrustFile(f"trust file {path} holds no PEM certificate: {exc}") from exc


def build_chain(
    signer: x509.Certificate, token_certs: list[x509.Certificate], trust: TrustStore
) -> list[x509.Certificate]:
    """The path from the signer to a trusted self-signed root, trying trusted issuers first.

    A path, not the first issuer found: TSAs send cross-signed intermediates
    (same name and key as a root, issued by an older root), so a name can have
    two issuers and only one of them may lead to a root we trust.
    """

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        if _self_issued(current):
            return path if trust.contains(current) else None
        if len(path) >= MAX_CHAIN:
            return None
        for candidate in [*trust.roots, *token_certs]:
            if candidate in path or candidate.subject != current.issuer:
                continue
            if _issued_by(current, candidate) and (found := extend([*path, candidate])):
                return found
        return None

    chain = extend([signer])
    if chain is None:
        raise UntrustedChain(
            f"untrusted chain: the TSA certificate {signer.subject.rfc4514_string()} "
            f"{_where_the_path_ends(signer, token_certs, trust)} "
            f"(trust store: {trust.describe()}; if this authority is to be trusted, obtain "
            f"its root from it and add it with --tsa-trust ROOT.pem)"
        )
    return chain


def _where_the_path_ends(
    signer: x509.Certificate, token_certs: list[x509.Certificate], trust: TrustStore
) -> str:
    """Where the token's own certificates lead from the signer, for the refusal's message."""
    top = signer
    for _ in range(MAX_CHAIN):
        issuer = next((c for c in token_certs if c != top and _issued_by(top, c)), None)
        if _self_issued(top) or issuer is None:
            break
        top = issuer
    if _self_issued(top):
        fingerprint = top.fingerprint(hashes.SHA256()).hex()
        return (
            f"chains to the root {top.subject.rfc4514_string()} (certificate SHA-256"
            f" {fingerprint[:16]}...), which is not trusted"
        )
    if any(c.subject == top.issuer for c in [*trust.roots, *token_certs]):
        return (
            f"names the issuer {top.issuer.rfc4514_string()}, but no certificate of "
            f"that name in the token or the trust store signed it (an altered "
            f"certificate, or another CA with the same name)"
        )
    return (
        f"needs the issuer {top.issuer.rfc4514_string()}, which is neither in "
        f"the token nor in the trust store"
    )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, unsupported key types, bad extensions
        return False
    return True


def _self_issued(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)
