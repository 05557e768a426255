"""What one person may see, as the SQL that picks it: the catalog's half of "cases are the
unit of access" (docs/access.md).

A listing, a search or the alert badge given a :class:`Visibility` returns only the
evidence of the person's cases and the captures (and watched targets) of no case that
they collected. The filter is a condition in the query itself, never a pass over the
rows after: a search's limit and a list's order then count only what the person may
see, and nothing of anyone else's evidence leaves the database. The decision of who may
see what is :class:`archive.people.Principal`'s; this is how the catalog carries it out.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: A subquery of the capture ids a search may return, and its parameters
#: (:meth:`Visibility.capture_ids`); ``None``: any capture.
Within = tuple[str, list[object]] | None


@dataclass(frozen=True)
class Visibility:
    """The evidence ``user`` may see: that of the cases named in ``cases``, and what they
    collected under no case."""

    user: str
    cases: frozenset[str]

    def captures_where(self, table: str = "captures") -> tuple[str, list[object]]:
        """A condition on ``table`` (the captures table or its alias) and its parameters."""
        return self._where(table)

    def targets_where(self, table: str = "targets") -> tuple[str, list[object]]:
        """The same condition on the watched targets: a target of no case is its
        collector's, as its runs are."""
        return self._where(table)

    def capture_ids(self) -> tuple[str, list[object]]:
        """A subquery of the ids of every capture the person may see (for the text
        indexes, whose rows name their capture)."""
        where, params = self._where("captures")
        return f"SELECT captures.id FROM captures WHERE {where}", params

    def _where(self, table: str) -> tuple[str, list[object]]:
        names = sorted(unicodedata.normalize("NFC", name) for name in self.cases)
        own = f"({table}.case_id IS NULL AND {table}.collector = ?)"
        if not names:
            return own, [self.user]
        marks = ", ".join("?" for _ in names)
        in_cases = f"{table}.case_id IN (SELECT id FROM cases WHERE name IN ({marks}))"
        return f"({in_cases} OR {own})", [*names, self.user]
