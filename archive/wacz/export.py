"""The signed WACZ export: sealed captures, packaged for someone else to check and replay.

One ``.wacz`` file (WACZ 1.1.1) holds the captures' WARC files byte for byte, an
index and a page list so ReplayWeb.page and pywb replay them, and beside them the
evidence a court needs: each capture's manifest, its signature, its time-stamp
tokens and other sealed files, the slice of the chain of custody that concerns
them, a report for people, a ``SHA256SUMS`` for ``sha256sum -c`` and a
``VERIFY.md`` saying how to check it all by hand. ``datapackage.json`` lists every
file with its SHA-256; ``datapackage-digest.json`` carries its hash and the
installation's anonymous WACZ signature over it. Where each file goes is
:mod:`archive.wacz.layout`.

:func:`export_wacz` reads top to bottom; each step is one module:

- :mod:`archive.wacz.loading`: the captures, sealed ones only; each manifest is
  compared with the SHA-256 the catalog recorded when it was sealed;
- :mod:`archive.wacz.placing`: the output name is checked first, and the package is
  written under a temporary name in the output folder, fsynced, then linked to its
  final name, which is never replaced; a crash leaves only a ``.partial`` file;
- :mod:`archive.wacz.writing`: the members in order (:mod:`~archive.wacz.indexing`,
  :mod:`~archive.wacz.package_texts`, :mod:`~archive.wacz.datapackage`), each hashed
  as it goes in (:mod:`~archive.wacz.package_writer`); every other sealed file is
  compared with its recorded hash as it streams through (1 MiB at a time; nothing
  large is held in memory): a file that changed since sealing is refused, never
  packaged;
- last, here: the export is a custody event (``exported``), written once the file
  is in place; if that fails, the file is removed again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.datadir import Archive
from archive.evidence.anchoring import (
    Anchoring,
    PackageAnchors,
    embedded_package_anchors,
    package_anchors,
)
from archive.evidence.custody import CustodyError
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.custody_interface import Custody
from archive.evidence.signing import SigningKey
from archive.timeutil import now_rfc3339
from archive.wacz.export_types import ExportError, ExportResult, PdfRenderer, Stamper
from archive.wacz.layout import WACZ_VERSION
from archive.wacz.loading import SealedCapture, checked_ids, load_capture
from archive.wacz.placing import check_output, write_in_place
from archive.wacz.writing import PackageContents, write_package


def export_wacz(
    archive: Archive,
    capture_ids: list[str],
    out: Path,
    *,
    actor: str,
    pdf_renderer: PdfRenderer | None = None,
    stamper: Stamper | None = None,
    anchoring: Anchoring | None = None,
    event_details: Mapping[str, str] | None = None,
) -> ExportResult:
    """Package sealed captures into a signed WACZ at ``out``; record it in custody.

    ``stamper(digest)`` returns RFC 3161 tokens over the SHA-256 of the package
    signature; they go into ``datapackage-digest.json`` beside the signature they
    stamp (they cannot be listed in the datapackage the signature covers).
    ``anchoring`` anchors the custody slice's last event with its TSAs; the package
    carries that head and every anchor of the slice (:func:`package_anchors`).
    ``event_details`` go into the ``exported`` event beside its own (the ``device`` the
    person exported through, an ``operator`` label).

    Blocking (reads and writes every byte of the captures): run it in a thread from
    async code. ``pdf_renderer(html_path, pdf_path)`` turns the report into a PDF
    (the caller has a browser; this package has none); the screenshots the report
    shows sit beside ``html_path``. Raises :class:`ExportError` for an unknown or
    unsealed capture, an existing ``out``, a custody log that does not verify, or a
    sealed file that no longer has its recorded hash.
    """
    out = Path(out)
    check_output(out)
    key = archive.signing_key()
    captures = [load_capture(archive, capture_id) for capture_id in checked_ids(capture_ids)]
    events, anchors = _custody_slice(archive.custody, captures, anchoring, actor)
    imported, imported_anchors = _imported_slice(archive.custody, captures)
    contents = PackageContents(
        captures,
        events,
        anchors,
        created=now_rfc3339(),
        key=key,
        package_name=out.name,
        pdf_renderer=pdf_renderer,
        stamper=stamper,
        imported_events=imported,
        imported_anchors=imported_anchors,
    )
    notes, sha256, size = write_in_place(out, lambda sink: write_package(sink, contents))

    run = anchors.run if anchors is not None else None
    result = ExportResult(out, sha256, size, tuple(c.id for c in captures), tuple(notes), run)
    _record_export(archive.custody, result, key, actor, event_details or {})
    return result


def _custody_slice(
    custody: Custody,
    captures: list[SealedCapture],
    anchoring: Anchoring | None,
    actor: str,
) -> tuple[list[dict[str, Any]], PackageAnchors | None]:
    """The custody events that concern the captures, and the anchors that prove them."""
    try:
        events = custody.slice_for([c.id for c in captures])
        anchors = package_anchors(custody, events, anchoring, actor=actor)
    except CustodyError as exc:
        raise ExportError(f"refusing to export: {exc}") from exc
    return events, anchors


def _imported_slice(
    custody: Custody, captures: list[SealedCapture]
) -> tuple[list[dict[str, Any]], PackageAnchors | None]:
    """Captures migrated from an embedded archive (team mode): the imported log's events
    about them, to its head, which the case chain's ``migrated`` event names; and that
    log's own anchors within them, made before ``migrate``."""
    imported_slice_for = getattr(custody, "imported_slice_for", None)
    if imported_slice_for is None or not isinstance(custody, DbCustodyLog):
        return [], None
    try:
        chain, events = imported_slice_for([c.id for c in captures])
        return list(events), embedded_package_anchors(custody, chain, events)
    except CustodyError as exc:
        raise ExportError(f"refusing to export: {exc}") from exc


def _record_export(
    custody: Custody,
    result: ExportResult,
    key: SigningKey,
    actor: str,
    extra: Mapping[str, str],
) -> None:
    """The ``exported`` event: the package's hash, size, format and signer (and ``extra``)."""
    try:
        custody.append(
            "exported",
            actor=actor,
            captures=list(result.captures),
            details={
                "sha256": result.sha256,
                "size": result.size,
                "captures": len(result.captures),
                "format": f"WACZ {WACZ_VERSION}",
                "signed_by": key.fingerprint,
                **extra,
            },
        )
    except BaseException:
        # An export the chain of custody does not know of must not circulate.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(result.path)
        raise
