"""Evaluation metrics: those of the paper (Section 3.2), unweighted accuracy (UA), weighted accuracy (WA) and the
confusion matrix, and two beside them, macro-F1 and the recall of each class.

Inputs are 1-D arrays of class indices (numpy arrays, lists or torch tensors); outputs are Python floats
(fractions in [0, 1]) or a numpy array.

Why UA is averaged over the classes present: ``docs/decisions.md#metrics``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rdlr.labels import NUM_CLASSES

__all__ = ["confusion_matrix", "macro_f1", "per_class_recall", "unweighted_accuracy", "weighted_accuracy"]


def _as_indices(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # torch tensor, possibly on a GPU
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    whole = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.mod(arr, 1) == 0))
    )
    if arr.size and not whole:
        raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _pair(y_true: Any, y_pred: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    true = _as_indices(y_true, "y_true")
    pred = _as_indices(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} entries but y_pred has {pred.size}")
    if true.size == 0:
        raise ValueError("cannot compute a metric on empty input (y_true and y_pred have 0 entries)")
    for name, arr in (("y_true", true), ("y_pred", pred)):
        if arr.min() < 0 or arr.max() >= num_classes:
            raise ValueError(
                f"{name} has class indices outside [0, {num_classes}) (min {arr.min()}, max {arr.max()}); "
                "remove unlabeled rows (-1) or pass the right num_classes"
            )
    return true, pred


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Counts (num_classes × num_classes, int64): rows are true classes, columns predicted classes."""
    true, pred = _pair(y_true, y_pred, num_classes)
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def unweighted_accuracy(y_true: Any, y_pred: Any, num_classes: int = NUM_CLASSES) -> float:
    """UA: mean of the per-class recalls over the classes present in ``y_true`` (absent classes are skipped)."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    present = support > 0
    recalls = np.diag(cm)[present] / support[present]
    return float(recalls.mean())


def weighted_accuracy(y_true: Any, y_pred: Any, num_classes: int = NUM_CLASSES) -> float:
    """WA: the overall accuracy, i.e. the fraction of utterances classified correctly."""
    true, pred = _pair(y_true, y_pred, num_classes)
    return float(np.mean(true == pred))


def per_class_recall(y_true: Any, y_pred: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Recall of each class (float64, length ``num_classes``): correct / true count; NaN for a class absent from
    ``y_true``. UA is the mean of the non-NaN entries."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    recalls = np.full(num_classes, np.nan)
    present = support > 0
    recalls[present] = np.diag(cm)[present] / support[present]
    return recalls


def macro_f1(y_true: Any, y_pred: Any, num_classes: int = NUM_CLASSES) -> float:
    """Macro-F1: the mean over classes of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c), over the classes that occur in
    ``y_true`` or ``y_pred`` (so a class predicted but never true counts with F1 0), as scikit-learn's
    ``f1_score(average="macro")``."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    true_positive = np.diag(cm).astype(np.float64)
    false_positive = cm.sum(axis=0) - true_positive
    false_negative = cm.sum(axis=1) - true_positive
    occurring = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    denominator = 2 * true_positive + false_positive + false_negative
    return float(np.mean(2 * true_positive[occurring] / denominator[occurring]))
