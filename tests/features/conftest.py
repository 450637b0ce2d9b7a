"""Fixtures of the feature tests."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

TINY_ENCODER = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 48,
    "conv_dim": (16, 16, 16),
    "conv_kernel": (10, 4, 4),
    "conv_stride": (5, 4, 4),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
    "layerdrop": 0.0,
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (model loaders must stay offline)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def tiny_encoder() -> Callable[[Path, str, bool], Path]:
    """``tiny_encoder(folder, family, layer_norm)``: a random tiny wav2vec2/WavLM/HuBERT encoder and its feature
    extractor written into ``folder`` with save_pretrained (as downloaded models are); returns ``folder``."""
    transformers = pytest.importorskip("transformers")
    import torch

    def save(folder: Path, family: str, layer_norm: bool) -> Path:
        torch.manual_seed(0)
        norm = {"feat_extract_norm": "layer" if layer_norm else "group", "do_stable_layer_norm": layer_norm}
        config_class, model_class = {
            "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
            "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
            "hubert": (transformers.HubertConfig, transformers.HubertModel),
        }[family]
        model_class(config_class(**TINY_ENCODER, **norm)).save_pretrained(folder)
        transformers.Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=16_000,
            padding_value=0.0,
            do_normalize=True,
            return_attention_mask=layer_norm,
        ).save_pretrained(folder)
        return folder

    return save
