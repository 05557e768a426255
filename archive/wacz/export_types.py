"""What callers of the export hand in and get back, and the one error every part raises.

Kept apart from :mod:`archive.wacz.export` so that the parts it calls (loading,
writing, the datapackage, placing the file) can raise :class:`ExportError` and take
the callers' hooks without importing the flow that calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive.errors import Failed, Tampered
from archive.evidence.anchoring import AnchorRun

#: ``renderer(html_path, pdf_path)`` prints the report as a PDF (the caller has a
#: browser; this package has none); the screenshots the report shows sit beside it.
PdfRenderer = Callable[[Path, Path], None]


#: Given the SHA-256 of the package signature, returns ``{"tsa", "token" (base64 of the
#: TSA's reply), "gen_time"}`` for each token obtained, or ``{"tsa", "error"}``.
Stamper = Callable[[bytes], list[dict[str, str]]]


class ExportError(Failed):
    """The export was refused or could not be completed; nothing was left under its name."""


class ExportTampered(ExportError, Tampered):
    """A file to export (or its manifest's signature) is not what was sealed: the export
    is abandoned rather than package it."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    size: int
    captures: tuple[str, ...]
    #: What the operator must know about the package: each time-stamp authority that
    #: gave no token (a package without trusted time verifies only as "not authenticated").
    notes: tuple[str, ...] = ()
    #: The anchoring of the custody head done for this export, when TSAs were given.
    custody_anchors: AnchorRun | None = None
