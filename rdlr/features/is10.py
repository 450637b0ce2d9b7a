"""INTERSPEECH 2010 Paralinguistic Challenge features (the paper's "IS10", Section 3.2): 1582 openSMILE functionals.

Audio goes through :func:`rdlr.features.audio.load_audio` (mono, 16 kHz), or comes decoded in a record's ``audio``,
and reaches openSMILE as a signal, so a stereo or 48 kHz recording yields the features of its mono 16 kHz version;
openSMILE's own file reader would take channel 0 at the file's rate, which changes the IS10 frame grid and filter
banks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rdlr.features.audio import SAMPLE_RATE, record_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError

IS10_DIM = 1582


@dataclass(frozen=True)
class IS10Config(ExtractorConfig):
    """openSMILE settings; every field is part of the feature store's cache key."""

    feature_set: str = "IS10"
    feature_level: str = "Functionals"
    sample_rate: int = SAMPLE_RATE


class IS10Extractor(Extractor):
    """openSMILE IS10 functionals of each utterance (one 1582-dim float32 vector)."""

    name: ClassVar[str] = "is10"
    gpu_capable: ClassVar[bool] = False  # openSMILE runs on CPU whatever the device

    def __init__(self, config: IS10Config | None = None) -> None:
        self.config = config or IS10Config()
        if self.config.sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"IS10Config.sample_rate={self.config.sample_rate}: load_audio delivers {SAMPLE_RATE} Hz; "
                f"keep the default"
            )
        self.dim = IS10_DIM
        self._smile: Any = None

    def setup(self, device: str = "cpu") -> None:
        """Build the openSMILE pipeline (CPU only; ``device`` is accepted for interface compatibility)."""
        import opensmile

        try:
            feature_set = opensmile.FeatureSet[self.config.feature_set]
            feature_level = opensmile.FeatureLevel[self.config.feature_level]
        except KeyError as error:
            raise ValueError(
                f"unknown openSMILE name {error} in {self.config}; valid feature sets: "
                f"{', '.join(m.name for m in opensmile.FeatureSet)}; levels: "
                f"{', '.join(m.name for m in opensmile.FeatureLevel)}"
            ) from None
        self._smile = opensmile.Smile(feature_set=feature_set, feature_level=feature_level)
        self.dim = len(self._smile.feature_names)

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """IS10 functionals per record (``path`` is read); unreadable utterances come back with a reason."""
        if self._smile is None:
            self.setup()
        return [self._one(record) for record in batch]

    def features_of_signal(self, audio: np.ndarray) -> np.ndarray:
        """IS10 functionals of a 16 kHz mono signal, as float32."""
        if self._smile is None:
            self.setup()
        values = self._smile.process_signal(audio, self.config.sample_rate).to_numpy(dtype=np.float32)
        return values.reshape(-1)

    def _one(self, record: dict[str, Any]) -> Extracted:
        path = str(record["path"])
        try:
            audio = record_audio(record)
        except UtteranceError as error:
            return Extracted(error=str(error))
        try:
            vector = self.features_of_signal(audio)
        except (RuntimeError, ValueError, OSError) as error:
            return Extracted(error=f"opensmile failed ({error}): {path}")
        if vector.shape != (self.dim,):
            return Extracted(error=f"opensmile returned {vector.size} values, expected {self.dim}: {path}")
        if not np.isfinite(vector).all():
            return Extracted(error=f"non-finite features: {path}")
        return Extracted(vector=vector)
