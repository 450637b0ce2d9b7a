"""Checks a model folder passes before it predicts: weights and classes that cannot give silent garbage.

Each failure is a :class:`~rdlr.models.errors.ModelFolderError` of one line naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from rdlr.labels import LabelSetError
from rdlr.labels import check_classes as check_class_names
from rdlr.models.errors import ModelFolderError

WEIGHT_DTYPES = (torch.float16, torch.float32, torch.float64)
STD_FLOOR = 1e-8
MAX_ABS_MEAN = 1e10  # far above any feature's scale (IS10 functionals stay below 1e6); overflows no float32 z-score


def check_weights(weights: Mapping[str, torch.Tensor], source: Path) -> None:
    """Every tensor floating point (float16/32/64) and every value finite."""
    for name, tensor in weights.items():
        if tensor.dtype not in WEIGHT_DTYPES:
            raise ModelFolderError(
                f"{source}: tensor {name!r} is {tensor.dtype}, not float16/32/64; re-export the model"
            )
        if not torch.isfinite(tensor).all():
            raise ModelFolderError(f"{source}: tensor {name!r} holds NaN or infinite values; re-export the model")


def check_classes(classes: Sequence[str], source: Path) -> None:
    """``classes`` at least two distinct class names, each a word (:func:`rdlr.labels.check_classes`): the model's
    outputs in order."""
    try:
        check_class_names(classes, "classes")
    except LabelSetError as error:
        raise ModelFolderError(f"{source}: {error}") from None
