"""Comparing captures of a page that changes: real captures in the real browser.

Every snapshot here is read back from sealed files that ``capture_page`` wrote
while ``tests/changing.py`` served the page one way or another. The comparison
is pure, so one set of captures answers several questions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.manifest import MANIFEST_NAME
from archive.watch.compare import Comparison, compare
from archive.watch.screenshots import SCREENSHOT_THRESHOLD
from archive.watch.snapshot import Snapshot, SnapshotError
from capture.browser import Browser
from capture.requests import CaptureRequest
from tests.archives import capture_into
from tests.changing import ChangingPage
from tests.videos import BITEXACT, H264, SOURCES

FIRST = "The first version of the post."
SECOND = "The second version of the post, with a sentence that was not there before."
LONG = " ".join(
    f"Sentence {n} of a much longer post that makes the page taller." for n in range(200)
)
BLUE, ORANGE = (0, 0, 255), (255, 140, 0)


async def snapshot(page: ChangingPage, browser: Browser, data: Path) -> Snapshot:
    """Capture ``/watched`` as it is now and read the sealed capture back."""
    manifest = await capture_into(CaptureRequest(page.url(), timeout=45), data, browser=browser)
    return Snapshot.load(data, manifest.id)


def checked(result: Comparison) -> Comparison:
    """Every comparison must be storable as a timeline event (JSON)."""
    json.dumps(result.details)
    assert result.summary.endswith(".") and "\n" not in result.summary
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare-data")


@pytest.fixture(scope="module")
async def versions(browser: Browser, data: Path) -> AsyncIterator[dict[str, Snapshot]]:
    """The page as first shown, again unchanged, reworded, recoloured and lengthened."""
    found = {}
    async with ChangingPage() as page:
        page.show(FIRST, colour=BLUE)
        found["first"] = await snapshot(page, browser, data)
        found["again"] = await snapshot(page, browser, data)
        page.show(SECOND, colour=BLUE)
        found["reworded"] = await snapshot(page, browser, data)
        page.show(SECOND, colour=ORANGE)
        found["recoloured"] = await snapshot(page, browser, data)
        page.show(LONG, colour=ORANGE)
        found["long"] = await snapshot(page, browser, data)
    yield found


@pytest.fixture(scope="module")
async def takedowns(browser: Browser, data: Path) -> AsyncIterator[dict[str, Snapshot]]:
    """The page up, then taken down in each way sites do it, then back up."""
    found = {}
    async with ChangingPage() as page:
        page.show(FIRST)
        found["up"] = await snapshot(page, browser, data)
        for how in ("404", "410", "451", "login", "unavailable"):
            page.take_down(how)
            found[how] = await snapshot(page, browser, data)
        page.show(FIRST)
        found["back"] = await snapshot(page, browser, data)
    yield found


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A one-second MP4 made with ffmpeg (same flags as the media tests)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *SOURCES, "-t", "1", *H264, *BITEXACT, str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


async def test_first_capture_and_the_same_page_twice(versions: dict[str, Snapshot]) -> None:
    first, again = versions["first"], versions["again"]
    assert first.capture_id != again.capture_id and first.http_status == 200
    assert FIRST in first.text and first.title == "Watched post"
    assert first.screenshot is not None and first.screenshot.is_file()
    assert list(first.images.values()) == [first.url.replace("/watched", "/picture.png")]

    opening = checked(compare(None, first))
    assert opening.kind == "first" and opening.details["availability"]["after"]["available"]

    same = checked(compare(first, again))
    assert same.kind == "unchanged", same.summary
    assert same.details["screenshot"]["distance"] < SCREENSHOT_THRESHOLD
    assert same.details["screenshot"]["changed"] is False
    assert not same.details["text"]["changed"] and same.details["text"]["diff"] == ""
    assert not same.details["images"]["changed"] and not same.details["media"]["changed"]


async def test_new_text_is_a_change_with_its_diff(versions: dict[str, Snapshot]) -> None:
    result = checked(compare(versions["again"], versions["reworded"], previous_kind="unchanged"))
    assert result.kind == "changed"
    text = result.details["text"]
    assert text["changed"] and text["added"] == 1 and text["removed"] == 1
    assert f"+{SECOND}" in text["diff"].splitlines()
    assert f"-{FIRST}" in text["diff"].splitlines()
    assert result.summary.startswith("Text changed (1 line added, 1 removed)")
    # The same picture, so only the text's region of the screenshot moved.
    assert not result.details["images"]["changed"]
    _, top, _, bottom = result.details["screenshot"]["changed_area"]
    assert top < 200 and bottom <= 256


async def test_a_recoloured_picture_changes_the_screenshot(versions: dict[str, Snapshot]) -> None:
    result = checked(compare(versions["reworded"], versions["recoloured"]))
    assert result.kind == "changed"
    shot = result.details["screenshot"]
    assert shot["changed"] is True and shot["distance"] > SCREENSHOT_THRESHOLD, shot
    assert not result.details["text"]["changed"]
    images = result.details["images"]
    assert len(images["added"]) == 1 and len(images["removed"]) == 1
    assert images["added"][0]["sha256"] == next(iter(versions["recoloured"].images))
    assert result.summary.startswith("Screenshot changed; images changed")


async def test_screenshots_of_different_heights(versions: dict[str, Snapshot]) -> None:
    result = checked(compare(versions["recoloured"], versions["long"]))
    shot = result.details["screenshot"]
    assert shot["size_before"][1] < shot["size_after"][1], shot
    assert shot["size_before"][0] == shot["size_after"][0]
    assert shot["changed"] is True and result.kind == "changed"
    # Same text twice, compared the other way round: the taller image is the first.
    assert checked(compare(versions["long"], versions["long"])).kind == "unchanged"
    reverse = checked(compare(versions["long"], versions["recoloured"]))
    assert reverse.details["screenshot"]["changed"] is True


@pytest.mark.parametrize(
    ("how", "signal", "words"),
    [
        ("404", "status", "HTTP 200 -> 404 (not found)"),
        ("410", "status", "HTTP 200 -> 410 (gone)"),
        ("451", "status", "HTTP 200 -> 451 (unavailable for legal reasons)"),
        ("login", "login", "redirected to a login page"),
        ("unavailable", "unavailable", "content isn't available"),
    ],
)
async def test_each_takedown_and_its_restoration(
    takedowns: dict[str, Snapshot], how: str, signal: str, words: str
) -> None:
    up, down, back = takedowns["up"], takedowns[how], takedowns["back"]
    result = checked(compare(up, down, previous_kind="first"))
    assert result.kind == "takedown", result.summary
    signals = result.details["availability"]["signals"]
    assert signal in [s["kind"] for s in signals], signals
    assert result.summary.startswith("Taken down: ") and words in result.summary
    assert result.details["availability"]["before"]["available"] is True
    assert result.details["availability"]["after"]["available"] is False
    if how == "login":
        hops = result.details["availability"]["after"]["redirects"]
        assert [hop["status"] for hop in hops] == [302, 200]
        assert hops[-1]["url"].endswith("/login?next=/watched")

    restored = checked(compare(down, back, previous_kind="takedown"))
    assert restored.kind == "restored" and restored.summary.startswith("Restored: ")
    assert restored.details["availability"]["after"]["available"] is True


async def test_still_down_is_not_a_new_takedown(takedowns: dict[str, Snapshot]) -> None:
    result = checked(compare(takedowns["404"], takedowns["410"], previous_kind="takedown"))
    assert result.kind not in ("takedown", "restored"), result.summary
    assert result.summary.startswith("Still unavailable: HTTP 410 (gone)")
    # Back, but with nothing different from the page before the takedown.
    assert checked(compare(takedowns["up"], takedowns["back"])).kind == "unchanged"


async def test_media_gone_is_a_takedown_and_back_is_restored(
    browser: Browser, data: Path, clip: bytes
) -> None:
    async with ChangingPage() as page:
        page.show(FIRST, video=clip)
        with_video = await snapshot(page, browser, data)
        page.show(FIRST)
        without = await snapshot(page, browser, data)
        page.show(FIRST, video=clip)
        again = await snapshot(page, browser, data)
    assert len(with_video.media) == 1, with_video
    assert next(iter(with_video.media.values())).endswith("/clip.mp4")
    assert without.media == {} and without.http_status == 200

    gone = checked(compare(with_video, without, previous_kind="first"))
    assert gone.kind == "takedown"
    assert [s["kind"] for s in gone.details["availability"]["signals"]] == ["media"]
    assert gone.details["media"]["removed"][0]["sha256"] == next(iter(with_video.media))
    assert "media is gone (1 file before, none now)" in gone.summary

    # Still without media after the takedown: not restored, not a new takedown.
    still = checked(compare(without, without, previous_kind="takedown"))
    assert still.kind == "unchanged" and "media is still gone" in still.summary

    restored = checked(compare(without, again, previous_kind="takedown"))
    assert restored.kind == "restored" and "media is back (1 file)" in restored.summary
    assert restored.details["media"]["added"][0]["sha256"] == next(iter(with_video.media))


async def test_whitespace_alone_is_not_a_text_change(
    versions: dict[str, Snapshot],
) -> None:
    base = versions["first"]
    spaced_text = "\n\n  " + base.text.replace(" ", "   ").replace("\n", "\n \t\n") + "  \n"
    spaced = dataclasses.replace(base, text=spaced_text)
    result = checked(compare(base, spaced))
    assert result.kind == "unchanged" and not result.details["text"]["changed"]


async def test_loading_errors_name_the_capture_and_the_file(
    versions: dict[str, Snapshot], data: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        SnapshotError, match=rf"capture no-such-capture: {MANIFEST_NAME} is missing"
    ):
        Snapshot.load(data, "no-such-capture")
    with pytest.raises(SnapshotError, match="cannot name a capture directory"):
        Snapshot.load(data, "../captures")

    original = versions["first"].capture_id
    # A copy of the data directory, where files can be changed behind the seal.
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    capture_dir = copy / "captures" / original
    manifest_path = capture_dir / MANIFEST_NAME
    os.chmod(manifest_path, 0o644)
    manifest_path.write_bytes(manifest_path.read_bytes().replace(b'"Watched post"', b'"Edited"'))
    with pytest.raises(SnapshotError, match=rf"capture {original}: {MANIFEST_NAME} has SHA-256"):
        Snapshot.load(copy, original)

    # Without a catalog only the files vouch: a changed screenshot is caught by the manifest.
    bare = tmp_path / "bare"
    shutil.copytree(data / "captures" / original, bare / "captures" / original)
    Snapshot.load(bare, original)
    shot = bare / "captures" / original / "screenshot.png"
    os.chmod(shot, 0o644)
    with open(shot, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(SnapshotError, match=rf"capture {original}: screenshot.png has SHA-256"):
        Snapshot.load(bare, original)
    shot.unlink()
    with pytest.raises(SnapshotError, match=r"screenshot.png is listed .* but missing"):
        Snapshot.load(bare, original)

    # A capture the catalog does not know is not read as if it were one of its own.
    stranger = tmp_path / "stranger"
    shutil.copytree(data / "captures" / original, stranger / "captures" / original)
    Catalog.open(stranger / "catalog.sqlite3").close()
    with pytest.raises(SnapshotError, match="has no such capture"):
        Snapshot.load(stranger, original)

    # The WARC gone: named.
    warc = next(capture_dir.glob("*.warc.gz"))
    os.chmod(manifest_path, 0o644)
    warc.unlink()
    shutil.copy(data / "captures" / original / MANIFEST_NAME, manifest_path)
    with pytest.raises(SnapshotError, match=rf"its WARC {warc.name} is missing"):
        Snapshot.load(copy, original)


async def test_signs_of_a_takedown_in_other_words_and_addresses(
    versions: dict[str, Snapshot],
) -> None:
    """The phrase list and the login rule on a real snapshot with other words in it."""
    base = versions["first"]
    says = [
        "Sorry, this page isn\u2019t available.",  # a curly apostrophe
        "Ce contenu n'est plus disponible",
        "Este contenido no está disponible en tu país",
        "Видео недоступно",
        "هذا المحتوى غَيْر مُتاح",  # with vowel marks
    ]
    for text in says:
        down = dataclasses.replace(base, text=text, title="")
        result = checked(compare(base, down))
        assert result.kind == "takedown", (text, result.summary)
        assert [s["kind"] for s in result.details["availability"]["signals"]] == ["unavailable"]
    # A phrase the page already carried is no news.
    quoting = dataclasses.replace(base, text=base.text + "\nThe video is unavailable, they say.")
    assert checked(compare(quoting, quoting)).kind == "unchanged"

    for address in (
        "https://www.instagram.com/accounts/login/?next=/p/abc/",
        "https://www.facebook.com/login.php?next=x",
        "https://www.linkedin.com/authwall?trk=x",
        "https://accounts.google.com/ServiceLogin?continue=x",
        "https://login.example.org/",
    ):
        walled = dataclasses.replace(base, final_url=address)
        result = checked(compare(base, walled))
        assert result.kind == "takedown" and "login page" in result.summary, address
    for address in ("https://example.org/authors/ana", "https://example.org/blog/post"):
        moved = dataclasses.replace(base, final_url=address)
        assert checked(compare(base, moved)).kind == "unchanged", address
    # Watching a login page itself is not a takedown.
    login_page = dataclasses.replace(base, url="https://example.org/login", final_url=None)
    assert checked(compare(login_page, login_page)).kind == "unchanged"
