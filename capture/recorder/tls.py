"""TLS details and the certificate chain of each HTTPS origin, as metadata records.

The first response from an origin that carries ``securityDetails`` makes one
``metadata`` record for the origin (``X-Osint-Metadata: tls-certificate-chain``):
the details, and the chain in PEM from ``Network.getCertificate``, asked of the
page's own session. :class:`TlsOrigins` owns the origins seen and the tasks still
writing their records; the recorder's close waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from archive.records import Payload, metadata_record
from archive.timeutil import utc_now
from capture.cdp import CDPError, CDPSession
from capture.exchange import Exchange
from capture.recorder.attaching import Targets
from capture.recorder.limits import SETUP_TIMEOUT
from capture.recorder.writing import RecordWriter


class TlsOrigins:
    """One certificate-chain record per HTTPS origin the page reached."""

    def __init__(self, targets: Targets, writer: RecordWriter) -> None:
        #: Origin -> its TLS details and chain, as written in its metadata record.
        self.origins: dict[str, dict[str, Any]] = {}
        self._targets = targets
        self._writer = writer
        self._tasks: set[asyncio.Task[Any]] = set()

    def note(self, exchange: Exchange) -> None:
        """An exchange with TLS details: the first of its origin has the chain recorded."""
        split = urlsplit(exchange.url)
        origin = f"{split.scheme}://{split.netloc}"
        if origin in self.origins or self._targets.page_session is None:
            return
        self.origins[origin] = {"origin": origin, "security_details": exchange.security}
        session = self._targets.page_session
        task = asyncio.create_task(self._record_certificate(session, origin))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_certificate(self, session: CDPSession, origin: str) -> None:
        """TLS details and the certificate chain of an origin, as a metadata record."""
        info = self.origins[origin]
        try:
            result = await session.send(
                "Network.getCertificate", {"origin": origin}, timeout=SETUP_TIMEOUT
            )
            info["certificate_chain_pem"] = [_pem(der) for der in result.get("tableNames", [])]
        except CDPError as exc:
            info["certificate_chain_pem"] = []
            info["certificate_error"] = exc.message
        info["recorded_at"] = utc_now().isoformat()
        payload = Payload(json.dumps(info, indent=2, sort_keys=True).encode("utf-8"))
        record = metadata_record(
            origin + "/",
            content_type="application/json",
            payload=payload,
            extra=[("X-Osint-Metadata", "tls-certificate-chain")],
        )
        await self._writer.write_record(record)
        payload.close()

    async def finish(self) -> None:
        """Let the certificate records still being written finish (each within a bound)."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=SETUP_TIMEOUT)


def _pem(der_base64: str) -> str:
    lines = [der_base64[i : i + 64] for i in range(0, len(der_base64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
