"""Utterance features by layer from a local transformers speech encoder: wav2vec 2.0, HuBERT, WavLM, data2vec
audio, or the encoder of a Whisper folder (``hf:<dir>@N``, ``hf:<dir>@all``).

Layers follow :mod:`rdlr.features.layers`. In transformers' ``hidden_states``, entry 0 is the input to the first
layer and entry N < L the output of layer N; the last entry is not the same across models (Whisper ties it to the
output after the final layer norm; the stable-layer-norm wav2vec 2.0 / HuBERT / WavLM models return it before
that norm), so ``@L`` is read from ``last_hidden_state``, the encoder's final output, for every model.

Batches are padded and masked so that a vector does not depend on its batch (up to float rounding): the model's
feature extractor normalises each utterance on its own, the attention mask keeps padding out of attention and out
of the mean, and the two parts of these models that mix time steps without a mask run per utterance on its own
frames — the convolutional feature encoder of the group-norm models (wav2vec2-base, HuBERT-base: their first
GroupNorm normalises over the whole time axis) and the convolutional positional embedding (data2vec audio stacks
several with layer norms, which would carry padding into valid frames). Whisper folders take 30 s log-mel windows
with the Whisper rules of :mod:`rdlr.features.whisper_windows`; only the encoder is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rdlr.features.audio import SAMPLE_RATE
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, Output
from rdlr.features.batching import extract_batched
from rdlr.features.hf_encoder import conv_output_frames, feature_set_name
from rdlr.features.layers import resolve_outputs
from rdlr.features.local_models import from_local_folder, require_model_dir, resolved_path
from rdlr.features.pooling import lengths_to_mask, masked_mean
from rdlr.features.whisper_windows import WINDOW_SAMPLES, pool_windows, valid_frames, windows
from rdlr.io.safe_text import read_json

WHAT = "transformers speech encoder"
WHISPER = "whisper"


@dataclass(frozen=True)
class EncoderShape:
    """What ``config.json`` says about an encoder: its ``model_type``, number of blocks and width."""

    model_type: str
    blocks: int
    dim: int

    @property
    def is_whisper(self) -> bool:
        return self.model_type == WHISPER


def encoder_shape(model_dir: str | Path) -> EncoderShape:
    """Read ``config.json`` (JSON only, no code): a Whisper model or a wav2vec 2.0-style encoder (conv feature
    encoder + transformer); anything else is one ValueError line naming the folder."""
    path = require_model_dir(model_dir, WHAT) / "config.json"
    config = read_json(path)
    model_type = str(config.get("model_type", "?")) if isinstance(config, dict) else "?"
    if model_type == WHISPER:
        blocks, dim = config.get("encoder_layers"), config.get("d_model")
    elif isinstance(config, dict) and config.get("conv_kernel") and config.get("conv_stride"):
        blocks, dim = config.get("num_hidden_layers"), config.get("hidden_size")
    else:
        raise ValueError(
            f"{path}: model_type {model_type!r} is no Whisper or wav2vec 2.0-style speech encoder "
            "(wav2vec 2.0, HuBERT, WavLM, data2vec audio); give one of those folders"
        )
    if not all(isinstance(value, int) and value > 0 for value in (blocks, dim)):
        raise ValueError(f"{path}: cannot read the number of layers and the width of this {model_type} encoder")
    return EncoderShape(model_type, int(blocks), int(dim))


@dataclass(frozen=True)
class HFLayersConfig(ExtractorConfig):
    """``model_dir``: a local save_pretrained folder (absolute, symlinks kept: the feature-set name comes from its
    last component; ``resolved_dir``, symlinks followed, puts the folder read into the cache key); ``layers``: the
    layers computed (:mod:`rdlr.features.layers`), each its own feature set; ``fp16``: half precision (GPU)."""

    model_dir: str
    layers: tuple[int, ...]
    fp16: bool = False
    resolved_dir: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_dir", os.path.abspath(os.path.expanduser(self.model_dir)))
        object.__setattr__(self, "resolved_dir", resolved_path(self.model_dir))
        object.__setattr__(self, "layers", tuple(int(layer) for layer in self.layers))

    def single(self, layer: int) -> HFLayersConfig:
        """The config of one layer's feature set."""
        return replace(self, layers=(layer,))


