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
    """``tiny_encoder(folder, family, layer_norm)``: a random tiny wav2vec2/WavLM/HuBERT/data2vec-audio encoder and
    its feature extractor written into ``folder`` with save_pretrained (as downloaded models are); returns
    ``folder``."""
    transformers = pytest.importorskip("transformers")
    import torch

    def save(folder: Path, family: str, layer_norm: bool) -> Path:
        torch.manual_seed(0)
        norm = {"feat_extract_norm": "layer" if layer_norm else "group", "do_stable_layer_norm": layer_norm}
        if family == "data2vec-audio":  # its conv encoder always normalises per frame (layer norm)
            norm = {}
        config_class, model_class = {
            "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
            "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
            "hubert": (transformers.HubertConfig, transformers.HubertModel),
            "data2vec-audio": (transformers.Data2VecAudioConfig, transformers.Data2VecAudioModel),
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


TINY_WHISPER = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 32,
    "n_audio_head": 2,
    "n_audio_layer": 2,
    "n_vocab": 51865,
    "n_text_ctx": 448,
    "n_text_state": 32,
    "n_text_head": 2,
    "n_text_layer": 1,
}


@pytest.fixture
def tiny_whisper_checkpoint() -> Callable[[Path], tuple[Path, object]]:
    """``tiny_whisper_checkpoint(folder)``: a random tiny openai-whisper model (``ModelDimensions``: 2 audio blocks
    of width 32, the real 30 s / 1500-frame window) saved as ``folder/tiny-whisper.pt`` the way openai-whisper's
    checkpoints are (``dims`` + ``model_state_dict``); returns (path, the model in eval mode)."""
    pytest.importorskip("whisper")
    import torch
    from whisper.model import ModelDimensions, Whisper

    def save(folder: Path) -> tuple[Path, object]:
        torch.manual_seed(0)
        dims = ModelDimensions(**TINY_WHISPER)
        model = Whisper(dims).eval()
        path = Path(folder) / "tiny-whisper.pt"
        torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
        return path, model

    return save


@pytest.fixture
def tiny_hf_whisper() -> Callable[[Path], Path]:
    """``tiny_hf_whisper(folder)``: a random tiny transformers Whisper model (encoder and decoder, 2 encoder layers
    of width 32, 80 mel bins, 1500 positions) and its feature extractor, written with save_pretrained."""
    transformers = pytest.importorskip("transformers")
    import torch

    def save(folder: Path) -> Path:
        torch.manual_seed(0)
        config = transformers.WhisperConfig(
            d_model=32,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=48,
            decoder_layers=1,
            decoder_attention_heads=2,
            decoder_ffn_dim=48,
            num_mel_bins=80,
            max_source_positions=1500,
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
        )
        transformers.WhisperForConditionalGeneration(config).save_pretrained(folder)
        transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
        return Path(folder)

    return save
