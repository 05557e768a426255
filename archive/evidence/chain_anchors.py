"""Anchors of a custody chain kept in the catalog (team mode): sealed through the store,
listed in the catalog.

A team installation has no one ``DATA/anchors/`` every machine sees, so each token (and
its chain of certificates) is sealed through the archive's store
(``store.create_file("anchors", name, ...)``: a local file for a ``file://`` store, an
Object-Locked object for ``s3://``) under ``<chain tag>.<seq>-<n>.tsr``
(:func:`archive.evidence.chain_names.chain_tag`), and listed in ``custody_anchors`` in
the same transaction as its ``anchored`` event. The name is picked, the files sealed,
the row and the event written under one lock on the chain's anchoring (an advisory lock
on PostgreSQL), so two machines anchoring one chain never pick the same name. A file
sealed whose transaction then failed is an object without its row: reported by the
store's check, never reused (the next name is taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archive.catalog.custody_chains import AnchorFile
from archive.evidence.anchors import ANCHORS_DIR, Anchor, chain_name, token_name
from archive.evidence.chain_names import chain_tag
from archive.evidence.custody_events import CustodyError
from archive.evidence.timestamps import Timestamp
from archive.sealed_store import SealedStore
from archive.store import FileStore, StoreError
from archive.timeutil import rfc3339

if TYPE_CHECKING:
    from archive.evidence.chain_log import ChainLog

TOKEN_KIND = "custody-anchor"
CHAIN_KIND = "tsa-chain"


@dataclass(frozen=True)
class StoreTokens:
    """Anchor tokens sealed in the archive's store, folder ``anchors`` (the access log's:
    ``access-anchors``)."""

    store: SealedStore
    folder: str = ANCHORS_DIR

    def read(self, name: str) -> bytes:
        """The token as sealed (an object store checks its recorded SHA-256 as it reads)."""
        if isinstance(self.store, FileStore):
            return (self.store.root / self.folder / name).read_bytes()
        open_file: Any = getattr(self.store, "open_file", None)
        if open_file is None:
            raise CustodyError(f"the store {type(self.store).__name__} cannot read {name}")
        with open_file(self.folder, name) as stream:
            return bytes(stream.read())

    def where(self, name: str) -> str:
        return f"{self.folder}/{name} (in the store)"


def keep_chain_anchor(log: ChainLog, stamp: Timestamp, seq: int, hash_: str, actor: str) -> Anchor:
    """Seal the TSA's reply and its certificates, list them, and append the ``anchored``
    event to the chain: one transaction, under the chain's anchoring lock."""
    catalog = log.log.catalog
    with catalog.transaction():
        catalog.lock_custody_anchoring(log.name)
        taken = {a.name for a in catalog.custody_anchor_files(log.name)}
        name = _free_name(log.name, seq, taken)
        folder = log.anchors_folder
        try:
            with log.store.create_file(folder, name, TOKEN_KIND) as token:
                token.write(stamp.token_der)
            with log.store.create_file(folder, chain_name(name), CHAIN_KIND) as chain:
                chain.write(stamp.tsa_chain_pem.encode("ascii"))
        except (OSError, StoreError) as exc:
            raise CustodyError(
                f"the anchor of {log.where} seq {seq} from {stamp.tsa_url} could not be"
                f" sealed as {folder}/{name}: {exc}"
            ) from exc
        assert token.sealed is not None
        anchor = Anchor(
            seq, hash_, stamp.tsa_url, rfc3339(stamp.gen_time), name, token.sealed.sha256
        )
        catalog.add_custody_anchor(AnchorFile(name, log.name, seq, token.sealed.sha256))
        log.append("anchored", actor=actor, details=anchor.details())
    return anchor


def _free_name(chain: str, seq: int, taken: set[str]) -> str:
    number = 1
    while f"{chain_tag(chain)}.{token_name(seq, number)}" in taken:
        number += 1
    return f"{chain_tag(chain)}.{token_name(seq, number)}"


def chain_token(log: ChainLog, anchor: Anchor) -> bytes:
    """A recorded anchor's token, as sealed."""
    return StoreTokens(log.store, log.anchors_folder).read(anchor.token)
