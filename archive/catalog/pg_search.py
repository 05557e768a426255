"""The PostgreSQL catalog's text indexes: ``capture_text`` and ``analysis_text``, each row
with its words as a ``tsvector`` (GIN-indexed), written and searched here.

The words are FTS5's (:mod:`archive.catalog.pg_words`), so a search finds the same
rows as on SQLite. PostgreSQL picks the candidates with its index and ranks them
(``ts_rank``: the order of hits may differ from SQLite's bm25); FTS5, in memory, then
makes each snippet as the SQLite catalog does and, where PostgreSQL could only
approximate the query, drops a candidate FTS5 does not match.

Ranking reads each candidate's words, so it costs as much as there are matches: a word
in nearly every page of a million captures took a second (``make bench ONLY=catalog``).
Only the newest :data:`CANDIDATES` matches (by ``seq``, the order rows were written)
are ranked; a query that matches more gets the best of those, and is worth narrowing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from archive.catalog import pg_words
from archive.catalog.rows import AnalysisHit, SearchHit
from archive.catalog.session import Row, Session
from archive.catalog.visibility import Within

Hit = TypeVar("Hit")

#: Matches ranked at most, the newest first found: a bound on what one search costs.
CANDIDATES = 2000


def _ranked(columns: str, table: str, tiebreak: str, within: Within) -> str:
    """The newest :data:`CANDIDATES` rows of ``table`` matching the query (of the captures
    ``within`` names, if given: before the candidates are counted), best first
    (parameters: the tsquery, ``within``'s, the tsquery again, then LIMIT and OFFSET)."""
    only = f" AND capture_id IN ({within[0]})" if within is not None else ""
    return (
        f"SELECT {columns} FROM (SELECT {columns}, words FROM {table}"
        f" WHERE words @@ ?::tsquery{only} ORDER BY seq DESC LIMIT {CANDIDATES}) AS newest"
        f" ORDER BY ts_rank(words, ?::tsquery) DESC, {tiebreak}"
    )


class PgTextIndex:
    """Writes and searches ``capture_text`` and ``analysis_text`` (``tsvector``)."""

    def insert_page(self, conn: Session, capture_id: str, url: str, title: str, body: str) -> None:
        conn.execute(
            "INSERT INTO capture_text (capture_id, url, title, body, words)"
            " VALUES (?, ?, ?, ?, ?::tsvector)",
            (capture_id, url, title, body, pg_words.document(url, title, body)),
        )

    def insert_lines(
        self, conn: Session, capture_id: str, number: int, lines: Sequence[tuple[str, str, str]]
    ) -> None:
        """``lines``: (kind, place as JSON, folded text) of each line, in order."""
        conn.executemany(
            "INSERT INTO analysis_text (capture_id, number, line, kind, place, body, words)"
            " VALUES (?, ?, ?, ?, ?, ?, ?::tsvector)",
            [
                (capture_id, number, line, kind, place, body, pg_words.document(body))
                for line, (kind, place, body) in enumerate(lines, start=1)
            ],
        )

    def page_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[SearchHit]:
        def hit(row: Row, snippet: str) -> SearchHit:
            return SearchHit(row["capture_id"], row["url"], row["title"], snippet)

        return _hits(
            conn,
            query,
            limit,
            _ranked("capture_id, url, title, body", "capture_text", "capture_id", within),
            lambda row: (row["url"], row["title"], row["body"]),
            hit,
            within,
        )

    def line_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[AnalysisHit]:
        def hit(row: Row, snippet: str) -> AnalysisHit:
            place = dict(json.loads(row["place"]))
            return AnalysisHit(row["capture_id"], int(row["number"]), row["kind"], place, snippet)

        return _hits(
            conn,
            query,
            limit,
            _ranked(
                "capture_id, number, line, kind, place, body",
                "analysis_text",
                "capture_id, number, line",
                within,
            ),
            lambda row: (row["body"],),
            hit,
            within,
        )


def _hits(
    conn: Session,
    query: str,
    limit: int,
    sql: str,
    columns: Callable[[Row], tuple[str, ...]],
    hit: Callable[[Row, str], Hit],
    within: Within,
) -> list[Hit]:
    """Up to ``limit`` hits, best first: candidates a page at a time from PostgreSQL,
    each kept with its FTS5 snippet if FTS5 matches it too."""
    compiled = pg_words.compile_query(query)
    if compiled is None or limit <= 0:
        return []
    hits: list[Hit] = []
    offset = 0
    only = within[1] if within is not None else []
    while len(hits) < limit:
        params = (compiled.tsquery, *only, compiled.tsquery, limit, offset)
        rows = conn.execute(sql + " LIMIT ? OFFSET ?", params).fetchall()
        snippets = pg_words.snippets(query, [columns(row) for row in rows])
        hits.extend(hit(row, s) for row, s in zip(rows, snippets, strict=True) if s is not None)
        if compiled.exact or len(rows) < limit:
            break  # exact: FTS5 agreed with every candidate; or no more candidates
        offset += limit
    return hits[:limit]
