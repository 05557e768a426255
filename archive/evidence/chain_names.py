"""Which custody chain an event belongs to, in team mode, and how a chain names itself.

Team mode (:mod:`archive.evidence.custody_db`) keeps one hash chain per case, so
writers on many machines working on different cases never wait for each other, and an
export carries its own case's chain and nothing of any other case:

- ``case:<name>``: every event about captures of case ``<name>`` (its exact, NFC
  name: case names are unique and never renamed);
- ``installation``: events about captures of no case, and events about no capture
  (``key-created``, an operator's ``verified`` of a foreign package, anchors of the
  installation chain itself).

The access log is one more chain in the same tables, ``access`` (:data:`ACCESS_CHAIN`),
on SQLite as on PostgreSQL; it is no custody chain (:meth:`archive.evidence.custody_db.
DbCustodyLog.chains` leaves it out).

An event about captures of several cases is appended to each of their chains, in one
transaction. Each chain's seq 1 is a ``chain-opened`` event whose details name the
chain (``{"chain": "case:<name>"}``): every later hash covers it, so events cut from
one chain cannot be passed off as another's, and a slice that starts at seq 1 says
which chain it is. (It is the one event whose details hold a case name: it travels
only in that case's own exports.)
"""

from __future__ import annotations

import hashlib

#: The chain of events about no case.
INSTALLATION_CHAIN = "installation"
#: The access log's one chain (:mod:`archive.evidence.access_log`): who viewed, downloaded,
#: replayed or exported which capture. Kept beside the custody chains, in the same tables
#: and by the same code, but not one of them: custody's verify and anchoring pass it by,
#: and the access log verifies and anchors it on its own.
ACCESS_CHAIN = "access"
CASE_PREFIX = "case:"
#: The first event of every chain in team mode, written by the chain's first append.
OPENING_ACTION = "chain-opened"
#: An embedded archive's ``custody.jsonl`` carried into team mode by ``migrate``, byte for
#: byte: ``embedded:<hash of its seq 1>``. Its seq 1 is the log's own first event (never a
#: ``chain-opened``: re-chaining would change every hash), and the name is bound to it.
IMPORTED_PREFIX = "embedded:"


def imported_chain(first_hash: str) -> str:
    """The chain an embedded log whose seq 1 has ``first_hash`` is imported as."""
    return IMPORTED_PREFIX + first_hash


def imported_first_hash(chain: str) -> str | None:
    """The seq-1 hash an imported chain's name binds it to (``None``: not imported)."""
    return chain.removeprefix(IMPORTED_PREFIX) if chain.startswith(IMPORTED_PREFIX) else None


def case_chain(case: str | None) -> str:
    """The chain of a case's events (:data:`INSTALLATION_CHAIN` for no case)."""
    return INSTALLATION_CHAIN if case is None else CASE_PREFIX + case


def chain_case(chain: str) -> str | None:
    """The case a chain belongs to (``None`` for the installation chain)."""
    return chain.removeprefix(CASE_PREFIX) if chain.startswith(CASE_PREFIX) else None


def opening_details(chain: str) -> dict[str, str]:
    """What the ``chain-opened`` event of ``chain`` says."""
    return {"chain": chain}


def chain_tag(chain: str) -> str:
    """A short name-safe tag of a chain, for its anchors' file names (any script, any
    punctuation of a case name stays out of file and object names)."""
    return "c" + hashlib.sha256(chain.encode("utf-8")).hexdigest()[:12]
