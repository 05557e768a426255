"""The translation hook with real CTranslate2 models that the tests build (tests/
translation_model.py): word-for-word maps whose right output is known without running them.

What this proves: directory checks, every supported layout loading for real, tokenising
(white space and SentencePiece) and detokenising, the end token appended where the layout
needs it, batching that keeps order, blank lines, the hash definition. What it does not
prove: the quality of any real translation model."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
from pathlib import Path

import ctranslate2
import pytest
import sentencepiece

from capture.analysis.translate import (
    MAX_BATCH_SIZE,
    MAX_INPUT_TOKENS,
    TranslationError,
    load_translation_model,
    model_sha256,
    skipped_note,
)
from tests import translation_model
from tests.translation_model import SPECIAL

#: A transliterated "Arabic" to English word map, so expectations are easy to read.
WORDS = {
    "qala": "said",
    "rajul": "man",
    "fi": "in",
    "halab": "Aleppo",
    "yawm": "day",
    "ithnayn": "Monday",
    "jundi": "soldier",
    "sayyara": "car",
}
CORPUS = [
    "اجتمع الناس في السوق في الصباح",
    "وقال الصحفي إن الطريق كان مغلقا",
    "The convoy arrived at the northern checkpoint shortly after dawn.",
    "Several witnesses said that the soldiers stopped every car.",
]


def expected(line: str) -> str:
    """The word map applied by hand: what the model must output."""
    return " ".join(WORDS.get(word, "<unk>") for word in line.split())


@pytest.fixture(scope="module")
def word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Whitespace layout, separate vocabularies, end token left to the caller."""
    folder = tmp_path_factory.mktemp("models") / "toy-ar-en"
    return translation_model.build(
        folder,
        SPECIAL + sorted(WORDS),
        SPECIAL + sorted(WORDS.values()),
        WORDS,
        add_source_eos=False,
    )


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SentencePiece model trained on CORPUS; its pieces are both vocabularies."""
    written = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4),
        model_writer=written,
        vocab_size=150,
        model_type="bpe",
        character_coverage=1.0,
        hard_vocab_limit=False,
    )
    out = tmp_path_factory.mktemp("spm") / "pieces.model"
    out.write_bytes(written.getvalue())
    return out


def _pieces(spm: Path) -> list[str]:
    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    assert pieces[:3] == SPECIAL
    return pieces


def test_without_a_model_the_step_says_it_was_skipped() -> None:
    assert skipped_note() == "skipped: no translation model configured (--translation-model DIR)"


def test_word_model_translates_every_line_in_order(word_model: Path) -> None:
    translator = load_translation_model(word_model)
    assert translator.model.name == "toy-ar-en" and translator.layout == "whitespace"
    assert (word_model / "source_vocabulary.json").is_file()
    chooser = random.Random(12)
    vocabulary = [*WORDS, "unknown"]
    lines = [" ".join(chooser.choices(vocabulary, k=chooser.randint(1, 9))) for _ in range(40)]
    lines[5] = ""
    lines[17] = "   "
    assert len(lines) > MAX_BATCH_SIZE
    assert translator.translate(lines) == [expected(line) for line in lines]
    assert translator.translate(["qala rajul fi halab"]) == ["said man in Aleppo"]
    assert translator.translate([]) == []


def test_the_end_token_is_what_ends_a_translation(word_model: Path) -> None:
    """The control for the test above: the same model called without the appended ``</s>``
    does not stop where the sentence does, so the module's appending is what makes it."""
    raw = ctranslate2.Translator(str(word_model))
    with_end = raw.translate_batch([["yawm", "ithnayn", "</s>"]])[0].hypotheses[0]
    without = raw.translate_batch([["yawm", "ithnayn"]], max_decoding_length=20)
    assert with_end == ["day", "Monday"]
    assert without[0].hypotheses[0] != with_end


