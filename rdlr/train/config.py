"""What a trial is asked to do and what it returns: the training protocol of Section 3.2 (:class:`TrainConfig`)
and the outcome of one trial (:class:`TrialResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrainConfig:
    """Training protocol settings (Section 3.2); all but ``device`` and ``eval_batch_size`` (which do not change what
    is learned) are part of the stage-1 cache key."""

    max_epochs: int = 100
    lr: float = 2e-4
    patience: int = 5
    lr_patience: int = 2
    lr_factor: float = 0.1
    eval_batch_size: int = 8192
    cww_split: str = "val"
    ae_on_unlabeled: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.cww_split not in ("val", "train"):
            raise ValueError(f"cww_split must be 'val' or 'train', got {self.cww_split!r}")
        if self.max_epochs < 1 or self.patience < 1:
            raise ValueError(f"max_epochs and patience must be ≥ 1, got {self.max_epochs}, {self.patience}")

    def cache_fields(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("device", "eval_batch_size")}


@dataclass
class TrialResult:
    """Per-epoch ``history``, ``final`` metrics of the best epoch, and the trained model.

    ``state_dict`` holds the classifier's weights and the z-normalisation statistics; ``train_targets`` the
    training targets Ȳ actually used; ``stage1`` the stage-1 model's final metrics and training-set
    predictions for two-stage methods.
    """

    history: list[dict[str, Any]]
    final: dict[str, Any]
    state_dict: dict[str, Any]
    train_targets: np.ndarray
    stage1: dict[str, Any] | None = None
    wall_time_s: float = 0.0
