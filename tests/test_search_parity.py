"""Search finds the same things on SQLite and on PostgreSQL: the same rows indexed in
both, the same queries, the same hits with the same snippets (their order may differ:
bm25 on SQLite, ts_rank on PostgreSQL).

The rows are what page text and machine readings hold: Arabic with and without vowel
marks, Latin accents, URLs, e-mail addresses, numbers with dots, hyphenated words,
query syntax typed as words, scripts whose marks split words, and a long page whose
last words are past PostgreSQL's word positions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from archive.catalog import Catalog, SearchHit, TextLine, open_catalog
from archive.hashing import sha256_bytes

T = "2026-11-26T12:00:00.000000Z"
FILLER = " ".join(f"word{n % 997}" for n in range(20_000))

PAGES = {
    "en1": ("Convoy report", "Witnesses saw the convoy at the checkpoint."),
    "en2": ("", "The checkpoint was empty. Later a second convoy passed."),
    "ar1": ("تقرير", "قَصَفَت الطائرات مَدْرَسَة في الحيّ صباحاً"),
    "ar2": ("عاجل", "مدرسة الحي ٢٠٢٤ عاجل — الطــائرات"),
    "fr": ("Café", "Le café de la Résistance, déjà vu à Zürich; ŒUVRE complète"),
    "net": (
        "Press",
        "Contact press@example.org or call +1 555-0100; version 3.5.1 released by"
        " al-Jazeera, a well-known outlet (see news.example.org/2024/05/report).",
    ),
    "apart": ("", "An example of an org chart, and nothing else."),
    "long": ("Long page", FILLER + " the smoking gun was posted at example.org today"),
    "syntax": ("", 'He said "NOT" OR -maybe- (then) left: col:umn'),
    "scripts": ("", "हैलो वर्ल्ड 你好世界 🤦🏼 İstanbul straße"),
}
LINES = [
    TextLine("ocr", {"box": [1, 2, 3, 4]}, "حلب: نقطة تفتيش checkpoint 12"),
    TextLine("transcript", {"start": 1.5, "end": 3.0}, "the convoy is moving towards Aleppo"),
    TextLine("translation", {"segment": 2}, "le convoi avance vers Alep, déjà"),
    TextLine("ocr", {"box": [5, 6, 7, 8]}, "   "),  # blank: never indexed
]
QUERIES = [
    "checkpoint", "convoy checkpoint", "conv*", "CONVOY", "مدرسة", "مَدْرَسَة", "الطائرات",
    "٢٠٢٤", "حلب", "cafe", "CAFÉ", "zurich", "resistance", "oeuvre", "œuvre", "deja",
    "example", "example.org", "news.example", "exam*", "example.or*", "press@example.org",
    "3.5", "3.5.1", "555-0100", "al-jazeera", "jazeera", "well-known", "smoking gun",
    "gun example.org", "org", '"NOT"', "OR", "-maybe-", "(then)", "col:umn",
    'unbalanced "quote', "NEAR(", "हैलो", "ल", "你好世界", "istanbul", "strasse", "straße",
    "-", "- checkpoint", "tank", "مستشفى", "2024", "word996", "word1*", "aleppo alep",
]  # fmt: skip


def fill(cat: Catalog) -> None:
    """The same rows, written through the catalog's own methods."""
    for capture_id, (title, text) in PAGES.items():
        cat.start_capture(
            capture_id,
            f"https://news.test/{capture_id}",
            case=None,
            note=None,
            operator=None,
            started_at=T,
        )
        cat.finish_capture(
            capture_id,
            status="complete",
            reasons=[],
            final_url=None,
            finished_at=T,
            warc=None,
            manifest_sha256=None,
            artifacts=[],
        )
        cat.index_text(capture_id, url=f"https://news.test/{capture_id}", title=title, text=text)
    run, _ = cat.queue_analysis("en1", request={}, operator=None)
    cat.claim_analysis("en1", run.number, started_at=T)
    cat.finish_analysis(
        "en1",
        run.number,
        addendum_sha256=sha256_bytes(b"addendum"),
        finished_at=T,
        summary={},
        reasons=[],
        artifacts=[],
    )
    cat.index_analysis_text("en1", run.number, LINES)


