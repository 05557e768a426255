"""Full-text search: the two text indexes (each capture's visible text, and the lines an
analysis run read in it) and the one search over both.

Both indexes are written and read only here, through the same folding
(:func:`archive.catalog.words.fold`) and the same reading of a query, so a word typed
once finds it in page text, OCR, transcripts and translations alike. How an index is
stored and searched is the database's own (FTS5 on SQLite, ``tsvector`` on
PostgreSQL): the engine's ``text`` index (:mod:`archive.catalog.sqlite_search`,
:mod:`archive.catalog.pg_search`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import AnalysisHit, CaptureRow, SearchHit, TextLine, capture_row
from archive.catalog.shared import CAPTURE_SELECT, find_capture, require_analysis, require_capture
from archive.catalog.visibility import Visibility
from archive.catalog.words import fold, match_expression, query_words

__all__ = ["SearchTables", "fold", "match_expression"]


class SearchTables(CatalogConnection):
    """The catalog's text indexes and search. Part of :class:`archive.catalog.Catalog`."""

    def index_text(self, capture_id: str, *, url: str, title: str, text: str) -> None:
        """Make a sealed capture's visible text searchable (replacing any earlier entry)."""
        with self._write() as conn:
            require_capture(conn, capture_id, lock=True)
            conn.execute("DELETE FROM capture_text WHERE capture_id = ?", (capture_id,))
            self._engine.text.insert_page(conn, capture_id, url, fold(title), fold(text))

    def unindexed_captures(self) -> list[CaptureRow]:
        """Sealed captures whose text is not in the search index yet (older captures);
        a deleted capture's text was taken out on purpose."""
        with self._read() as conn:
            rows = conn.execute(
                CAPTURE_SELECT + " WHERE captures.status IN ('complete', 'partial')"
                " AND captures.deleted_at IS NULL"
                " AND captures.id NOT IN (SELECT capture_id FROM capture_text)"
                " ORDER BY captures.created_at"
            ).fetchall()
        return [capture_row(row) for row in rows]

    def index_analysis_text(self, capture_id: str, number: int, lines: Sequence[TextLine]) -> None:
        """Make a sealed run's readings searchable, line by line (replacing its earlier rows)."""
        with self._write() as conn:
            require_analysis(conn, capture_id, number, lock=True)
            conn.execute(
                "DELETE FROM analysis_text WHERE capture_id = ? AND number = ?",
                (capture_id, number),
            )
            rows = [
                (line.kind, json.dumps(line.place, ensure_ascii=False), fold(line.text))
                for line in lines
                if line.text.strip()
            ]
            self._engine.text.insert_lines(conn, capture_id, number, rows)

    def search_text(
        self, query: str, *, limit: int = 50, visible_to: Visibility | None = None
    ) -> list[SearchHit]:
        """Captures whose text, title or URL holds every word of ``query``, best first;
        then lines that OCR, transcripts or translations read in them, each with its place.
        Only captures ``visible_to`` one person when given: filtered in the query, so
        ``limit`` counts only what they may see.
        """
        if not query_words(query):
            return []
        within = visible_to.capture_ids() if visible_to is not None else None
        with self._read() as conn:
            hits = self._engine.text.page_hits(conn, query, limit, within)
        for line in self.search_analysis_text(query, limit=limit, visible_to=visible_to):
            with self._read() as conn:
                capture = find_capture(conn, line.capture_id)
            hits.append(
                SearchHit(
                    line.capture_id,
                    capture.url if capture else "",
                    "",
                    line.snippet,
                    kind=line.kind,
                    number=line.number,
                    place=line.place,
                )
            )
        return hits

    def search_analysis_text(
        self, query: str, *, limit: int, visible_to: Visibility | None = None
    ) -> list[AnalysisHit]:
        """Lines of machine-read text holding every word of ``query``, best first (only
        of captures ``visible_to`` one person when given)."""
        if not query_words(query):
            return []
        within = visible_to.capture_ids() if visible_to is not None else None
        with self._read() as conn:
            return self._engine.text.line_hits(conn, query, limit, within)
