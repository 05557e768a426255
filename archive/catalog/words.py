"""What the text indexes hold and what a search asks for, the same on every database:
text folded one way (:func:`fold`), a user's query read one way (:func:`match_expression`).

Words are split and folded by SQLite FTS5's ``unicode61`` tokenizer with
``remove_diacritics 2`` (:data:`TOKENIZE`): in the SQLite catalog's FTS5 tables, and,
for the PostgreSQL catalog, in memory (:mod:`archive.catalog.pg_words`), so a word
typed once finds the same captures on either database.
"""

from __future__ import annotations

import unicodedata

#: The FTS5 tokenizer of every text index (migrations 6 and 7 of the SQLite schema).
TOKENIZE = "unicode61 remove_diacritics 2"

#: Arabic vowel marks (harakat, shadda, sukun, dagger alif) and the tatweel: a word
#: is found whether or not it was written with them.
_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])


def fold(text: str) -> str:
    """Text as indexed and as searched: NFKC, Arabic marks and tatweel removed."""
    return unicodedata.normalize("NFKC", text).translate(_ARABIC_MARKS)


def query_words(query: str) -> list[tuple[str, bool]]:
    """A user's words, folded, each with whether it ends in ``*`` (a prefix search)."""
    words = []
    for word in fold(query).split():
        prefix = word.endswith("*") and len(word) > 1
        words.append((word.rstrip("*") if prefix else word, prefix))
    return words


def match_expression(query: str) -> str:
    """A user's words as an FTS5 query: every word must appear, syntax never interpreted.

    Each word becomes a quoted string, so ``-``, ``*``, ``OR`` or a stray quote in
    what an investigator typed are searched for, not parsed. A trailing ``*`` is kept
    as a prefix search, the one operator worth offering.
    """
    return " ".join(
        '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")
        for word, prefix in query_words(query)
    )
