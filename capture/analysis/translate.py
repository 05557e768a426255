"""Machine translation with a CTranslate2 model directory that the operator brings.

No Arabic-English model can be installed from the package registries this project uses,
and a small general language model tried offline changed names, places and days: worse
than no translation. So there is no default model: with none configured the step is
skipped and says so (``skipped_note``), and with one configured every translation names
the directory and a hash over all of its files.

Layouts understood (docs/analysis.md says how to make them):

- OPUS-MT (Marian) converted with ``ct2-transformers-converter`` or ``ct2-opus-mt-converter``:
  ``model.bin``, ``config.json``, ``shared_vocabulary.json`` or ``source_vocabulary.json``
  plus ``target_vocabulary.json`` (``.txt`` too), and the SentencePiece models
  ``source.spm`` and ``target.spm`` copied beside them. Marian models expect each source
  sentence to end with ``</s>``; the converter from Hugging Face leaves that to the caller
  (``add_source_eos`` false in ``config.json``), so this module appends the model's end
  token unless the config says CTranslate2 adds it.
- Argos Translate packages (unpacked ``.argosmodel``): a ``model/`` directory with the
  CTranslate2 files and one ``sentencepiece.model`` for both sides; ``metadata.json``
  gives the languages and package version for the name. Nothing is appended (Argos models
  are trained on source sentences without an end token).
- Without any SentencePiece model: tokens are the words split on white space, which is how
  the tests' tiny models are built.

The model's hash (``TranslationModel.sha256``): for every regular file under the directory
(recursively, symlinks followed), the line ``"<relative POSIX path> <sha256 hex>\\n"``;
the lines sorted by path; SHA-256 of their UTF-8 concatenation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ctranslate2

from archive.errors import Failed

#: Beam 4: what OPUS-MT's Hugging Face configurations and Argos use; wider beams cost time
#: and, on short transcript lines, rarely change the result.
BEAM_SIZE = 4
#: Lines per batch handed to CTranslate2 (it sorts by length inside, to pad little).
MAX_BATCH_SIZE = 16
#: Longer lines are refused, not cut short: a translation that silently drops the end of a
#: line would mislead. Transcript segments and OCR lines are far shorter.
MAX_INPUT_TOKENS = 400
MAX_DECODING_LENGTH = 256

SKIPPED = "skipped: no translation model configured (--translation-model DIR)"

_VOCABULARIES = ("shared_vocabulary", "source_vocabulary", "target_vocabulary")


def skipped_note() -> str:
    """What a capture records in place of a translation when no model is configured."""
    return SKIPPED


class TranslationError(Failed):
    """A model directory that cannot be used, or a translation that failed; says which."""


@dataclass(frozen=True)
class TranslationModel:
    """The model a translation came from: where, what it is called, and the hash of its
    files (defined in the module docstring)."""

    path: Path
    name: str
    sha256: str


class _Tokenizer(Protocol):
    def encode(self, line: str) -> list[str]: ...
    def decode(self, tokens: list[str]) -> str: ...


class _Whitespace:
    """Words split on white space: for models whose vocabulary is whole words."""

    def encode(self, line: str) -> list[str]:
        return line.split()

    def decode(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class _SentencePiece:
    def __init__(self, model_file: Path) -> None:
        try:
            import sentencepiece
        except ImportError as error:
            raise TranslationError(
                f"{model_file}: reading this model needs the sentencepiece package"
            ) from error
        try:
            self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        except (OSError, RuntimeError) as error:
            raise TranslationError(f"{model_file}: not a SentencePiece model: {error}") from error

    def encode(self, line: str) -> list[str]:
        return self._processor.encode(line, out_type=str)

    def decode(self, tokens: list[str]) -> str:
        return self._processor.decode_pieces(tokens)


@dataclass(frozen=True)
class _Layout:
    """Where the CTranslate2 files are, how to tokenise, and what to append to a source."""

    kind: str
    model_dir: Path
    source_spm: Path | None
    target_spm: Path | None
    source_suffix: tuple[str, ...]


def load_translation_model(path: Path, *, cpu_threads: int = 1) -> Translator:
    """Check the directory, hash it, load it; TranslationError says what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise TranslationError(f"{path}: no such directory (the --translation-model DIR)")
    layout = _layout(path)
    model = TranslationModel(path=path, name=_name(path, layout), sha256=model_sha256(path))
    return Translator(model, layout, cpu_threads=cpu_threads)


