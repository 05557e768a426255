"""Exporting as the command line does when a time-stamp authority is configured."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from archive.datadir import Archive
from archive.evidence.trustedtime import TimestampConfig
from archive.wacz.export import export_wacz
from archive.wacz.export_types import ExportResult, PdfRenderer
from capture.exporting import package_stamper
from tests.tsa import TestTSA


async def export_stamped(
    data: Path,
    capture_ids: Sequence[str],
    out: Path,
    tsa: TestTSA,
    *,
    pdf_renderer: PdfRenderer | None = None,
) -> ExportResult:
    """The package signed by the data directory's key, stamped, its custody anchored."""
    config = TimestampConfig((tsa.url,), (tsa.ca_pem_path,))
    with Archive.open(data) as archive:
        return await asyncio.to_thread(
            export_wacz,
            archive,
            list(capture_ids),
            out,
            actor="tester",
            pdf_renderer=pdf_renderer,
            stamper=package_stamper(config),
            anchoring=config.anchoring(),
        )
