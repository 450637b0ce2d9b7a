"""Utterance features from the encoder of an openai-whisper checkpoint (any size), by layer.

Not in the paper: the paper uses Whisper only to transcribe (its text feeds BERT); the same checkpoint file
(``--whisper-checkpoint``) serves both. Whisper's encoder turns a 30 s log-mel window into 1500 frames; the
vector of a layer is the mean of that layer's states over the frames that cover the utterance
(:mod:`rdlr.features.whisper_windows`). Layers follow :mod:`rdlr.features.layers`: ``@0`` is the input to the
first block (convolutions + positional embedding), ``@N`` the output of block N, ``@L`` the output after
``ln_post``. Blocks after the highest layer asked for are not run.

The log-mel spectrogram is Whisper's own (``whisper.log_mel_spectrogram``), computed per window: it is normalised
by the window's own maximum, so a window never sees another utterance. Every window is exactly 30 s long and the
encoder has no padding mask to apply, so a batch of windows gives each utterance the vector it gets alone (up to
float rounding). On a GPU, ``fp16`` runs the encoder in half precision.

The checkpoint is read with :func:`rdlr.features.text.load_whisper` (weights-only unpickling: nothing in the
file runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rdlr.features.base import Extracted, Extractor, ExtractorConfig, Output
from rdlr.features.batching import extract_batched
from rdlr.features.layers import resolve_outputs
from rdlr.features.local_models import require_model_file, resolved_path
from rdlr.features.whisper_windows import pool_windows, valid_frames, windows

WHISPER_WHAT = "Whisper checkpoint (a local .pt file, e.g. medium.en.pt)"


@dataclass(frozen=True)
class WhisperEncoderConfig(ExtractorConfig):
    """``checkpoint``: local openai-whisper ``.pt`` file (stored resolved); ``layers``: the layers computed, each
    stored as its own feature set (one layer: the config of that feature set); ``fp16``: half precision (GPU)."""

    checkpoint: str
    layers: tuple[int, ...]
    fp16: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", resolved_path(self.checkpoint))
        object.__setattr__(self, "layers", tuple(int(layer) for layer in self.layers))

    def single(self, layer: int) -> WhisperEncoderConfig:
        """The config of one layer's feature set (what ``whisper@N`` alone is extracted with)."""
        return replace(self, layers=(layer,))


def whisper_dims(checkpoint: str | Path) -> dict[str, int]:
    """The ``dims`` of an openai-whisper checkpoint (n_audio_layer, n_audio_state, ...), read weights-only and
    memory-mapped where the file allows (only the small dict is touched)."""
    from rdlr.features.safe_unpickle import load_checkpoint
    from rdlr.features.text import WHISPER_ADVICE

    path = require_model_file(checkpoint, WHISPER_WHAT)
    state = load_checkpoint(path, advice=WHISPER_ADVICE, mmap=True)
    dims = state.get("dims") if isinstance(state, dict) else None
    if not isinstance(dims, dict) or not all(isinstance(dims.get(k), int) for k in ("n_audio_layer", "n_audio_state")):
        raise ValueError(
            f"{path}: not an openai-whisper checkpoint (no 'dims' with n_audio_layer and "
            f"n_audio_state). {WHISPER_ADVICE}"
        )
    return dims


def encoder_states(encoder: Any, mel: torch.Tensor, layers: tuple[int, ...]) -> list[torch.Tensor]:
    """The states of ``layers`` (see the module docstring) of a ``whisper.model.AudioEncoder`` for ``mel``
    (B, n_mels, 3000), each (B, 1500, D); blocks after the highest layer are not run."""
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = (x + encoder.positional_embedding).to(x.dtype)
    last = len(encoder.blocks)
    found = {0: x}
    for index, block in enumerate(encoder.blocks, start=1):
        if index > max(layers):
            break
        x = block(x)
        found[index] = encoder.ln_post(x) if index == last else x
    return [found[layer] for layer in layers]


class WhisperEncoderExtractor(Extractor):
    """Mean-pooled Whisper encoder states of one or more layers; ``dim`` = the encoder width (one layer's).

    ``requests`` maps each feature-set name asked for (``whisper``, ``whisper@6``, ``whisper@all``) to its layer
    (:func:`rdlr.features.layers.resolve_outputs`); the layers all of them need are computed together and each is
    stored as its own feature set (:meth:`outputs`). The checkpoint's ``dims`` are read here, so a layer out of
    range fails before any worker starts."""

    layered = True

    def __init__(
        self, checkpoint: str, requests: Mapping[str, int | str | None] | None = None, *, fp16: bool = False
    ) -> None:
        dims = whisper_dims(checkpoint)
        self.blocks = int(dims["n_audio_layer"])
        self.named = resolve_outputs(requests or {"whisper": None}, "whisper", self.blocks, Path(checkpoint).name)
        layers = tuple(sorted({layer for _, layer in self.named}))
        self.config = WhisperEncoderConfig(checkpoint, layers, fp16)
        self.name = self.named[0][0] if len(self.named) == 1 else "whisper"
        self.dim = int(dims["n_audio_state"])
        self.n_mels = int(dims.get("n_mels", 80))
        self._model: Any = None
        self._device = torch.device("cpu")

    def outputs(self) -> list[Output]:
        """One feature set per requested layer: its store name, its own one-layer config, its slice."""
        return [Output(name, self.config.single(layer), self.config.layers.index(layer)) for name, layer in self.named]

    def check_models(self) -> None:
        """The checkpoint file exists."""
        require_model_file(self.config.checkpoint, WHISPER_WHAT)

    def setup(self, device: str = "cpu") -> None:
        """Load the checkpoint (encoder kept, decoder dropped) onto ``device``; fp16 needs a GPU."""
        from rdlr.features.text import load_whisper

        if self.config.fp16 and not device.startswith("cuda"):
            raise ValueError(f"feature set {self.name!r}: fp16 needs a GPU (device cuda), not {device!r}")
        model = load_whisper(Path(require_model_file(self.config.checkpoint, WHISPER_WHAT)))
        encoder = model.encoder
        del model
        self._device = torch.device(device)
        encoder = encoder.to(self._device).eval()
        self._model = encoder.half() if self.config.fp16 else encoder.float()

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        """(N, len(layers), D) float32 pooled vectors of 16 kHz mono waveforms, all their windows in one batch."""
        import whisper

        if self._model is None:
            raise RuntimeError("WhisperEncoderExtractor.setup(device) must be called before extracting")
        mels, frames, owners = [], [], []
        for owner, wave in enumerate(waves):
            for chunk in windows(wave):
                audio = whisper.pad_or_trim(torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)))
                mels.append(whisper.log_mel_spectrogram(audio, self.n_mels, device=self._device))
                frames.append(valid_frames(len(chunk)))
                owners.append(owner)
        dtype = torch.float16 if self.config.fp16 else torch.float32
        with torch.inference_mode():
            states = encoder_states(self._model, torch.stack(mels).to(dtype), self.config.layers)
            frame_counts = torch.tensor(frames, device=self._device)
            owner_ids = torch.tensor(owners, device=self._device)
            pooled = [pool_windows(s, frame_counts, owner_ids, len(waves)) for s in states]
        return torch.stack(pooled, dim=1).cpu().numpy()

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """One :class:`Extracted` per record: the layers' vectors concatenated in ``config.layers`` order."""
        return extract_batched(self.name, self.embed, batch, self._device)
