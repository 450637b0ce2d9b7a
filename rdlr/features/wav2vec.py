"""The paper's W2V feature set (Section 3.2): wav2vec context-network output, mean-pooled over time, 512 dims.

"We extracted the W2V features from the context network of wav2vec and mean pooled to obtain a 512-dimensional
utterance-level feature set." The model is fairseq's public wav2vec *large* checkpoint (``wav2vec_large.pt``,
Schneider et al., 2019), run by the native re-implementation in :mod:`rdlr.features.wav2vec_model` (no fairseq).

Every utterance goes through the network on its own. Each conv layer normalises with a one-group GroupNorm over
the whole time axis, so zero-padding a shorter utterance inside a batch would change its features; one-by-one
processing keeps the vector of an utterance independent of what it is batched with and equal to what fairseq's
``wav2vec_featurize.py`` computes (one raw 16 kHz waveform, feature_extractor → feature_aggregator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from rdlr.features.audio import SAMPLE_RATE, record_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError
from rdlr.features.local_models import require_model_file, resolved_path
from rdlr.features.wav2vec_checkpoint import load_wav2vec
from rdlr.features.wav2vec_model import Wav2VecEncoder

W2V_DIM = 512
CHECKPOINT_WHAT = "wav2vec checkpoint (fairseq's wav2vec_large.pt)"


@dataclass(frozen=True)
class Wav2VecConfig(ExtractorConfig):
    """``checkpoint``: local path of fairseq's ``wav2vec_large.pt`` (stored resolved to an absolute path)."""

    checkpoint: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", resolved_path(self.checkpoint))


class Wav2VecExtractor(Extractor):
    """Mean over frames of the wav2vec context representations c (512-dim for wav2vec large)."""

    name: ClassVar[str] = "w2v"

    def __init__(self, config: Wav2VecConfig) -> None:
        self.config = config
        self.dim = W2V_DIM
        self._encoder: Wav2VecEncoder | None = None
        self._device = torch.device("cpu")

    def check_models(self) -> None:
        """The checkpoint file exists."""
        require_model_file(self.config.checkpoint, CHECKPOINT_WHAT)

    def setup(self, device: str = "cpu") -> None:
        """Load the checkpoint strictly (see :func:`load_wav2vec`) onto ``device``."""
        encoder = load_wav2vec(self.config.checkpoint)
        if encoder.arch.context_dim != self.dim:
            raise ValueError(
                f"{self.config.checkpoint}: context network has {encoder.arch.context_dim} channels, "
                f"the w2v feature set is {self.dim}-dim; use the wav2vec large checkpoint"
            )
        self._device = torch.device(device)
        self._encoder = encoder.to(self._device).eval()

    def embed(self, wave: np.ndarray) -> np.ndarray:
        """The pooled context vector of one 16 kHz mono waveform; too-short input raises :class:`UtteranceError`."""
        if self._encoder is None:
            raise RuntimeError("Wav2VecExtractor.setup(device) must be called before extracting")
        needed = self._encoder.arch.receptive_field
        if wave.shape[0] < needed:
            raise UtteranceError(f"too short for wav2vec ({wave.shape[0]} samples < {needed})")
        with torch.inference_mode():
            samples = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).to(self._device)
            context = self._encoder(samples.unsqueeze(0))
            pooled = context.mean(dim=2).squeeze(0)
        return pooled.float().cpu().numpy()

    def _extract_one(self, record: dict[str, Any]) -> Extracted:
        path = record["path"]
        try:
            wave = record_audio(record)
        except UtteranceError as error:
            return Extracted(error=str(error))
        try:
            return Extracted(vector=self.embed(wave))
        except UtteranceError as error:
            return Extracted(error=f"{error}: {path}")
        except torch.OutOfMemoryError:
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            seconds = wave.shape[0] / SAMPLE_RATE
            return Extracted(error=f"out of {self._device.type} memory on a {seconds:.1f} s utterance: {path}")

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """One :class:`Extracted` per record, each utterance run alone (see the module docstring)."""
        return [self._extract_one(record) for record in batch]
