"""Reading a package's members: as streams, hashed as they pass, never past their bounds.

Nothing is extracted to disk. Every member is read once, a chunk at a time, through
:class:`HashingReader`, which hashes and counts it and refuses to read past the size
its entry declares. Small members (JSON, tokens, sums,
the index) are then read whole, once, within :data:`MAX_SMALL_MEMBER`
(:class:`SmallReader`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from archive.hashing import CHUNK_SIZE

#: JSON and other small members are read into memory, up to this size each.
MAX_SMALL_MEMBER = 64 * 1024**2


@dataclass(frozen=True)
class Member:
    """A member's SHA-256 and size, as read."""

    sha256: str
    size: int


class HashingReader:
    """A member stream, hashed and counted as it is read; refuses to pass its declared size."""

    def __init__(self, raw: IO[bytes], name: str, declared: int) -> None:
        self.raw = raw
        self.name = name
        self.declared = declared
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(CHUNK_SIZE if n is None or n < 0 else min(n, CHUNK_SIZE))
        self.sha.update(data)
        self.size += len(data)
        if self.size > self.declared:
            raise zipfile.BadZipFile(f"{self.name} holds more bytes than its entry declares")
        return data

    def tell(self) -> int:
        return self.size

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass

    def member(self) -> Member:
        return Member(self.sha.hexdigest(), self.size)


class SmallReader:
    """Small members (JSON, tokens, sums, the index) read whole, once, within a bound."""

    def __init__(self, zf: zipfile.ZipFile, names: Iterable[str]) -> None:
        self.zf = zf
        self.names = set(names)
        self._cache: dict[str, bytes] = {}

    def get(self, name: str) -> bytes | None:
        """The member's bytes; ``None`` when it is absent, too large, or unreadable."""
        if name not in self.names:
            return None
        if name not in self._cache:
            info = self.zf.getinfo(name)
            if info.file_size > MAX_SMALL_MEMBER:
                return None
            try:
                with self.zf.open(info) as fh:
                    self._cache[name] = fh.read(MAX_SMALL_MEMBER + 1)[:MAX_SMALL_MEMBER]
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                return None
        return self._cache[name]

    def json(self, name: str) -> tuple[Any, str | None]:
        """``(value, None)``, or ``(None, why it cannot be read)``."""
        data = self.get(name)
        if data is None:
            why = "too large or unreadable" if name in self.names else "missing from the package"
            return None, f"{name} is {why}"
        try:
            return json.loads(data), None
        except ValueError as exc:
            return None, f"{name} is not JSON: {exc}"
