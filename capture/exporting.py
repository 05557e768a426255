"""Export from the command line: choose captures, render the report's PDF, package.

The configured TSAs stamp the package signature (:func:`package_stamper`) and anchor
the custody head the package is made at (``Anchoring``, from the same configuration).

Packaging is :func:`archive.wacz.export.export_wacz`; this module adds what needs the
browser (printing the report to PDF with Chromium), which ``archive`` must not
import.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from archive.catalog import Catalog
from archive.datadir import Archive
from archive.evidence.timestamps import TimestampError
from archive.evidence.trustedtime import TimestampConfig
from archive.evidence.tsa_client import request_token
from archive.wacz.export import export_wacz
from archive.wacz.export_types import ExportError, ExportResult, Stamper
from capture.browser import Browser

PDF_TIMEOUT_MS = 120_000


def choose_captures(catalog: Catalog, *, case: str | None, ids: list[str]) -> list[str]:
    """The captures to export: the listed ids, or every sealed capture of a case (but the
    deleted ones, whose files are gone: named one by one, they are refused)."""
    if ids:
        return ids
    if case is None:
        raise ExportError("name captures to export, or a case with --case")
    sealed = [
        row.id
        for row in reversed(catalog.list_captures(case=case))
        if row.status in ("complete", "partial") and row.deleted_at is None
    ]
    if not sealed:
        raise ExportError(f"case {case!r} has no sealed captures to export")
    return sealed


def package_stamper(config: TimestampConfig) -> Stamper | None:
    """Tokens over the package signature from each configured TSA (failures noted)."""
    if not config.tsas:
        return None
    trust = config.trust()

    def stamp(digest: bytes) -> list[dict[str, str]]:
        tokens = []
        for tsa in config.tsas:
            try:
                token = request_token(digest, tsa, trust=trust)
            except TimestampError as exc:
                tokens.append({"tsa": tsa, "error": str(exc)})
                continue
            tokens.append(
                {
                    "tsa": tsa,
                    "token": base64.b64encode(token.token_der).decode("ascii"),
                    "gen_time": token.gen_time.isoformat(),
                }
            )
        return tokens

    return stamp


async def export(
    archive: Archive,
    capture_ids: list[str],
    out: Path,
    *,
    actor: str,
    tsa: TimestampConfig | None = None,
    event_details: dict[str, str] | None = None,
) -> ExportResult:
    """Build the package, printing the report to PDF in a headless Chromium; its
    ``exported`` custody event names ``actor`` and carries ``event_details`` (the device)."""
    archive.signing_key()  # made (and logged) before a browser starts, not in the thread
    loop = asyncio.get_running_loop()
    browser = await Browser.launch()
    try:

        async def render(html: Path, pdf: Path) -> None:
            context = await browser.new_context()
            try:
                page = await context.new_page()
                await page.goto(html.resolve().as_uri(), wait_until="load")
                await page.pdf(path=str(pdf), format="A4", print_background=True)
            finally:
                await context.close()

        def pdf_renderer(html: Path, pdf: Path) -> None:
            # Called from the packaging thread; the browser lives on this loop.
            asyncio.run_coroutine_threadsafe(render(html, pdf), loop).result(PDF_TIMEOUT_MS / 1000)

        return await asyncio.to_thread(
            export_wacz,
            archive,
            capture_ids,
            out,
            actor=actor,
            pdf_renderer=pdf_renderer,
            stamper=package_stamper(tsa) if tsa is not None else None,
            anchoring=tsa.anchoring() if tsa is not None and tsa.tsas else None,
            event_details=event_details,
        )
    finally:
        await browser.close()
