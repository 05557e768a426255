"""The SQLite catalog's text indexes: two FTS5 tables (each capture's visible text, and
the lines an analysis run read), written and searched here.

Their rows are folded (:func:`archive.catalog.words.fold`) before they arrive; a
search is a user's query as an FTS5 expression (:func:`~archive.catalog.words.
match_expression`), ranked by FTS5's bm25, with FTS5's own snippet of the match.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from archive.catalog.rows import SNIPPET_END, SNIPPET_START, AnalysisHit, SearchHit
from archive.catalog.session import Session
from archive.catalog.visibility import Within
from archive.catalog.words import match_expression


class SqliteTextIndex:
    """Writes and searches ``capture_text`` and ``analysis_text`` (FTS5)."""

    def insert_page(self, conn: Session, capture_id: str, url: str, title: str, body: str) -> None:
        conn.execute(
            "INSERT INTO capture_text (capture_id, url, title, body) VALUES (?, ?, ?, ?)",
            (capture_id, url, title, body),
        )

    def insert_lines(
        self, conn: Session, capture_id: str, number: int, lines: Sequence[tuple[str, str, str]]
    ) -> None:
        """``lines``: (kind, place as JSON, folded text) of each line."""
        conn.executemany(
            "INSERT INTO analysis_text (capture_id, number, kind, place, body)"
            " VALUES (?, ?, ?, ?, ?)",
            [(capture_id, number, kind, place, body) for kind, place, body in lines],
        )

    def page_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[SearchHit]:
        only, params = _only(within)
        rows = conn.execute(
            "SELECT capture_id, url, title,"
            " snippet(capture_text, 3, ?, ?, ' … ', 24) AS snippet"
            f" FROM capture_text WHERE capture_text MATCH ?{only} ORDER BY rank LIMIT ?",
            (SNIPPET_START, SNIPPET_END, match_expression(query), *params, limit),
        ).fetchall()
        return [
            SearchHit(row["capture_id"], row["url"], row["title"], row["snippet"]) for row in rows
        ]

    def line_hits(
        self, conn: Session, query: str, limit: int, within: Within = None
    ) -> list[AnalysisHit]:
        only, params = _only(within)
        rows = conn.execute(
            "SELECT capture_id, number, kind, place,"
            " snippet(analysis_text, 4, ?, ?, ' … ', 24) AS snippet"
            f" FROM analysis_text WHERE analysis_text MATCH ?{only} ORDER BY rank LIMIT ?",
            (SNIPPET_START, SNIPPET_END, match_expression(query), *params, limit),
        ).fetchall()
        return [
            AnalysisHit(
                row["capture_id"],
                int(row["number"]),
                row["kind"],
                dict(json.loads(row["place"])),
                row["snippet"],
            )
            for row in rows
        ]


def _only(within: Within) -> tuple[str, list[object]]:
    """The condition that keeps a search to the captures of ``within``, and its parameters."""
    if within is None:
        return "", []
    subquery, params = within
    return f" AND capture_id IN ({subquery})", params
