"""``osint-capture key``: the key statement, signed by the key and stamped by a local TSA.

An organisation publishes the statement so that, later, anyone can check with
``openssl`` alone that the key existed no later than the token's time.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

from archive.evidence.keystatement import SIGNATURE_NAME, STATEMENT_NAME
from archive.evidence.signing import verify_signed
from tests.tsa import TestTSA

CLI = Path(sys.executable).with_name("osint-capture")


async def run(*args: str | Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *map(str, args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_key_statement_is_signed_and_stamped_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out, err = await run(CLI, "key", "--data", data, "--operator", "Amal")
    assert code == 0, out + err
    assert "not time-stamped yet" in err
    keys = data / "keys"
    statement = json.loads((keys / STATEMENT_NAME).read_bytes())
    fingerprint = next(line for line in out.splitlines() if line.startswith("fingerprint:"))
    assert fingerprint == f"fingerprint: {statement['fingerprint']}"
    assert statement["operator"] == "Amal" and statement["host"] and statement["key_created"]
    assert statement["key_created"].endswith("Z") and statement["clock"] == "system clock, UTC"
    assert statement["key_created_from"].startswith("custody event seq 1 (key-created)")
    record = json.loads((keys / SIGNATURE_NAME).read_bytes())
    verify_signed(
        record, (keys / STATEMENT_NAME).read_bytes(), expected_fingerprint=statement["fingerprint"]
    )
    assert stat.S_IMODE((keys / STATEMENT_NAME).stat().st_mode) == 0o444

    async with TestTSA(tmp_path / "tsa") as tsa:
        args = ("--data", data, "--tsa", tsa.url, "--tsa-trust", tsa.ca_pem_path)
        code, out, err = await run(CLI, "key", *args)
        assert code == 0, out + err
        assert f"time-stamped by {tsa.url}" in out and "key-statement-1.tsr" in out
        code, out, err = await run(
            "openssl", "ts", "-verify", "-in", keys / "key-statement-1.tsr",
            "-data", keys / STATEMENT_NAME, "-CAfile", tsa.ca_pem_path,
        )  # fmt: skip
        assert code == 0 and "Verification: OK" in out, out + err
        # Once stamped, running it again changes nothing.
        requests = tsa.requests
        code, out, err = await run(CLI, "key", *args)
        assert code == 0 and tsa.requests == requests, out + err
    assert sorted(p.name for p in keys.glob("key-statement*")) == [
        "key-statement-1.chain.pem",
        "key-statement-1.tsr",
        "key-statement.json",
        "key-statement.sig.json",
    ]


async def test_a_statement_for_a_replaced_key_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out, err = await run(CLI, "key", "--data", data)
    assert code == 0, out + err
    keys = data / "keys"
    for name in ("signing-key.pem", "signing-key.pub.pem"):
        (keys / name).unlink()
    code, _out, err = await run(CLI, "key", "--data", data)
    assert code == 1 and "the key was replaced" in err and "Traceback" not in err, err
