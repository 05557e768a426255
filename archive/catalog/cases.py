"""Cases: the names investigators file captures and targets under, and the rule for them.

A case is created the first time a capture, a queued request or a target names it, so
the rule is checked here once and by every concern that takes a case name.
"""

from __future__ import annotations

import unicodedata

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import CaseRow
from archive.catalog.shared import ensure_case_row
from archive.errors import BadInput

CASE_NAME_MAX = 100
_CASE_NAME_PUNCTUATION = frozenset("-_. ")
_CASE_NAME_RULE = (
    f"a case name is 1-{CASE_NAME_MAX} characters: letters, digits, '-', '_', '.' or space,"
    " not starting or ending with a space"
)


class BadCaseName(BadInput):
    """A case name the catalog refuses; the message names the rule it breaks.

    Its own type (not a ``ValueError``), so callers catch exactly this and never an
    unrelated ``ValueError`` raised on the way.
    """


def validate_case_name(name: str) -> str:
    """Return ``name`` in Unicode NFC, or raise :class:`BadCaseName` naming the rule.

    NFC so that the same name typed on two keyboards is one case. Letters and
    digits of any script are allowed, with their combining marks (Arabic vowel
    marks, Devanagari vowel signs); invisible format characters such as bidi
    overrides are not, since they make two different names look alike.
    """
    if not isinstance(name, str):
        raise BadCaseName(f"{_CASE_NAME_RULE}; got {type(name).__name__}")
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= CASE_NAME_MAX:
        raise BadCaseName(f"{_CASE_NAME_RULE}; got {len(name)} characters")
    for char in name:
        category = unicodedata.category(char)
        if not (char in _CASE_NAME_PUNCTUATION or category[0] in ("L", "M") or category == "Nd"):
            raise BadCaseName(f"{_CASE_NAME_RULE}; {char!r} (U+{ord(char):04X}) is not allowed")
    if name[0] == " " or name[-1] == " ":
        raise BadCaseName(f"{_CASE_NAME_RULE}; got {name!r}")
    return name


class CaseTables(CatalogConnection):
    """Cases in the catalog. Part of :class:`archive.catalog.Catalog`."""

    def ensure_case(self, name: str) -> CaseRow:
        """The case called ``name``, created now if it does not exist yet."""
        name = validate_case_name(name)
        with self._write() as conn:
            return ensure_case_row(conn, name)

    def list_cases(self) -> list[CaseRow]:
        """Every case, by name."""
        with self._read() as conn:
            rows = conn.execute("SELECT id, name, created_at FROM cases ORDER BY name").fetchall()
        return [CaseRow(row["id"], row["name"], row["created_at"]) for row in rows]
