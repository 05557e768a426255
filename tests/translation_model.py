"""Tiny CTranslate2 translation models that the tests build from numpy weights.

The network is a one-layer Transformer wired by hand so that its output is known without
running it: output position t carries the source token at position t, mapped through a
table. The residual stream has three blocks of dimensions:

- A: the one-hot of the token embedded at this position;
- POS: the one-hot of the position (learned position encodings set to the identity);
- B: filled by the decoder's cross-attention with the mapped source token.

Self-attention and feed-forward layers write zeros, so the stream passes them unchanged.
Cross-attention's queries and keys read only POS, scaled so that decoder position t attends
to source position t alone; its values turn source token i into target token map[i] in B;
the output projection reads B. Layer norm shifts and scales every dimension alike, so the
largest entry stays the largest and the argmax is exact. Translating a sentence therefore
gives the word-for-word mapping of its tokens, and a sentence ends when the source's ``</s>``
is reached: a model built this way also checks that the end token was appended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ctranslate2.specs import transformer_spec

SPECIAL = ["<unk>", "<s>", "</s>"]
#: Positions the model can attend to: more than the longest decoding the tests allow.
POSITIONS = 300
_SHARP = 50.0


def build(
    out: Path,
    source_vocabulary: list[str],
    target_vocabulary: list[str],
    mapping: dict[str, str],
    *,
    add_source_eos: bool,
) -> Path:
    """Save a model that maps each source token to ``mapping[token]`` (special tokens to
    themselves, anything else to ``<unk>``) into ``out``."""
    spec = transformer_spec.TransformerSpec.from_config(1, 1, pre_norm=True)
    v_src, v_tgt = len(source_vocabulary), len(target_vocabulary)
    a, pos, b = 0, v_src, v_src + POSITIONS
    width = v_src + POSITIONS + v_tgt
    target_index = {token: i for i, token in enumerate(target_vocabulary)}
    for side, vocabulary in ((spec.encoder, source_vocabulary), (spec.decoder, target_vocabulary)):
        embeddings = side.embeddings[0] if isinstance(side.embeddings, list) else side.embeddings
        embeddings.weight = _one_hot(len(vocabulary), width, a)
        side.scale_embeddings = False
        side.position_encodings.encodings = _one_hot(POSITIONS, width, pos)
        _identity_norm(side.layer_norm, width)
        for layer in side.layer:
            _passthrough(layer, width)
    cross = spec.decoder.layer[0].attention
    _identity_norm(cross.layer_norm, width)
    query = np.zeros((width, width), np.float32)
    query[pos : pos + POSITIONS, pos : pos + POSITIONS] = np.eye(POSITIONS) * _SHARP
    key_value = np.zeros((2 * width, width), np.float32)
    key_value[pos : pos + POSITIONS, pos : pos + POSITIONS] = np.eye(POSITIONS) * _SHARP
    for i, token in enumerate(source_vocabulary):
        mapped = token if token in SPECIAL else mapping.get(token, "<unk>")
        key_value[width + b + target_index[mapped], a + i] = 1.0
    _linear(cross.linear[0], query)
    _linear(cross.linear[1], key_value)
    _linear(cross.linear[2], np.eye(width, dtype=np.float32))
    projection = np.zeros((v_tgt, width), np.float32)
    projection[:, b : b + v_tgt] = np.eye(v_tgt) * 100.0
    _linear(spec.decoder.projection, projection)
    spec.register_source_vocabulary(source_vocabulary)
    spec.register_target_vocabulary(target_vocabulary)
    spec.config.add_source_eos = add_source_eos
    spec.validate()
    spec.optimize()
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    return out


def _one_hot(rows: int, width: int, offset: int) -> np.ndarray:
    matrix = np.zeros((rows, width), np.float32)
    matrix[np.arange(rows), offset + np.arange(rows)] = 1.0
    return matrix


def _identity_norm(norm: object, width: int) -> None:
    norm.gamma = np.ones(width, np.float32)
    norm.beta = np.zeros(width, np.float32)


def _linear(linear: object, weight: np.ndarray) -> None:
    linear.weight = weight.astype(np.float32)
    linear.bias = np.zeros(weight.shape[0], np.float32)


def _passthrough(layer: object, width: int) -> None:
    """Self-attention and feed-forward sublayers that add nothing to the residual stream."""
    _identity_norm(layer.self_attention.layer_norm, width)
    _linear(layer.self_attention.linear[0], np.zeros((3 * width, width)))
    _linear(layer.self_attention.linear[1], np.zeros((width, width)))
    _identity_norm(layer.ffn.layer_norm, width)
    _linear(layer.ffn.linear_0, np.zeros((4, width)))
    _linear(layer.ffn.linear_1, np.zeros((width, 4)))
