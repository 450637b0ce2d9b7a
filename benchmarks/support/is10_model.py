"""A model folder of the paper's four classes on IS10 features with random weights (seeded), for the benchmarks that
time the classifier or the service rather than training."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def is10_model_folder(root: Path, mean: np.ndarray, std: np.ndarray) -> Path:
    """``root/model``: a CE classifier F with random weights (torch seed 0) and the z-normalisation ``mean``/``std``."""
    import torch

    from rdlr.features.is10 import IS10_DIM, IS10Extractor
    from rdlr.labels import CLASSES
    from rdlr.model import EmotionClassifier
    from rdlr.models import ModelCard, save_model
    from rdlr.models.extractors import spec_of

    torch.manual_seed(0)
    card = ModelCard(
        classes=CLASSES,
        features=(spec_of("is10", IS10Extractor(), IS10_DIM),),
        feature_mean=mean.astype(np.float32),
        feature_std=std.astype(np.float32),
        method={"id": "ce"},
        hparams={},
        seed=0,
        training={},
        metrics={},
    )
    return save_model(root / "model", card, EmotionClassifier(IS10_DIM, len(CLASSES)).state_dict())
