"""Fixtures of the service tests: model folders to serve (random IS10 classifiers whose normalisation statistics
come from real recordings when EmoDB is there, else from generated speech-like sounds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rdlr.features.is10 import IS10_DIM, IS10Extractor
from rdlr.labels import CLASSES
from rdlr.model import EmotionClassifier
from rdlr.models import ModelCard, save_model
from rdlr.models.extractors import spec_of
from tests.conftest import EMODB_ROOT

EMODB_WAV = EMODB_ROOT / "wav"


def speechlike_files(folder: Path, count: int) -> list[Path]:
    """``count`` WAV files of a voiced-sounding signal with different pitch and loudness."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        t = np.arange(int(16_000 * (1.0 + 0.2 * (i % 5)))) / 16_000
        pitch = 100 + 15 * i
        voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6)) * (
            0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
        )
        paths.append(folder / f"voice{i:02d}.wav")
        sf.write(
            paths[-1], ((0.05 + 0.02 * (i % 4)) * voice + 0.005 * rng.normal(size=t.size)).astype(np.float32), 16_000
        )
    return paths


@pytest.fixture(scope="session")
def speech_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """20 recordings: EmoDB's first 20 when present, else generated ones."""
    if EMODB_WAV.is_dir():
        return sorted(EMODB_WAV.glob("*.wav"))[:20]
    return speechlike_files(tmp_path_factory.mktemp("voices"), 20)


def random_is10_model(folder: Path, features: np.ndarray, seed: int) -> Path:
    """An IS10 model with random weights whose statistics are those of ``features`` (so its outputs vary)."""
    torch.manual_seed(seed)
    card = ModelCard(
        classes=CLASSES,
        features=(spec_of("is10", IS10Extractor(), IS10_DIM),),
        feature_mean=features.mean(0),
        feature_std=features.std(0) + 1e-3,
        method={"id": "ce"},
        hparams={},
        seed=seed,
        training={"command": "test"},
        metrics={"val_ua": 0.25},
    )
    return save_model(folder, card, EmotionClassifier(IS10_DIM, len(CLASSES)).state_dict())


@pytest.fixture(scope="session")
def served_models(tmp_path_factory: pytest.TempPathFactory, speech_files: list[Path]) -> list[Path]:
    """Two model folders, ``alpha`` and ``beta``."""
    extractor = IS10Extractor()
    features = np.stack(
        [r.vector for r in extractor.extract([{"utt_id": p.stem, "path": str(p)} for p in speech_files])]
    )
    root = tmp_path_factory.mktemp("served")
    return [random_is10_model(root / name, features, seed) for seed, name in enumerate(("alpha", "beta"))]
