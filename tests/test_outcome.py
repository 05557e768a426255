"""The reasons, losses and items a capture states, made from its stages' results.

The integration tests (test_capture, test_hostile, test_faults, ...) check that each
reason appears; these check what only the pure functions show: the order of the
reasons (the order of the stages that found them), a failure's reasons from the
stages that finished, and what the seal stage counts as a loss.
"""

from __future__ import annotations

from datetime import UTC, datetime

from archive.records import Payload
from capture import media
from capture.behaviours import BehaviourResult
from capture.derived import PageRef
from capture.exchange import BodyState, Exchange
from capture.stages.outcome import items_of, losses_at_sealing, reasons_of
from capture.stages.results import (
    AsSeenWritten,
    BehavioursDone,
    Cut,
    DerivedRecords,
    Loaded,
    MediaResult,
    Swept,
)

_T0 = datetime(2024, 1, 1, tzinfo=UTC)
LOST = "the browser (Chromium) stopped during the {} stage (killed by signal 9)"


def _exchange(url: str, **fields: object) -> Exchange:
    made = Exchange(
        key=url, url=url, method="GET", resource_type="Image", frame_id="f", started_at=_T0
    )
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def _derived(*failures: str) -> DerivedRecords:
    return DerivedRecords(None, (), PageRef("https://a.test/", None, None), (), None, failures)


def _swept(*losses: str) -> Swept:
    return Swept(stragglers=(), losses=losses, notes=())


def test_reasons_come_in_the_order_of_the_stages_that_found_them() -> None:
    found = [
        Loaded(None, navigation_error="net::ERR_ABORTED"),
        BehavioursDone((BehaviourResult("scroll-page", True),), browser_lost=LOST.format("x")),
        Cut(),
        _derived("screenshot view failed: x", "visible text failed: y"),
        AsSeenWritten(("as-seen dom changed after it was received",)),
        MediaResult(media.Preserved(reasons=["media: too big"])),
        _swept("1 request(s) still loading when ...", "not loaded: https://a.test/b"),
    ]
    assert reasons_of(("cookies were lost",), found) == [
        "cookies were lost",
        "navigation ended with an error: net::ERR_ABORTED",
        f"{LOST.format('x')}: what it had recorded until then is kept, the rest of the page "
        "is missing; the next capture starts a new browser",
        "screenshot view failed: x",
        "visible text failed: y",
        "as-seen dom changed after it was received",
        "media: too big",
        "1 request(s) still loading when ...",
        "not loaded: https://a.test/b",
    ]


def test_a_browser_found_gone_after_the_media_stage_is_named_after_the_media_reasons() -> None:
    found = [
        Loaded(True),
        BehavioursDone(()),
        Cut(),
        _derived(),
        MediaResult(media.Preserved(reasons=["media: cut"]), browser_lost=LOST.format("media")),
        _swept("body truncated: https://a.test/v"),
    ]
    reasons = reasons_of((), found)
    assert reasons[0] == "media: cut"
    assert reasons[1].startswith(LOST.format("media") + ": what it had recorded")
    assert reasons[2] == "body truncated: https://a.test/v"


def test_a_failure_states_what_the_stages_before_it_found() -> None:
    """The failure path makes its reasons from the stages that finished."""
    found = [Loaded(None, navigation_error="boom"), BehavioursDone(())]
    assert reasons_of(("a note",), found) == ["a note", "navigation ended with an error: boom"]
    assert reasons_of((), []) == []


def test_losses_at_sealing_name_what_the_capture_does_not_hold_in_order() -> None:
    cut = _exchange("https://a.test/cut", status=200, body=Payload(b"12345"))
    no_answer = _exchange("https://a.test/slow")
    straggler = _exchange("https://a.test/late", status=200)
    video = _exchange("https://a.test/v.mp4", status=206, body_state=BodyState.TRUNCATED)
    aborted = _exchange("https://a.test/aborted", error="net::ERR_ABORTED")
    refused = _exchange("https://a.test/gone.png", error="net::ERR_CONNECTION_REFUSED")
    truncated = _exchange(
        "https://a.test/big",
        status=200,
        body=Payload(b"x"),
        body_state=BodyState.TRUNCATED,
        body_note="body cut at 1 bytes: limit",
    )
    recorded = _exchange("https://a.test/file.pdf", status=200, body_state=BodyState.COMPLETE)
    exchanges = [cut, no_answer, straggler, video, aborted, refused, truncated, recorded]
    losses = losses_at_sealing(
        Cut((cut, no_answer, video), "the time budget of 5 s ran out"),
        [straggler],
        {"https://a.test/v.mp4"},
        exchanges,
        ["not loaded (not HTTP, refused by the browser): file:///etc/passwd (refused)"],
        [("https://a.test/file.pdf", "f.pdf"), ("https://a.test/x.zip", "x.zip")] * 2,
    )
    assert losses == [
        "2 request(s) still loading when the time budget of 5 s ran out, recorded as far "
        "as they had arrived: https://a.test/cut (body cut at 5 bytes), "
        "https://a.test/slow (no response yet)",
        "1 request(s) started while derived records were taken and were still loading at "
        "sealing: https://a.test/late",
        "not loaded: https://a.test/gone.png (net::ERR_CONNECTION_REFUSED)",
        "body truncated: https://a.test/big (body cut at 1 bytes: limit)",
        "not loaded (not HTTP, refused by the browser): file:///etc/passwd (refused)",
        "download refused and not recorded: https://a.test/x.zip (offered as 'x.zip'); "
        "captures never save downloads",
    ]


def test_items_are_the_images_then_the_preserved_media() -> None:
    image = _exchange("https://a.test/i.png", status=200, mime_type="image/png")
    image.body = Payload(b"png")
    headers_only = _exchange("https://a.test/j.png", status=304, mime_type="image/png")
    page = _exchange("https://a.test/", status=200, mime_type="text/html", body=Payload(b"<p>"))
    video = {"kind": "video", "url": "https://a.test/v.mp4"}
    items = items_of([image, headers_only, page], media.Preserved(items=[video]))
    assert [item["url"] for item in items] == ["https://a.test/i.png", "https://a.test/v.mp4"]
    assert items[0]["sha256"] == image.body.sha256 and items[0]["size"] == 3
    assert items[0]["warc_record_id"] == image.response_record_id
