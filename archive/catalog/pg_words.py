"""Words for PostgreSQL's text search, split and folded by SQLite's own FTS5 tokenizer.

PostgreSQL's parser does not split text as FTS5's ``unicode61`` does: it keeps
``example.org``, ``3.5`` or an e-mail address as one word and keeps Latin accents, so
a search for ``example`` or ``cafe`` would find a capture on SQLite and miss it on
PostgreSQL. So PostgreSQL never parses our text: the words of every document and
query are made here by FTS5 itself, in an in-memory SQLite database (SQLite is part of
Python), and handed to PostgreSQL as ready lexemes (a ``tsvector`` and a ``tsquery``
literal, which PostgreSQL takes as written, whatever its configuration or locale).

Where PostgreSQL's index can only approximate FTS5 (a word of several tokens, such
as ``example.org``, must be those tokens side by side; a token longer than a lexeme
may be), the query asks for a superset and :func:`snippets` checks each candidate
with FTS5 itself, which also makes the snippet exactly as the SQLite catalog does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from archive.catalog.rows import SNIPPET_END, SNIPPET_START
from archive.catalog.shared import CatalogError
from archive.catalog.words import TOKENIZE, match_expression, query_words

#: PostgreSQL keeps word positions up to this one; later occurrences are kept without.
MAX_POSITION = 16383
#: A lexeme's bytes in PostgreSQL are fewer than 2048; longer tokens are cut to this
#: (on both sides, so a cut token still finds itself; FTS5's check makes it exact).
MAX_LEXEME_BYTES = 2000
#: A tsvector is at most 1 MB; past this estimate positions are dropped, then refused.
MAX_TSVECTOR_BYTES = 1_000_000


@dataclass(frozen=True)
class Query:
    """A user's query for PostgreSQL: the ``tsquery`` literal, and whether its hits are
    exactly FTS5's (else each candidate is checked with FTS5)."""

    tsquery: str
    exact: bool


@contextmanager
def _fts5() -> Iterator[sqlite3.Connection]:
    """A fresh in-memory FTS5 database with the catalog's tokenizer: pages (url, title,
    body, as ``capture_text``), lines (body, as ``analysis_text``) and their words."""
    conn = sqlite3.connect(":memory:")
    try:
        for table, columns in (("pages", "url, title, body"), ("lines", "body")):
            conn.execute(
                f"CREATE VIRTUAL TABLE {table} USING fts5({columns}, tokenize = '{TOKENIZE}')"
            )
            conn.execute(f"CREATE VIRTUAL TABLE {table}_words USING fts5vocab({table}, instance)")
        yield conn
    finally:
        conn.close()


def tokens(texts: Sequence[str]) -> list[list[str]]:
    """Each text's tokens in order, as FTS5 indexes them (folded, lower case)."""
    found: list[list[str]] = [[] for _ in texts]
    with _fts5() as conn:
        conn.executemany("INSERT INTO lines (rowid, body) VALUES (?, ?)", enumerate(texts))
        rows = conn.execute("SELECT doc, term FROM lines_words ORDER BY doc, offset")
        for doc, term in rows:
            found[doc].append(term)
    return found


def document(*columns: str) -> str:
    """The ``tsvector`` literal of a row's columns (``url, title, body`` or a line's body).

    Positions run on from one column to the next; an occurrence past
    :data:`MAX_POSITION` is kept without its position (it still matches; ranking
    counts it less).
    """
    positions: dict[str, list[int]] = {}
    position = 0
    for words in tokens(columns):
        for word in words:
            position += 1
            seen = positions.setdefault(_lexeme(word), [])
            if position <= MAX_POSITION:
                seen.append(position)
    size = sum(len(word.encode()) + 4 + 2 * len(at) + 2 for word, at in positions.items())
    keep_positions = size <= MAX_TSVECTOR_BYTES
    if not keep_positions:
        size = sum(len(word.encode()) + 4 for word in positions)
        if size > MAX_TSVECTOR_BYTES:
            raise CatalogError(
                f"this text has {len(positions)} distinct words ({size} bytes), more than a"
                " PostgreSQL text index holds (1 MB): it is not searchable on PostgreSQL"
            )
    return " ".join(
        _quoted(word) + (":" + ",".join(map(str, at)) if at and keep_positions else "")
        for word, at in positions.items()
    )


def compile_query(query: str) -> Query | None:
    """The user's words as a ``tsquery`` literal: every word must appear (``None`` when
    no word has a token, which FTS5 also finds nothing for)."""
    words = query_words(query)
    parts, exact = [], True
    for (_, prefix), found in zip(words, tokens([w for w, _ in words]), strict=True):
        if not found:
            continue  # FTS5 drops a phrase with no token in it
        lexemes = [_lexeme(token) for token in found]
        exact = exact and len(found) == 1 and lexemes == found
        quoted = [_quoted(lexeme) for lexeme in lexemes]
        if prefix:
            quoted[-1] += ":*"
        parts.append(quoted[0] if len(quoted) == 1 else "(" + " & ".join(quoted) + ")")
    if not parts:
        return None
    return Query(" & ".join(parts), exact)


def snippets(query: str, rows: Sequence[Sequence[str]]) -> list[str | None]:
    """FTS5's snippet of each row for ``query``, or ``None`` for a row FTS5 does not match.

    ``rows`` are pages (``url, title, body``) or lines (``body``): the snippet is of
    the body, with the SQLite catalog's marks, ellipsis and length.
    """
    if not rows:
        return []
    pages = len(rows[0]) == 3
    table, body = ("pages", 2) if pages else ("lines", 0)
    found: list[str | None] = [None] * len(rows)
    with _fts5() as conn:
        marks = ", ".join("?" for _ in rows[0])
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", [tuple(row) for row in rows])
        matched = conn.execute(
            f"SELECT rowid, snippet({table}, {body}, ?, ?, ' … ', 24) FROM {table}"
            f" WHERE {table} MATCH ?",
            (SNIPPET_START, SNIPPET_END, match_expression(query)),
        )
        for rowid, snippet in matched:
            found[rowid - 1] = snippet
    return found


def _lexeme(token: str) -> str:
    """A token as a PostgreSQL lexeme: cut (at a character) to :data:`MAX_LEXEME_BYTES`."""
    if len(token.encode()) <= MAX_LEXEME_BYTES:
        return token
    return token.encode()[:MAX_LEXEME_BYTES].decode(errors="ignore")


def _quoted(lexeme: str) -> str:
    """A lexeme in ``tsvector``/``tsquery`` syntax: quoted, its quotes and backslashes doubled."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