class Translator:
    """A loaded translation model; ``translate`` keeps the order and number of lines."""

    def __init__(self, model: TranslationModel, layout: _Layout, *, cpu_threads: int = 1) -> None:
        self.model = model
        self.layout = layout.kind
        self._suffix = list(layout.source_suffix)
        self._source = _tokenizer(layout.source_spm)
        self._target = _tokenizer(layout.target_spm)
        try:
            self._translator = ctranslate2.Translator(
                str(layout.model_dir), device="cpu", intra_threads=cpu_threads
            )
        except (RuntimeError, ValueError) as error:
            raise TranslationError(
                f"{layout.model_dir}: CTranslate2 cannot load the model: {error}"
            ) from error

    def translate(self, lines: list[str]) -> list[str]:
        """One translation per line, in order; blank lines stay blank (never sent to the
        model, which would invent something for them)."""
        wanted = [(i, line) for i, line in enumerate(lines) if line.strip()]
        batch = []
        for i, line in wanted:
            tokens = self._source.encode(line.strip())
            if len(tokens) > MAX_INPUT_TOKENS:
                raise TranslationError(
                    f"line {i + 1}: {len(tokens)} tokens, more than the {MAX_INPUT_TOKENS} "
                    "this module translates in one piece; split it first"
                )
            batch.append(tokens + self._suffix)
        out = [""] * len(lines)
        if not batch:
            return out
        try:
            results = self._translator.translate_batch(
                batch,
                beam_size=BEAM_SIZE,
                max_batch_size=MAX_BATCH_SIZE,
                max_input_length=0,
                max_decoding_length=MAX_DECODING_LENGTH,
            )
        except (RuntimeError, ValueError) as error:
            raise TranslationError(f"{self.model.path}: translation failed: {error}") from error
        for (i, _), result in zip(wanted, results, strict=True):
            out[i] = self._target.decode(result.hypotheses[0])
        return out


def model_sha256(path: Path) -> str:
    """SHA-256 over the sorted "<relative path> <sha256>" lines of every file under
    ``path``; reproducible from a shell (docs/analysis.md)."""
    lines = []
    for file in path.rglob("*"):
        if file.is_file():
            digest = hashlib.sha256()
            with open(file, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
            lines.append(f"{file.relative_to(path).as_posix()} {digest.hexdigest()}\n")
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _layout(path: Path) -> _Layout:
    """Recognise one of the documented layouts, or say what is missing."""
    if (path / "model").is_dir():
        spm = path / "sentencepiece.model"
        if not spm.is_file():
            raise TranslationError(
                f"{path}: an Argos-style model/ directory but no sentencepiece.model beside it "
                "(Argos packages tokenised another way are not supported)"
            )
        _check_ctranslate2_files(path / "model")
        return _Layout("argos", path / "model", spm, spm, ())
    _check_ctranslate2_files(path)
    source, target = path / "source.spm", path / "target.spm"
    if source.is_file() != target.is_file():
        missing = target if source.is_file() else source
        raise TranslationError(f"{path}: {missing.name} is missing (both .spm files or neither)")
    has_spm = source.is_file()
    suffix = () if _config(path).get("add_source_eos") else (_end_token(path),)
    kind = "opus-mt" if has_spm else "whitespace"
    return _Layout(kind, path, source if has_spm else None, target if has_spm else None, suffix)


def _check_ctranslate2_files(model_dir: Path) -> None:
    if not (model_dir / "model.bin").is_file():
        raise TranslationError(
            f"{model_dir}: no model.bin (a CTranslate2 model directory, or an Argos package "
            "with model/ and sentencepiece.model, is expected)"
        )
    present = {
        name
        for name in _VOCABULARIES
        if any((model_dir / f"{name}{ext}").is_file() for ext in (".json", ".txt"))
    }
    if (
        "shared_vocabulary" not in present
        and not {
            "source_vocabulary",
            "target_vocabulary",
        }
        <= present
    ):
        raise TranslationError(
            f"{model_dir}: no vocabulary: shared_vocabulary.json, or source_vocabulary.json "
            "and target_vocabulary.json (.txt also read)"
        )


def _config(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise TranslationError(f"{model_dir / 'config.json'}: unreadable: {error}") from error


def _end_token(model_dir: Path) -> str:
    return str(_config(model_dir).get("eos_token") or "</s>")


def _name(path: Path, layout: _Layout) -> str:
    """The directory's name, with an Argos package's languages and version when known."""
    name = path.resolve().name
    if layout.kind != "argos" or not (path / "metadata.json").is_file():
        return name
    try:
        metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return name
    languages = f"{metadata.get('from_code', '?')}-{metadata.get('to_code', '?')}"
    version = metadata.get("package_version")
    return f"{name} (Argos {languages}{f' {version}' if version else ''})"


def _tokenizer(spm: Path | None) -> _Tokenizer:
    return _SentencePiece(spm) if spm is not None else _Whitespace()