class PerUtterance(nn.Module):
    """Runs the wrapped module on each row's own first ``lengths[row]`` steps along ``axis`` and zero-pads the
    results back into one batch: what a module that mixes time steps without a mask gives each utterance alone."""

    def __init__(self, inner: nn.Module, axis: int) -> None:
        super().__init__()
        self.inner = inner
        self.axis = axis
        self.lengths: list[int] = []

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if len(self.lengths) != values.shape[0]:
            raise RuntimeError(f"PerUtterance: {len(self.lengths)} lengths set for a batch of {values.shape[0]}")
        outputs = [
            self.inner(values[row : row + 1].narrow(self.axis, 0, length)) for row, length in enumerate(self.lengths)
        ]
        axis = self.axis % outputs[0].dim()
        steps = max(output.shape[axis] for output in outputs)
        padded = [
            nn.functional.pad(output, [0, 0] * (output.dim() - axis - 1) + [0, steps - output.shape[axis]])
            for output in outputs
        ]
        return torch.cat(padded)


class HFLayersExtractor(Extractor):
    """Mean-pooled states of one or more layers of a local transformers speech encoder; ``dim`` = one layer's.

    ``requests`` maps each feature-set name asked for (``hf:<dir>@6``, ``hf:<dir>@all``; ``hf:<dir>`` for a
    Whisper folder) to its layer (:func:`rdlr.features.layers.resolve_outputs`); the layers all of them need are
    computed together and each is stored as its own feature set (:meth:`outputs`). ``config.json`` is read here,
    so a folder that holds no speech encoder, or a layer out of range, fails before any worker starts."""

    layered = True

    def __init__(
        self, model_dir: str, requests: Mapping[str, int | str | None] | None = None, *, fp16: bool = False
    ) -> None:
        base = feature_set_name(model_dir)
        shape = encoder_shape(resolved_path(os.path.abspath(os.path.expanduser(model_dir))))
        self.shape = shape
        self.named = resolve_outputs(requests or {base: None}, base, shape.blocks, Path(model_dir).name)
        self.config = HFLayersConfig(model_dir, tuple(sorted({layer for _, layer in self.named})), fp16)
        self.name = self.named[0][0] if len(self.named) == 1 else base
        self.dim = shape.dim
        self._model: Any = None
        self._processor: Any = None
        self._device = torch.device("cpu")
        self._min_samples = 1

    def outputs(self) -> list[Output]:
        """One feature set per requested layer: its store name, its own one-layer config, its slice."""
        return [Output(name, self.config.single(layer), self.config.layers.index(layer)) for name, layer in self.named]

    def check_models(self) -> None:
        """The model folder exists and holds a ``config.json``."""
        require_model_dir(self.config.resolved_dir, WHAT)

    def setup(self, device: str = "cpu") -> None:
        """Load the feature extractor and the encoder (``local_files_only``; a Whisper folder's decoder dropped)."""
        from transformers import AutoFeatureExtractor, AutoModel

        if self.config.fp16 and not device.startswith("cuda"):
            raise ValueError(f"feature set {self.name!r}: fp16 needs a GPU (device cuda), not {device!r}")
        model_dir = require_model_dir(self.config.resolved_dir, WHAT)
        processor = from_local_folder(AutoFeatureExtractor.from_pretrained, model_dir, WHAT)
        rate = getattr(processor, "sampling_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{model_dir}: the encoder expects {rate} Hz audio; only {SAMPLE_RATE} Hz encoders work")
        model = from_local_folder(AutoModel.from_pretrained, model_dir, WHAT)
        if self.shape.is_whisper:
            if getattr(processor, "n_samples", WINDOW_SAMPLES) != WINDOW_SAMPLES:
                raise ValueError(f"{model_dir}: the feature extractor's window is not Whisper's 30 s")
            model = model.get_encoder()
        else:
            self._wrap_unmasked_parts(model)
            self._min_samples = int(conv_receptive_field(model.config.conv_kernel, model.config.conv_stride))
        self._device = torch.device(device)
        model = model.to(self._device).eval()
        self._model = model.half() if self.config.fp16 else model.float()
        self._processor = processor

    @staticmethod
    def _wrap_unmasked_parts(model: Any) -> None:
        if getattr(model.config, "feat_extract_norm", "layer") == "group":
            model.feature_extractor = PerUtterance(model.feature_extractor, axis=-1)
        model.encoder.pos_conv_embed = PerUtterance(model.encoder.pos_conv_embed, axis=1)

    def _states(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> list[torch.Tensor]:
        output = self._model(inputs, attention_mask=mask, output_hidden_states=True)
        blocks = self.shape.blocks
        return [
            output.last_hidden_state if layer == blocks else output.hidden_states[layer] for layer in self.config.layers
        ]

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        """(N, len(layers), D) float32 pooled vectors of 16 kHz mono waveforms run as one batch."""
        if self._model is None:
            raise RuntimeError("HFLayersExtractor.setup(device) must be called before extracting")
        dtype = torch.float16 if self.config.fp16 else torch.float32
        with torch.inference_mode():
            embed = self._embed_whisper if self.shape.is_whisper else self._embed_frames
            pooled = embed(waves, dtype)
        return torch.stack(pooled, dim=1).cpu().numpy()

    def _embed_whisper(self, waves: list[np.ndarray], dtype: torch.dtype) -> list[torch.Tensor]:
        chunks = [(owner, chunk) for owner, wave in enumerate(waves) for chunk in windows(wave)]
        mels = [
            self._processor(np.asarray(chunk, dtype=np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt")[
                "input_features"
            ][0]
            for _, chunk in chunks
        ]
        frames = torch.tensor([valid_frames(len(chunk)) for _, chunk in chunks], device=self._device)
        owners = torch.tensor([owner for owner, _ in chunks], device=self._device)
        states = self._states(torch.stack(mels).to(self._device, dtype), None)
        return [pool_windows(state, frames, owners, len(waves)) for state in states]

    def _embed_frames(self, waves: list[np.ndarray], dtype: torch.dtype) -> list[torch.Tensor]:
        values = [
            self._processor(np.asarray(wave, dtype=np.float32), sampling_rate=SAMPLE_RATE, return_tensors="np")[
                "input_values"
            ][0]
            for wave in waves
        ]
        lengths = torch.tensor([len(value) for value in values])
        inputs = torch.zeros(len(values), int(lengths.max()), dtype=torch.float32)
        for row, value in enumerate(values):
            inputs[row, : len(value)] = torch.from_numpy(np.asarray(value, dtype=np.float32))
        mask = lengths_to_mask(lengths, inputs.shape[1]).long()
        config = self._model.config
        frames = conv_output_frames(lengths, list(config.conv_kernel), list(config.conv_stride))
        for module, steps in ((self._model.feature_extractor, lengths), (self._model.encoder.pos_conv_embed, frames)):
            if isinstance(module, PerUtterance):
                module.lengths = steps.tolist()
        states = self._states(inputs.to(self._device, dtype), mask.to(self._device))
        frame_mask = lengths_to_mask(frames.to(self._device), states[0].shape[1])
        return [masked_mean(state, frame_mask) for state in states]

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """One :class:`Extracted` per record: the layers' vectors concatenated in ``config.layers`` order."""
        return extract_batched(self.name, self.embed, batch, self._device, self._min_samples)


def conv_receptive_field(kernels: list[int], strides: list[int]) -> int:
    """Samples the conv feature encoder needs for one frame."""
    span, jump = 1, 1
    for kernel, stride in zip(kernels, strides):
        span += (kernel - 1) * jump
        jump *= stride
    return span
