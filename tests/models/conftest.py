"""Fixtures of the model tests: small demo corpora, and one model trained on them with ``rdlr train``'s code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rdlr.corpora.demo import DemoConfig, generate_demo_corpora
from tests.helpers.model_training import train_quietly

SMALL_DEMO = DemoConfig(
    speakers_per_corpus=3,
    utterances_per_speaker=8,
    unlabeled_speakers=2,
    unlabeled_utterances_per_speaker=4,
    vote_corpora=(),
)
MAX_EPOCHS = 6


@dataclass
class Trained:
    """A model folder and what it was trained from."""

    folder: Path
    store: Path
    manifest: Path
    outcome: Any


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo generator's manifest for 4 labeled corpora × 3 speakers × 8 utterances and 8 unlabeled ones."""
    return generate_demo_corpora(tmp_path_factory.mktemp("demo"), seed=0, config=SMALL_DEMO)


@pytest.fixture(scope="session")
def demo_model(ray_session: Any, demo_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """IS10 + method ce (batch 32) on the small demo corpora, extracted with Ray Data into a fresh store."""
    root = tmp_path_factory.mktemp("demo_model")
    store, folder = root / "store", root / "model"
    outcome = train_quietly(
        [demo_manifest], "ce", folder, store, hparams={"batch_size": 32}, training={"max_epochs": MAX_EPOCHS}
    )
    return Trained(folder, store, demo_manifest, outcome)
