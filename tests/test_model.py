"""Classifier F, encoder F' and decoder H have the paper's layer sizes (Section 3.2)."""

from __future__ import annotations

import torch
from torch import nn

from rdlr.model import Decoder, EmotionClassifier


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(layer.in_features, layer.out_features) for layer in module.modules() if isinstance(layer, nn.Linear)]


def test_classifier_layers_embedding_and_encoder():
    model = EmotionClassifier(input_dim=1582)
    assert _linear_shapes(model) == [(1582, 1024), (1024, 1024), (1024, 512), (512, 512), (512, 4)]
    assert _linear_shapes(model.encoder) == [(1582, 1024), (1024, 1024)]
    dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts == [0.5] * 4
    out = model.eval()(torch.randn(3, 1582))
    assert out.logits.shape == (3, 4) and out.embedding.shape == (3, 512) and out.encoding.shape == (3, 1024)


def test_decoder_reconstructs_input_dimension():
    decoder = Decoder(1024, 2862)
    assert _linear_shapes(decoder) == [(1024, 1024), (1024, 1024), (1024, 2862)]
    assert decoder(torch.randn(2, 1024)).shape == (2, 2862)