def test_opus_mt_layout_with_sentencepiece(spm_model: Path, tmp_path: Path) -> None:
    """As ct2-transformers-converter writes OPUS-MT (shared vocabulary, add_source_eos
    false) with source.spm and target.spm copied beside it; a copy model, so the output
    must be the input after SentencePiece's round trip."""
    pieces = _pieces(spm_model)
    folder = translation_model.build(
        tmp_path / "opus-mt-toy",
        pieces,
        pieces,
        {piece: piece for piece in pieces},
        add_source_eos=False,
    )
    shutil.copyfile(spm_model, folder / "source.spm")
    shutil.copyfile(spm_model, folder / "target.spm")
    assert (folder / "shared_vocabulary.json").is_file()
    translator = load_translation_model(folder)
    assert translator.layout == "opus-mt" and translator.model.name == "opus-mt-toy"
    assert translator.translate(CORPUS) == CORPUS


def test_argos_layout(spm_model: Path, tmp_path: Path) -> None:
    pieces = _pieces(spm_model)
    package = tmp_path / "translate-ar_en-1_9"
    translation_model.build(
        package / "model",
        pieces,
        pieces,
        {piece: piece for piece in pieces},
        add_source_eos=True,
    )
    shutil.copyfile(spm_model, package / "sentencepiece.model")
    metadata = {"from_code": "ar", "to_code": "en", "package_version": "1.9"}
    (package / "metadata.json").write_text(json.dumps(metadata))
    translator = load_translation_model(package)
    assert translator.layout == "argos"
    assert translator.model.name == "translate-ar_en-1_9 (Argos ar-en 1.9)"
    assert translator.translate(["", *CORPUS[:2]]) == ["", *CORPUS[:2]]


def test_hash_is_as_documented_and_follows_every_file(word_model: Path, tmp_path: Path) -> None:
    """The same definition computed with find, sha256sum and sort, as the docs give it."""
    script = (
        "find . -type f -printf '%P\\n' | while read -r f; do "
        'printf \'%s %s\\n\' "$f" "$(sha256sum "$f" | cut -d" " -f1)"; '
        "done | LC_ALL=C sort | sha256sum | cut -d' ' -f1"
    )
    shell = subprocess.run(
        ["bash", "-c", script], cwd=word_model, capture_output=True, text=True, check=True
    )
    translator = load_translation_model(word_model)
    assert translator.model.sha256 == shell.stdout.strip() == model_sha256(word_model)
    changed = shutil.copytree(word_model, tmp_path / "changed")
    (changed / "config.json").write_text((changed / "config.json").read_text() + " ")
    assert model_sha256(changed) != translator.model.sha256


def test_unusable_directories_are_refused_saying_what_is_missing(
    word_model: Path, tmp_path: Path
) -> None:
    with pytest.raises(TranslationError, match="no such directory"):
        load_translation_model(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TranslationError, match=r"no model\.bin"):
        load_translation_model(empty)
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copyfile(word_model / "model.bin", bare / "model.bin")
    with pytest.raises(TranslationError, match="no vocabulary"):
        load_translation_model(bare)
    half = shutil.copytree(word_model, tmp_path / "half")
    (half / "source.spm").write_bytes(b"")
    with pytest.raises(TranslationError, match=r"target\.spm is missing"):
        load_translation_model(half)
    argos = tmp_path / "argos"
    shutil.copytree(word_model, argos / "model")
    with pytest.raises(TranslationError, match=r"no sentencepiece\.model"):
        load_translation_model(argos)
    broken = shutil.copytree(word_model, tmp_path / "broken")
    (broken / "model.bin").write_bytes(b"not a model")
    with pytest.raises(TranslationError, match="CTranslate2 cannot load the model"):
        load_translation_model(broken)


def test_overlong_line_is_refused_not_cut(word_model: Path) -> None:
    translator = load_translation_model(word_model)
    with pytest.raises(TranslationError, match="line 2: 401 tokens"):
        translator.translate(["qala", " ".join(["fi"] * (MAX_INPUT_TOKENS + 1))])
