"""Layer suffixes of feature-set names: ``whisper@6``, ``hf:/models/wavlm-base-plus@all``.

The convention (the same for every encoder; DESIGN.md "Layers"): ``@0`` is the input to the first block (after the
positional embedding), ``@N`` for 0 < N < L the output of block N, ``@L`` (L = number of blocks) the encoder's final
output, after its last layer norm where the model has one (Whisper, the stable-layer-norm wav2vec 2.0 / HuBERT /
WavLM models). ``@all`` asks for every layer 0..L from one forward pass per batch, each stored as its own feature set
``NAME@N``. A name without a suffix keeps its meaning (``whisper``: the final output; ``hf:<dir>``: the layer of
``hf.layer`` / ``--hf-layer``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ALL = "all"
_SUFFIX = re.compile(r"^(?P<base>.+)@(?P<layer>[^@/\\]*)$")
_NUMBER = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class LayerName:
    """A feature-set name split into its ``base`` (``whisper``, ``hf:<dir>``) and ``layer`` (int, ``"all"`` or
    ``None`` when the name has no suffix)."""

    base: str
    layer: int | str | None = None


def split_layer(name: str) -> LayerName:
    """``whisper@6`` -> LayerName("whisper", 6); ``whisper@all`` -> (.., "all"); ``whisper`` -> (.., None).

    A malformed suffix (``@``, ``@x``, ``@-1``, ``@06``) raises a one-line ValueError naming the feature set."""
    found = _SUFFIX.match(name)
    if found is None:
        return LayerName(name)
    base, layer = found["base"], found["layer"]
    if layer == ALL:
        return LayerName(base, ALL)
    if not _NUMBER.fullmatch(layer):
        raise ValueError(
            f"feature set {name!r}: malformed layer suffix {'@' + layer!r}; use @N (N = 0 for the input "
            "to the first block up to the number of blocks for the final output) or @all"
        )
    return LayerName(base, int(layer))


def resolve_outputs(
    requests: Mapping[str, int | str | None], base: str, blocks: int, model: str
) -> list[tuple[str, int]]:
    """(feature-set store name, layer) of every layer ``requests`` asks of a model with ``blocks`` blocks, in
    layer order, each once. ``requests`` maps a requested name to its layer: N, ``"all"`` (every layer, named
    ``base@N``) or ``None`` (the final output). A name without a suffix is stored as ``base`` whatever its layer
    (``--hf-layer`` picks one for ``hf:<dir>``: a negative index counts from the end, as in ``hidden_states``).
    Out of range: one ValueError line naming the feature set, the model and the valid range."""
    outputs: dict[str, int] = {}
    for name, layer in requests.items():
        if layer == ALL:
            outputs.update({f"{base}@{n}": n for n in range(blocks + 1)})
            continue
        resolved = blocks if layer is None else int(layer) + (blocks + 1 if int(layer) < 0 else 0)
        if not 0 <= resolved <= blocks:
            raise ValueError(
                f"feature set {name!r}: layer {layer} out of range; {model} has {blocks} blocks: valid "
                f"@0..@{blocks} (@0 = input to the first block, @{blocks} = final output) or @all"
            )
        outputs[base if split_layer(name).layer is None else f"{base}@{resolved}"] = resolved
    return sorted(outputs.items(), key=lambda item: (item[1], item[0]))
