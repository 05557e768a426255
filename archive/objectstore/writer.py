"""A sealed file on its way to the bucket, with the same calls as a local one.

Callers write through :class:`ObjectWriter` exactly as through
:class:`~archive.store.ArtifactWriter` (``write``/``flush``/``tell``/``seal``/``close``,
or ``with``): underneath, a local ``ArtifactWriter`` on scratch hashes every byte as it
is written and fsyncs it. ``seal()`` then seals that file locally and hands it to the
store, which uploads, verifies and records it; only then is :attr:`sealed` set and the
:class:`~archive.store.Artifact` returned. If the upload fails, the locally sealed file
stays on scratch (for quarantine, or for ``seal()`` to be called again), and nothing
in the bucket is readable as this file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from archive.store import Artifact, ArtifactWriter

#: What the store does with a file sealed on scratch: upload, verify, record; the result.
Finish = Callable[[Artifact, Path], Artifact]


class ObjectWriter:
    """A new file of a capture, hashed as written; ``seal()`` puts it in the bucket."""

    def __init__(self, local: ArtifactWriter, finish: Finish) -> None:
        self._local = local
        self._finish = finish
        self.kind = local.kind
        self.sealed: Artifact | None = None

    @property
    def partial_path(self) -> Path:
        """Where the unsealed bytes are on scratch (never evidence)."""
        return self._local.partial_path

    def write(self, data: bytes) -> int:
        return self._local.write(data)

    def flush(self) -> None:
        self._local.flush()

    def tell(self) -> int:
        return self._local.tell()

    def seal(self) -> Artifact:
        """Seal on scratch, then upload, verify and record; the sealed record."""
        if self.sealed is not None:
            return self.sealed
        staged = self._local.seal()
        self.sealed = self._finish(staged, self._local.final_path)
        return self.sealed

    def close(self) -> None:
        """Stop without sealing: the unsealed bytes stay on scratch for quarantine."""
        self._local.close()

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.seal()
        else:
            self.close()
