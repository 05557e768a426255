"""Legal hold on a case: recorded in the catalog and in custody, refused twice, released."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.datadir import Archive
from archive.hashing import sha256_bytes
from capture.browser import Browser
from capture.cli import main
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.seaweed import use_bucket
from tests.site import TestSite


@pytest.fixture(params=["embedded", "postgresql", "team"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The file custody log; per-case chains in a PostgreSQL catalog; and those with an
    S3 bucket with Object Lock as the store."""
    if request.param != "embedded":
        monkeypatch.setenv("OSINT_CAPTURE_CATALOG", request.getfixturevalue("postgres_url"))
    if request.param == "team":
        use_bucket(monkeypatch, request.getfixturevalue("seaweed"))
    return str(request.param)


async def test_a_case_is_held_and_released_through_the_cli_and_custody_says_so(
    tmp_path: Path, site: TestSite, browser: Browser, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    data = tmp_path / "data"
    sealed = await capture_into(
        CaptureRequest(site.url("/rich"), case="detention", operator="amal"), data, browser=browser
    )
    hold = ["case", "hold", "detention", "--reason", "court order 12/2026", "--data", str(data)]
    assert main([*hold, "--operator", "lina", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["captures"] == [sealed.id] and done["held"]
    if mode == "team":
        assert done["stored_objects"] >= len(sealed.artifacts) + 1  # and the manifest
        with Archive.open(data, create=False) as archive:
            states = archive.store.legal_holds(sealed.id)
        assert states and all(state.on for state in states)
    else:
        assert done["stored_objects"] is None, "a file store has no object lock of its own"
    with Archive.open(data, create=False) as archive:
        held = archive.catalog.case_hold("detention")
        assert held is not None and (held.held_by, held.reason) == ("lina", "court order 12/2026")
        [event] = [e for e in archive.custody.events() if e.action == "held"]
        assert (event.actor, event.captures) == ("lina", (sealed.id,))
        assert event.details["case_sha256"] == sha256_bytes(b"detention")
        assert "detention" not in json.dumps(event.details), "no case names in custody"
        assert (event.seq, event.hash) == (done["custody_seq"], done["custody_hash"])

    assert main([*hold, "--operator", "lina"]) == 1, "holding twice is refused"
    assert "already on hold" in capsys.readouterr().err
    release = ["case", "release", "detention", "--reason", "order lifted", "--data", str(data)]
    assert main(release) == 0
    assert "released from legal hold: 1 sealed capture(s)" in capsys.readouterr().out
    assert main(release) == 1
    with Archive.open(data, create=False) as archive:
        assert archive.catalog.case_hold("detention") is None
        actions = [e.action for e in archive.custody.events() if e.action in ("held", "released")]
        assert actions == ["held", "released"], "a refused request writes no event"
        assert archive.custody.verify().ok
        if mode == "team":
            assert not any(state.on for state in archive.store.legal_holds(sealed.id))


def test_holding_an_unknown_case_or_without_a_reason_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Archive.open(data).close()
    assert main(["case", "hold", "nosuch", "--reason", "x", "--data", str(data)]) == 2
    assert "no case 'nosuch'" in capsys.readouterr().err
    with Archive.open(data) as archive:
        archive.catalog.start_capture(
            "c1", "https://example.org/", case="real", note=None, operator=None, started_at="x"
        )
    assert main(["case", "hold", "real", "--reason", " ", "--data", str(data)]) == 2
    assert "needs a reason" in capsys.readouterr().err
