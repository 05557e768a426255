"""Cases: the names investigators file captures and targets under, the rule for them, and
legal holds.

A case is created the first time a capture, a queued request or a target names it, so
the rule is checked here once and by every concern that takes a case name. A case on
legal hold keeps every sealed file of it from deletion whatever its retention (an
object store is told so); setting or releasing a hold is a custody event, which the
caller writes with this change (``CustodyLog.append(together_with=...)``).
"""

from __future__ import annotations

import unicodedata

from archive.catalog.connection import CatalogConnection
from archive.catalog.rows import CaseHold, CaseRow
from archive.catalog.session import Row, Session
from archive.catalog.shared import NotInCatalog, StateConflict, ensure_case_row
from archive.errors import BadInput
from archive.timeutil import now_rfc3339

_HOLD_SELECT = (
    "SELECT cases.name, case_holds.held_by, case_holds.reason, case_holds.held_at"
    " FROM case_holds JOIN cases ON cases.id = case_holds.case_id"
)

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

    # -- legal holds ----------------------------------------------------------------------

    def set_case_hold(
        self, name: str, held: bool, *, operator: str | None, reason: str | None = None
    ) -> CaseHold | None:
        """Put the case on legal hold (``held``) or release it; return the hold, or ``None``.

        Refused (:class:`StateConflict`) when the case already is in that state, so one
        request never makes two custody events; :class:`NotInCatalog` for an unknown case.
        """
        name = validate_case_name(name)
        with self._write() as conn:
            case = conn.execute(
                "SELECT id FROM cases WHERE name = ?" + conn.lock_rows("cases"), (name,)
            ).fetchone()
            if case is None:
                raise NotInCatalog(f"no case {name!r} in the catalog")
            current = _find_hold(conn, name)
            if held and current is not None:
                raise StateConflict(
                    f"case {name!r} is already on hold (since {current.held_at},"
                    f" by {current.held_by or 'an unnamed operator'})"
                )
            if not held and current is None:
                raise StateConflict(f"case {name!r} is not on hold: there is nothing to release")
            if not held:
                conn.execute("DELETE FROM case_holds WHERE case_id = ?", (case["id"],))
                return None
            conn.execute(
                "INSERT INTO case_holds (case_id, held_by, reason, held_at) VALUES (?, ?, ?, ?)",
                (case["id"], operator, reason, now_rfc3339()),
            )
            return _find_hold(conn, name)

    def case_hold(self, name: str) -> CaseHold | None:
        """The case's legal hold, or ``None`` when it is not held (or does not exist)."""
        name = unicodedata.normalize("NFC", name)
        with self._read() as conn:
            return _find_hold(conn, name)

    def capture_hold(self, capture_id: str) -> CaseHold | None:
        """The hold on the case ``capture_id`` is filed under, or ``None`` (no case, not
        held, or no such capture). An object store asks this for every file it seals,
        so that a held case's new objects are held from their first byte."""
        with self._read() as conn:
            row = conn.execute(
                _HOLD_SELECT + " JOIN captures ON captures.case_id = cases.id"
                " WHERE captures.id = ?",
                (capture_id,),
            ).fetchone()
        return _hold(row) if row is not None else None

    def case_holds(self) -> list[CaseHold]:
        """Every case on legal hold, by name."""
        with self._read() as conn:
            rows = conn.execute(_HOLD_SELECT + " ORDER BY cases.name").fetchall()
        return [_hold(row) for row in rows]


def _find_hold(conn: Session, name: str) -> CaseHold | None:
    row = conn.execute(_HOLD_SELECT + " WHERE cases.name = ?", (name,)).fetchone()
    return _hold(row) if row is not None else None


def _hold(row: Row) -> CaseHold:
    return CaseHold(row["name"], row["held_by"], row["reason"], row["held_at"])
