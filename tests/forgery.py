"""What a forger with the machine does to custody events: edit one, re-chain the rest.

The result is a perfect chain again (every hash recomputed, every ``prev`` relinked),
so only something outside the log (the catalog's head, an anchor, a signed package)
can show the edit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from archive.custody import canonical_json


def rechained(
    events: Sequence[Mapping[str, Any]], index: int, details: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``events`` with ``events[index]``'s details replaced and every later one re-chained."""
    forged = [dict(event) for event in events]
    forged[index]["details"] = dict(details)
    for position in range(index, len(forged)):
        if position > index:
            forged[position]["prev"] = forged[position - 1]["hash"]
        body = {k: v for k, v in forged[position].items() if k != "hash"}
        forged[position]["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return forged
