"""The test site itself, checked with a plain HTTP client and no browser.

The capture tests trust this site to behave in a precise way (markers only
where stated, bytes exactly as declared, endless responses really endless);
if it did not, a capture test could pass or fail for the wrong reason.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.site import (
    ARABIC_TEXT,
    FEED_MARKER,
    GZIP_PAGE_BODY,
    STATIC,
    TestSite,
    big_body_sha256,
    big_chunks,
)

#: No default total timeout: the endless responses are bounded by each test itself.
NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # Raw bodies: the site's own Content-Encoding must reach the test untouched.
    async with aiohttp.ClientSession(auto_decompress=False, timeout=NO_TIMEOUT) as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], bytes]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, dict(response.headers), await response.read()


async def test_redirect_chain_hops_one_status_at_a_time(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    hops = []
    path = "/redirect/1"
    while True:
        status, headers, body = await get(http, site.url(path))
        hops.append((path, status, headers.get("Location")))
        if "Location" not in headers:
            break
        path = headers["Location"]
    assert hops == [
        ("/redirect/1", 302, "/redirect/2"),
        ("/redirect/2", 301, "/redirect/3"),
        ("/redirect/3", 307, "/final"),
        ("/final", 200, None),
    ]
    assert b"REDIRECT-FINAL-MARKER" in body and b"<title>Final</title>" in body
    # A 301 cached by the shared browser would hide the hop from later captures.
    assert headers["Cache-Control"] == "no-store"


async def test_gzip_page_is_compressed_by_the_site_with_its_compressed_length(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    status, headers, raw = await get(http, site.url("/gzip"))
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(raw) < len(GZIP_PAGE_BODY)
    assert gzip.decompress(raw) == GZIP_PAGE_BODY
    assert len(GZIP_PAGE_BODY) > 3000 and b"GZIP-PAGE-MARKER" in GZIP_PAGE_BODY


async def test_arabic_page_is_windows_1256_on_the_wire(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    status, headers, raw = await get(http, site.url("/arabic"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=windows-1256"
    assert b'<meta charset="windows-1256">' in raw
    assert ARABIC_TEXT.encode("utf-8") not in raw
    text = raw.decode("windows-1256")
    assert ARABIC_TEXT in text and "<title>صفحة عربية</title>" in text


async def test_big_bin_streams_exactly_the_generated_bytes() -> None:
    size = 3 * 1024 * 1024 + 12345  # a partial last chunk too
    async with (
        TestSite(big_size=size) as own,
        aiohttp.ClientSession(timeout=NO_TIMEOUT) as http,
        http.get(own.url("/big.bin")) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Length"] == str(size)
        digest = hashlib.sha256()
        received = 0
        async for piece in response.content.iter_chunked(64 * 1024):
            digest.update(piece)
            received += len(piece)
    assert received == size
    assert digest.hexdigest() == big_body_sha256(size)
    assert sum(len(piece) for piece in big_chunks(size)) == size
    assert own.hits["/big.bin"] == 1


async def test_hang_sends_headers_and_first_bytes_then_never_ends(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    async with http.get(site.url("/hang")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        first = await asyncio.wait_for(response.content.readany(), 2)
        assert first == b"\x89PNG\r\n\x1a\n"
        trickle = await asyncio.wait_for(response.content.readany(), 3)
        assert trickle == b"\x00"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(response.content.read(), 2.5)
        assert not response.content.at_eof()


async def test_slow_document_starts_and_never_ends(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    async with http.get(site.url("/slow-document")) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        first = await asyncio.wait_for(response.content.readany(), 2)
        assert b"SLOW-DOC-FIRST-PART" in first
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(response.content.read(), 1.5)


async def test_stop_cuts_endless_responses_instead_of_waiting_for_them() -> None:
    own = TestSite()
    await own.start()
    async with aiohttp.ClientSession(timeout=NO_TIMEOUT) as http:
        hang = await http.get(own.url("/hang"))
        slow = await http.get(own.url("/slow-document"))
        await asyncio.wait_for(hang.content.readany(), 2)
        await asyncio.wait_for(slow.content.readany(), 2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(own.stop(), 10)
        assert loop.time() - started < 1.5
        # The connection is dropped, not the body ended: a client sees it was cut.
        for response in (hang, slow):
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(response.content.read(), 2)
            response.release()


async def test_feed_marker_is_only_in_the_third_batch(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    _, _, page = await get(http, site.url("/feed"))
    assert FEED_MARKER.encode() not in page
    assert page.count(b'<div class=item style="height:400px">feed item ') == 10
    assert b"/feed/batch?n=" in page
    batches = {}
    for n in (1, 2, 3):
        status, headers, body = await get(http, site.url(f"/feed/batch?n={n}"))
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        batches[n] = json.loads(body)["items"]
        assert len(batches[n]) == 10
    assert not any(FEED_MARKER in item for item in batches[1] + batches[2])
    assert all(FEED_MARKER in item for item in batches[3])
    assert batches[3][0] == f"feed item 21 {FEED_MARKER}"
    status, _, _ = await get(http, site.url("/feed/batch?n=4"))
    assert status == 404


async def test_rich_page_markers_come_only_from_where_they_should(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    status, headers, page = await get(http, site.url("/rich"))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"RICH-PAGE-MARKER" in page and b"<title>Rich page</title>" in page
    # Only the script and the fetch it makes can put these into the page.
    assert b"INJECTED-BY-SCRIPT" not in page and b"XHR-PAYLOAD-MARKER" not in page
    _, _, script = await get(http, site.url("/static/app.js"))
    assert b"INJECTED-BY-SCRIPT" in script and b"XHR-PAYLOAD-MARKER" not in script
    _, _, data = await get(http, site.url("/api/data.json"))
    assert json.loads(data) == {"message": "XHR-PAYLOAD-MARKER"}
    _, _, frame = await get(http, site.url("/frame"))
    assert b"IFRAME-CONTENT-MARKER" in frame and b"/static/frame.png" in frame
    for reference in (
        b'href="/static/style.css"',
        b'src="/static/app.js"',
        b'src="/frame"',
        b"/static/small.png 1x, /static/large.png 2x",
        b'loading="lazy" src="/static/lazy.png"',
    ):
        assert reference in page


async def test_static_images_are_valid_pngs_of_distinct_colours(
    site: TestSite, http: aiohttp.ClientSession
) -> None:
    colours = set()
    for name, (content_type, body) in STATIC.items():
        status, headers, served = await get(http, site.url(f"/static/{name}"))
        assert status == 200 and served == body
        assert headers["Content-Type"] == content_type
        if content_type == "image/png":
            assert served[:8] == b"\x89PNG\r\n\x1a\n" and served.endswith(b"IEND\xaeB`\x82")
            idat = served.index(b"IDAT")
            length = int.from_bytes(served[idat - 4 : idat], "big")
            pixels = zlib.decompress(served[idat + 4 : idat + 4 + length])
            colours.add(pixels[1:4])
    assert len(colours) == 5
    _, _, css = await get(http, site.url("/static/style.css"))
    assert b'url("/static/bg.png")' in css and b'url("/static/font.woff2")' in css
    status, _, _ = await get(http, site.url("/static/nothing.png"))
    assert status == 404


async def test_statuses_missing_and_hits(site: TestSite, http: aiohttp.ClientSession) -> None:
    before = site.hits["/status/503"]
    status, _, body = await get(http, site.url("/status/503?x=1"))
    assert status == 503 and b"STATUS-503" in body
    assert site.hits["/status/503"] == before + 1
    status, _, body = await get(http, site.url("/missing"))
    assert status == 404 and b"NOT-FOUND-MARKER" in body
    status, _, _ = await get(http, site.url("/no/such/page"))
    assert status == 404
    _, _, index = await get(http, site.url("/"))
    assert b"<title>Test site index</title>" in index
    for path in ("/rich", "/feed", "/redirect/1", "/gzip", "/arabic", "/never-finishes", "/big"):
        assert f'href="{path}"'.encode() in index
    _, _, page = await get(http, site.url("/never-finishes"))
    assert b"NEVER-FINISHES-MARKER" in page and b'src="/hang"' in page
    _, _, big = await get(http, site.url("/big"))
    assert b'href="/big.bin"' in big and b'img src="/big.bin"' in big
