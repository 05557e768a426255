"""Full-text search: the two FTS5 indexes (each capture's visible text, and the lines an
analysis run read in it) and the one search over both.

Both indexes are written and read only here, through the same folding (:func:`fold`)
and the same query building (:func:`match_expression`), so a word typed once finds
it in page text, OCR, transcripts and translations alike.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import (
    SNIPPET_END,
    SNIPPET_START,
    AnalysisHit,
    CaptureRow,
    SearchHit,
    TextLine,
    capture_row,
)
from archive.catalog.shared import CAPTURE_SELECT, find_capture, require_analysis, require_capture

#: Arabic vowel marks (harakat, shadda, sukun, dagger alif) and the tatweel: a word
#: is found whether or not it was written with them.
_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])


def fold(text: str) -> str:
    """Text as indexed and as searched: NFKC, Arabic marks and tatweel removed."""
    return unicodedata.normalize("NFKC", text).translate(_ARABIC_MARKS)


def match_expression(query: str) -> str:
    """A user's words as an FTS5 query: every word must appear, syntax never interpreted.

    Each word becomes a quoted string, so ``-``, ``*``, ``OR`` or a stray quote in
    what an investigator typed are searched for, not parsed. A trailing ``*`` is kept
    as a prefix search, the one operator worth offering.
    """
    terms = []
    for word in fold(query).split():
        prefix = word.endswith("*") and len(word) > 1
        word = word.rstrip("*") if prefix else word
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


class SearchTables(CatalogConnection):
    """The catalog's text indexes and search. Part of :class:`archive.catalog.Catalog`."""

    def index_text(self, capture_id: str, *, url: str, title: str, text: str) -> None:
        """Make a sealed capture's visible text searchable (replacing any earlier entry)."""
        with self._write() as conn:
            require_capture(conn, capture_id)
            conn.execute("DELETE FROM capture_text WHERE capture_id = ?", (capture_id,))
            conn.execute(
                "INSERT INTO capture_text (capture_id, url, title, body) VALUES (?, ?, ?, ?)",
                (capture_id, url, fold(title), fold(text)),
            )

    def unindexed_captures(self) -> list[CaptureRow]:
        """Sealed captures whose text is not in the search index yet (older captures)."""
        with self._read() as conn:
            rows = conn.execute(
                CAPTURE_SELECT + " WHERE captures.status IN ('complete', 'partial')"
                " AND captures.id NOT IN (SELECT capture_id FROM capture_text)"
                " ORDER BY captures.created_at"
            ).fetchall()
        return [capture_row(row) for row in rows]

    def index_analysis_text(self, capture_id: str, number: int, lines: Sequence[TextLine]) -> None:
        """Make a sealed run's readings searchable, line by line (replacing its earlier rows)."""
        with self._write() as conn:
            require_analysis(conn, capture_id, number)
            conn.execute(
                "DELETE FROM analysis_text WHERE capture_id = ? AND number = ?",
                (capture_id, number),
            )
            conn.executemany(
                "INSERT INTO analysis_text (capture_id, number, kind, place, body)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        capture_id,
                        number,
                        line.kind,
                        json.dumps(line.place, ensure_ascii=False),
                        fold(line.text),
                    )
                    for line in lines
                    if line.text.strip()
                ],
            )

    def search_text(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Captures whose text, title or URL holds every word of ``query``, best first;
        then lines that OCR, transcripts or translations read in them, each with its place.
        """
        expression = match_expression(query)
        if not expression:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT capture_id, url, title,"
                " snippet(capture_text, 3, ?, ?, ' … ', 24) AS snippet"
                " FROM capture_text WHERE capture_text MATCH ? ORDER BY rank LIMIT ?",
                (SNIPPET_START, SNIPPET_END, expression, limit),
            ).fetchall()
        hits = [
            SearchHit(row["capture_id"], row["url"], row["title"], row["snippet"]) for row in rows
        ]
        for line in self.search_analysis_text(expression, limit=limit):
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

    def search_analysis_text(self, expression: str, *, limit: int) -> list[AnalysisHit]:
        """Lines of machine-read text matching an FTS5 ``expression`` (see
        :func:`match_expression`), best first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT capture_id, number, kind, place,"
                " snippet(analysis_text, 4, ?, ?, ' … ', 24) AS snippet"
                " FROM analysis_text WHERE analysis_text MATCH ? ORDER BY rank LIMIT ?",
                (SNIPPET_START, SNIPPET_END, expression, limit),
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
