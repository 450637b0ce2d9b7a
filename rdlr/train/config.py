"""What a trial is asked to do and what it returns: the training protocol of Section 3.2 (:class:`TrainConfig`)
and the outcome of one trial (:class:`TrialResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rdlr.corpora.splits import POD_TEST_CHOICES
from rdlr.losses import AE_REDUCTIONS
from rdlr.methods import STAGE1_CHOICES

LR_ON_SMOOTHED: tuple[str, ...] = ("smooth_again", "replace")
STAGE2_ONLY: tuple[str, ...] = ("lr_stage1", "lr_on_smoothed")  # settings the stage-1 model does not see
NOT_LEARNED: tuple[str, ...] = ("device", "eval_batch_size", "eval_test_each_epoch")  # left out of cache keys


@dataclass(frozen=True)
class TrainConfig:
    """Training protocol settings (Section 3.2) and the options for the paper's ambiguous readings.

    ``ae_reduction``: AE loss (12) averaged over dimensions and samples (``mean``) or summed over dimensions as
    printed (``sum``). ``proxy_lr_factor``: the Proxy-Anchor proxies learn at ``lr`` × this factor (100 in [26]).
    ``lr_stage1``: the pre-trained model of LR (10) is the same method without LR (``same_method``) or the
    proposed system without LR (``proposed``, Section 2.2). ``lr_on_smoothed``: where the pre-trained model is
    wrong, LR smooths an already smoothed target again (``smooth_again``, (10) applied to the LS target) or
    replaces it by the smoothed one-hot vector (``replace``, the authors' snippet). ``pod_test``: a held-out POD
    is tested on all its labeled rows (``all``) or on its test partition only (``test_partition``, as the
    within-corpus row); the sweep applies it when it splits the data (:func:`rdlr.corpora.assign_roles`).

    ``eval_test_each_epoch``: also evaluate the test rows after every epoch (their UA then appears in the history);
    off by default, because only the best epoch's test metrics are reported and those are computed once, from the
    kept best-epoch weights, at the end of the trial (on a large held-out corpus such as POD, per-epoch test
    evaluation costs as much as the training epoch itself).

    All but :data:`NOT_LEARNED` (which do not change what is learned) and :data:`STAGE2_ONLY` (which the stage-1
    model does not see; the stage-1 method itself is in the key) are part of the stage-1 cache key."""

    max_epochs: int = 100
    lr: float = 2e-4
    patience: int = 5
    lr_patience: int = 2
    lr_factor: float = 0.1
    eval_batch_size: int = 8192
    cww_split: str = "val"
    ae_on_unlabeled: bool = True
    ae_reduction: str = "mean"
    proxy_lr_factor: float = 100.0
    lr_stage1: str = "same_method"
    lr_on_smoothed: str = "smooth_again"
    pod_test: str = "all"
    eval_test_each_epoch: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.cww_split not in ("val", "train"):
            raise ValueError(f"cww_split must be 'val' or 'train', got {self.cww_split!r}")
        choices = {
            "ae_reduction": AE_REDUCTIONS,
            "lr_stage1": STAGE1_CHOICES,
            "lr_on_smoothed": LR_ON_SMOOTHED,
            "pod_test": POD_TEST_CHOICES,
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}, got {getattr(self, name)!r}")
        if self.max_epochs < 1 or self.patience < 1:
            raise ValueError(f"max_epochs and patience must be ≥ 1, got {self.max_epochs}, {self.patience}")
        if self.lr_patience < 1:
            raise ValueError(
                f"lr_patience must be ≥ 1 (epochs without a better validation UA before the learning "
                f"rate drops), got {self.lr_patience}"
            )
        if not 0 < self.lr_factor < 1:
            raise ValueError(
                f"lr_factor must be in (0, 1) (the learning rate's multiplier at a drop), got {self.lr_factor}"
            )
        if not self.proxy_lr_factor > 0:
            raise ValueError(f"proxy_lr_factor must be > 0, got {self.proxy_lr_factor}")

    def cache_fields(self) -> dict[str, Any]:
        skipped = (*NOT_LEARNED, *STAGE2_ONLY)
        return {key: value for key, value in asdict(self).items() if key not in skipped}


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