def found(hits: list[SearchHit]) -> list[tuple[str, str, int | None, str, str]]:
    """Hits without their order: what was found, where, and the snippet shown."""
    return sorted(
        (h.capture_id, h.kind, h.number, json.dumps(h.place, sort_keys=True), h.snippet)
        for h in hits
    )


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str
) -> Iterator[tuple[Catalog, Catalog]]:
    from tests.pgcluster import create_database, drop_database

    url = create_database(postgres_server)
    path = tmp_path_factory.mktemp("parity") / "catalog.sqlite3"
    with open_catalog(f"sqlite://{path}") as sqlite, open_catalog(url) as postgres:
        fill(sqlite)
        fill(postgres)
        yield sqlite, postgres
    drop_database(postgres_server, url)


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_query_finds_the_same_hits_on_both(
    both: tuple[Catalog, Catalog], query: str
) -> None:
    sqlite, postgres = both
    assert found(postgres.search_text(query)) == found(sqlite.search_text(query))


def test_the_queries_find_what_they_should(both: tuple[Catalog, Catalog]) -> None:
    """The comparison above is not of empty lists: the rows answer these as they should."""
    _, postgres = both

    def ids(query: str) -> set[str]:
        return {f"{h.capture_id}/{h.kind}" for h in postgres.search_text(query)}

    assert ids("مدرسة") == ids("مَدْرَسَة") == {"ar1/page text", "ar2/page text"}
    assert ids("الطائرات") == {"ar1/page text", "ar2/page text"}  # tatweel folded away
    assert ids("cafe") == ids("CAFÉ") == {"fr/page text"}
    assert "net/page text" in ids("example") and "apart/page text" in ids("example")
    assert "apart/page text" not in ids("example.org")  # a phrase: side by side
    assert "long/page text" in ids("example.org")  # past PostgreSQL's positions
    assert ids("gun example.org") == {"long/page text"}
    assert ids("convoy") == {"en1/page text", "en2/page text", "en1/transcript"}
    assert ids("حلب") == {"en1/ocr"} and ids("alep") == {"en1/translation"}
    assert ids("tank") == set() and ids("-") == set() and ids("NEAR(") == set()
    [hit] = [h for h in postgres.search_text("conv*") if h.kind == "transcript"]
    assert hit.snippet == "the \x02convoy\x03 is moving towards Aleppo"
    assert hit.place == {"start": 1.5, "end": 3.0} and hit.url == "https://news.test/en1"
    [hit] = postgres.search_text("smoking gun")
    assert hit.snippet.startswith(" … ") and "\x02smoking\x03 \x02gun\x03" in hit.snippet


def test_a_common_word_ranks_only_the_newest_matches(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ranks the newest CANDIDATES matches of a query, not every one (a word
    in most of a million pages took a second to rank): with the bound at 3, a word in
    five pages finds the three written last, and a rare word is still found."""
    from archive.catalog import pg_search

    monkeypatch.setattr(pg_search, "CANDIDATES", 3)
    with open_catalog(postgres_url) as cat:
        for n in range(5):
            capture_id = f"page{n}"
            cat.start_capture(
                capture_id, f"https://news.test/{n}", case=None, note=None, operator=None,
                started_at=T,
            )  # fmt: skip
            text = "convoy " * (5 - n) + ("rare" if n == 0 else "")
            cat.index_text(capture_id, url=f"https://news.test/{n}", title="", text=text)
        pages = [h.capture_id for h in cat.search_text("convoy") if h.kind == "page text"]
        # newest three only, best ranked (most mentions) first
        assert pages == ["page2", "page3", "page4"]
        assert [h.capture_id for h in cat.search_text("rare")] == ["page0"]
