"""A local RFC 3161 time-stamp authority for the tests, built on ``openssl ts -reply``.

There is no internet on the test machines, and public TSAs must never be hit by
tests anyway; OpenSSL's TSA is what many real ones run, quirks included. Each
:class:`TestTSA` makes a throwaway PKI in its work directory with the openssl CLI:
a root CA (what a verifier trusts, :attr:`TestTSA.ca_pem_path`) and a TSA
certificate it issues (extended key usage timeStamping, critical, as RFC 3161
§2.3 requires). It answers ``POST /`` and ``POST /tsr`` on 127.0.0.1.

``chain_in_token=True`` lists the CA under ``certs=``, so tokens carry two
certificates, written the way OpenSSL writes them: signer first. The root is an
EC key and the TSA an RSA key with more extensions, so the root's encoding is
always the shorter and DER order would put it first: every such token has its
certificate set out of DER order (the trap ``archive.evidence.tsa_token`` works around).
The two configurations also differ in what else real TSAs vary: ESS attribute v1
(SHA-1) against v2 (SHA-256, whole chain), whole seconds against milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from aiohttp import web

from tests.loopback import LoopbackServer

#: The policy OID the test TSA stamps with (an arc under the OID example root 1.3.6.1.4.1.32473).
TEST_POLICY = "1.3.6.1.4.1.32473.3161.1"
#: Certificates outlive any test session; the TSA signs "now", which they cover.
CERT_DAYS = 7

_PKI_CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
tsa_name = yes
{variant}
"""

_SIGNER_ONLY = """\
accuracy = secs:1
ess_cert_id_alg = sha1
"""

_WITH_CHAIN = """\
certs = $dir/ca.pem
accuracy = secs:1, millisecs:500
clock_precision_digits = 3
ess_cert_id_alg = sha256
ess_cert_id_chain = yes
"""


class TSAError(RuntimeError):
    """The openssl CLI failed while setting up or answering; its stderr is in the message."""


class TestTSA(LoopbackServer):
    """An RFC 3161 TSA on 127.0.0.1 (port chosen by the OS), backed by the openssl CLI."""

    what = "test TSA"

    def __init__(self, workdir: Path, *, chain_in_token: bool = False) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self.chain_in_token = chain_in_token
        #: When true, every request gets 503, as from a TSA that is down for maintenance.
        self.down = False
        #: Seconds to wait before answering (to make clients time out).
        self.delay = 0.0
        #: When set, sent as the reply to every request: a replayed or misrouted answer.
        self.canned: bytes | None = None
        #: Requests received, answered or not.
        self.requests = 0
        self._lock = asyncio.Lock()  # openssl rewrites the serial file on each reply
        self._counter = itertools.count(1)

    @property
    def ca_pem_path(self) -> Path:
        """The root CA certificate: what a verifier must trust."""
        return self.workdir / "ca.pem"

    @property
    def tsa_pem_path(self) -> Path:
        return self.workdir / "tsa.pem"

    @property
    def config_path(self) -> Path:
        return self.workdir / "tsa.cnf"

    @property
    def url(self) -> str:
        return self.origin + "/"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._make_pki()
        app = web.Application()
        app.router.add_post("/", self._reply)
        app.router.add_post("/tsr", self._reply)
        await self.serve(app)

    async def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp that ``openssl ts -reply`` makes for ``query``."""
        number = next(self._counter)
        query_path = self.workdir / f"query-{number}.tsq"
        reply_path = self.workdir / f"reply-{number}.tsr"
        query_path.write_bytes(query)
        async with self._lock:
            await _openssl(
                "ts", "-reply", "-config", str(self.config_path),
                "-queryfile", str(query_path), "-out", str(reply_path),
            )  # fmt: skip
        return reply_path.read_bytes()

    async def _reply(self, request: web.Request) -> web.Response:
        self.requests += 1
        query = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return web.Response(status=503, text="time-stamping is down for maintenance")
        if request.content_type != "application/timestamp-query":
            return web.Response(status=415, text="send application/timestamp-query")
        if self.canned is not None:
            return web.Response(body=self.canned, content_type="application/timestamp-reply")
        try:
            body = await self.reply(query)
        except TSAError as exc:
            return web.Response(status=500, text=str(exc))
        return web.Response(body=body, content_type="application/timestamp-reply")

    async def _make_pki(self) -> None:
        work = self.workdir
        (work / "pki.cnf").write_text(_PKI_CONFIG)
        (work / "serial").write_text("01\n")
        await _openssl(
            "req", "-x509", "-config", str(work / "pki.cnf"), "-extensions", "ca_ext",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(work / "ca.key"), "-out", str(self.ca_pem_path),
            "-days", str(CERT_DAYS), "-subj", "/O=osint-capture tests/CN=Test TSA Root",
        )  # fmt: skip
        await _openssl(
            "req", "-new", "-config", str(work / "pki.cnf"),
            "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(work / "tsa.key"), "-out", str(work / "tsa.csr"),
            "-subj", "/O=osint-capture tests/CN=Test Time-Stamping Authority",
        )  # fmt: skip
        await _openssl(
            "x509", "-req", "-in", str(work / "tsa.csr"),
            "-CA", str(self.ca_pem_path), "-CAkey", str(work / "ca.key"),
            "-set_serial", "0x7e57", "-days", str(CERT_DAYS), "-sha256",
            "-extfile", str(work / "pki.cnf"), "-extensions", "tsa_ext",
            "-out", str(self.tsa_pem_path),
        )  # fmt: skip
        variant = _WITH_CHAIN if self.chain_in_token else _SIGNER_ONLY
        self.config_path.write_text(
            _TSA_CONFIG.format(dir=work, policy=TEST_POLICY, variant=variant)
        )


async def _openssl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "openssl",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise TSAError(
            f"openssl {args[0]} {args[1]} failed ({process.returncode}): "
            f"{(err or out).decode(errors='replace').strip()}"
        )
