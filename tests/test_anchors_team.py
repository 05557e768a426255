"""Custody anchors in team mode: one anchor per chain whose head moved, tokens sealed through
the store and listed in the catalog, checked by ``custody verify [--case]`` on a PostgreSQL
catalog as in embedded mode."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from archive.datadir import Archive
from archive.evidence.anchoring import Anchoring, anchor_all_due
from archive.evidence.chain_names import INSTALLATION_CHAIN, case_chain, chain_tag
from archive.evidence.checks import Outcome
from archive.evidence.custody_db import DbCustodyLog
from archive.evidence.tsa_roots import TrustStore
from archive.settings import load_settings
from archive.timeutil import now_rfc3339
from tests.server import CLI
from tests.tsa import TestTSA


@pytest.fixture(scope="module")
async def tsa(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestTSA]:
    async with TestTSA(tmp_path_factory.mktemp("team-tsa"), chain_in_token=True) as running:
        yield running


async def cli(env: dict[str, str], *args: str | Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CLI,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


def seal_some(archive: Archive) -> None:
    for capture_id, case in (("a-1", "alpha"), ("b-1", "beta")):
        archive.catalog.start_capture(
            capture_id,
            "https://example.org/",
            case=case,
            note=None,
            operator="amal",
            started_at=now_rfc3339(),
        )
        archive.custody.append("captured", actor="amal", captures=[capture_id])


async def test_each_moved_chain_is_anchored_and_verified_per_case(
    tsa: TestTSA, tmp_path: Path, postgres_url: str
) -> None:
    env = {"OSINT_CAPTURE_CATALOG": postgres_url}
    data = tmp_path / "data"
    with Archive.open(data, settings=load_settings(data, environ=env)) as archive:
        assert isinstance(archive.custody, DbCustodyLog)
        seal_some(archive)
        anchoring = Anchoring((tsa.url,), TrustStore.load([tsa.ca_pem_path]))
        runs = await asyncio.to_thread(anchor_all_due, archive.custody, anchoring, actor="amal")
        assert sorted(r.chain or "" for r in runs) == [case_chain("alpha"), case_chain("beta")]
        assert all(len(r.anchors) == 1 for r in runs)
        again = await asyncio.to_thread(anchor_all_due, archive.custody, anchoring, actor="amal")
        assert again == []  # only anchored events since: nothing moved
        listed = archive.catalog.custody_anchor_files(case_chain("alpha"))
        assert [a.name for a in listed] == [f"{chain_tag(case_chain('alpha'))}.2-1.tsr"]
        assert (data / "anchors" / listed[0].name).is_file()  # sealed through the file store
        report = archive.custody.verify(TrustStore.load([tsa.ca_pem_path]), case="alpha")
        assert report.outcome is Outcome.OK, report.summary()
        assert INSTALLATION_CHAIN not in archive.custody.chains()
    code, out, err = await cli(
        env, "custody", "verify", "--data", data, "--case", "beta",
        "--tsa-trust", tsa.ca_pem_path, "--json",
    )  # fmt: skip
    verdict = json.loads(out)
    assert code == 0 and verdict["proven_up_to"]["seq"] == 2, out + err
    (data / "anchors" / listed[0].name).chmod(0o644)
    (data / "anchors" / listed[0].name).write_bytes(b"not the token")
    code, out, err = await cli(env, "custody", "verify", "--data", data, "--json")
    verdict = json.loads(out)
    assert code == 1, out + err
    assert any("is not the" in p and "replaced" in p for p in verdict["problems"]), verdict
