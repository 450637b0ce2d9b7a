"""The learning-rate schedule of Section 3.2: "reduced the learning rate by multiplying 0.1 after 2 patience".

Read as: after ``patience`` epochs in a row without a better validation UA (strictly greater than the best so far),
every parameter group's learning rate is multiplied by ``factor`` and the count starts again. PyTorch's
``ReduceLROnPlateau(patience=p)`` drops only after p + 1 such epochs (it drops when the count *exceeds* p) and
counts a relative gain below 1e-4 as none; early stopping (:mod:`rdlr.train.loop`) counts like this class does.
"""

from __future__ import annotations

import torch


class PlateauDrop:
    """Multiply every learning rate of ``optimizer`` by ``factor`` after ``patience`` epochs without a better score.

    :meth:`step` takes the epoch's validation UA and returns whether the rate dropped after that epoch.
    :class:`rdlr.train.TrainConfig` checks the values (``lr_patience`` ≥ 1, ``lr_factor`` in (0, 1)).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, patience: int, factor: float) -> None:
        self.optimizer, self.patience, self.factor = optimizer, patience, factor
        self.best = float("-inf")
        self.epochs_without_improvement = 0

    def step(self, score: float) -> bool:
        if score > self.best:
            self.best, self.epochs_without_improvement = score, 0
            return False
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement < self.patience:
            return False
        for group in self.optimizer.param_groups:
            group["lr"] *= self.factor
        self.epochs_without_improvement = 0
        return True
