"""Utterance features from any transformers speech encoder on local disk (wav2vec 2.0, HuBERT, WavLM, ...).

Not in the paper: an extension so that the W2V slot of Figure 3 can be filled by newer self-supervised encoders.
The hidden states of one layer (``layer`` indexes ``hidden_states``: 0 = the input to the first transformer layer,
-1 = the last layer) are mean-pooled over the frames that belong to the utterance.

Batching follows the model's own feature extractor. Where it returns an attention mask (layer-norm conv models
such as wav2vec2-large-lv60, HuBERT-large, WavLM), a batch is zero-padded and the mask keeps padding out of
attention and out of the mean, so a vector does not depend on its batch (up to float rounding). Where it does not
(group-norm models such as wav2vec2-base and HuBERT-base, whose first conv layer normalises over the whole time
axis, padding included), utterances are run one at a time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdlr.features.audio import SAMPLE_RATE, record_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError
from rdlr.features.local_models import from_local_folder, hidden_size, require_model_dir, resolved_path
from rdlr.features.pooling import lengths_to_mask, masked_mean


@dataclass(frozen=True)
class HFEncoderConfig(ExtractorConfig):
    """``model_dir``: a local save_pretrained folder; ``layer``: index into ``hidden_states``.

    ``model_dir`` is stored absolute but with symlinks kept (the feature-set name comes from its last component);
    ``resolved_dir`` (filled in, symlinks followed) puts the folder actually read into the cache key.
    """

    model_dir: str
    layer: int = -1
    resolved_dir: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if not isinstance(self.layer, int) or isinstance(self.layer, bool):
            raise TypeError(f"layer must be an int, got {self.layer!r}")
        object.__setattr__(self, "model_dir", os.path.abspath(os.path.expanduser(self.model_dir)))
        object.__setattr__(self, "resolved_dir", resolved_path(self.model_dir))


def feature_set_name(model_dir: str) -> str:
    """The store name of an encoder's features: ``hf-`` + the folder name with runs of characters outside
    ``[A-Za-z0-9_.-]`` replaced by ``_`` (the rule of :func:`rdlr.features.registry.store_name`)."""
    folder = Path(model_dir.rstrip("/\\")).name
    if not folder:
        raise ValueError(f"cannot name a feature set after the folder of {model_dir!r}")
    return "hf-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", folder)


def conv_output_frames(samples: torch.Tensor, kernels: list[int], strides: list[int]) -> torch.Tensor:
    """Frames the conv feature encoder makes from ``samples`` (no padding: ⌊(L - k) / s⌋ + 1 per layer)."""
    frames = samples.clone()
    for kernel, stride in zip(kernels, strides):
        frames = torch.div(frames - kernel, stride, rounding_mode="floor") + 1
    return frames


class HFEncoderExtractor(Extractor):
    """Mean-pooled hidden states of one layer of a local transformers audio encoder; ``dim`` = hidden_size."""

    def __init__(self, config: HFEncoderConfig) -> None:
        self.config = config
        self.name = feature_set_name(config.model_dir)
        self.dim = hidden_size(config.resolved_dir, "transformers audio encoder")
        self._model: Any = None
        self._processor: Any = None
        self._device = torch.device("cpu")
        self._kernels: list[int] = []
        self._strides: list[int] = []
        self._batched = False

    def check_models(self) -> None:
        """The model folder exists and holds a ``config.json``."""
        require_model_dir(self.config.resolved_dir, "transformers audio encoder")

    def setup(self, device: str = "cpu") -> None:
        """Load feature extractor and model from the local folder (``local_files_only``) onto ``device``."""
        from transformers import AutoFeatureExtractor, AutoModel

        model_dir = require_model_dir(self.config.resolved_dir, "transformers audio encoder")
        what = "transformers audio encoder"
        processor = from_local_folder(AutoFeatureExtractor.from_pretrained, model_dir, what)
        model = from_local_folder(AutoModel.from_pretrained, model_dir, what)
        rate = getattr(processor, "sampling_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{model_dir}: the encoder expects {rate} Hz audio; only {SAMPLE_RATE} Hz encoders work")
        kernels, strides = getattr(model.config, "conv_kernel", None), getattr(model.config, "conv_stride", None)
        if not kernels or not strides:
            raise ValueError(f"{model_dir}: config has no conv_kernel/conv_stride; not a wav2vec2-style encoder")
        layers = model.config.num_hidden_layers
        if not -(layers + 1) <= self.config.layer <= layers:
            raise ValueError(
                f"layer {self.config.layer} out of range for {model_dir} ({layers} transformer layers: "
                f"valid {-(layers + 1)}..{layers}, 0 = before the first layer, -1 = last)"
            )
        if model.config.hidden_size != self.dim:
            raise ValueError(f"{model_dir}: hidden_size {model.config.hidden_size} != config.json's {self.dim}")
        self._device = torch.device(device)
        self._model = model.float().to(self._device).eval()
        self._processor = processor
        self._kernels, self._strides = list(kernels), list(strides)
        self._batched = bool(getattr(processor, "return_attention_mask", False))

    @property
    def min_samples(self) -> int:
        """The shortest input that yields one frame."""
        span, jump = 1, 1
        for kernel, stride in zip(self._kernels, self._strides):
            span += (kernel - 1) * jump
            jump *= stride
        return span

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        """(N, dim) pooled vectors for 16 kHz mono waveforms run as one padded batch (with attention mask)."""
        if self._model is None:
            raise RuntimeError("HFEncoderExtractor.setup(device) must be called before extracting")
        inputs = self._processor(
            [np.asarray(wave, dtype=np.float32) for wave in waves],
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=self._batched,
            return_tensors="pt",
        )
        values = inputs["input_values"].to(self._device)
        mask = inputs.get("attention_mask")
        with torch.inference_mode():
            output = self._model(
                values, attention_mask=None if mask is None else mask.to(self._device), output_hidden_states=True
            )
            hidden = output.hidden_states[self.config.layer]
            samples = torch.tensor([wave.shape[0] for wave in waves], device=self._device)
            frames = conv_output_frames(samples, self._kernels, self._strides).clamp(max=hidden.shape[1])
            pooled = masked_mean(hidden, lengths_to_mask(frames, hidden.shape[1]))
        return pooled.cpu().numpy()

    def _run(self, waves: list[np.ndarray]) -> list[np.ndarray | str]:
        try:
            return list(self.embed(waves))
        except torch.OutOfMemoryError:
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            if len(waves) > 1:
                return [item for wave in waves for item in self._run([wave])]
            return [f"out of {self._device.type} memory on a {waves[0].shape[0] / SAMPLE_RATE:.1f} s utterance"]

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """One :class:`Extracted` per record; padded batch or one by one (see the module docstring)."""
        if self._model is None:
            raise RuntimeError("HFEncoderExtractor.setup(device) must be called before extracting")
        results = [Extracted() for _ in batch]
        ready: list[tuple[int, np.ndarray]] = []
        for index, record in enumerate(batch):
            try:
                wave = record_audio(record)
                if wave.shape[0] < self.min_samples:
                    raise UtteranceError(f"too short for {self.name} ({wave.shape[0]} samples): {record['path']}")
                ready.append((index, wave))
            except UtteranceError as error:
                results[index].error = str(error)
        groups = [ready] if self._batched and ready else [[item] for item in ready]
        for group in groups:
            for (index, _), outcome in zip(group, self._run([wave for _, wave in group])):
                if isinstance(outcome, str):
                    results[index].error = f"{outcome}: {batch[index]['path']}"
                else:
                    results[index].vector = np.asarray(outcome, dtype=np.float32)
        return results
