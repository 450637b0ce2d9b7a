"""The four emotion classes of the paper (Section 3.1) and their encoding as class indices."""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
NUM_CLASSES: int = len(CLASSES)
VOTE_COLUMNS: tuple[str, ...] = tuple(f"votes_{name}" for name in CLASSES)
UNLABELED: int = -1


def class_index(label: str) -> int:
    """Index of a class name in :data:`CLASSES`; raises with the valid names otherwise."""
    try:
        return CLASSES.index(label)
    except ValueError:
        raise ValueError(f"unknown emotion label {label!r}; valid: {', '.join(CLASSES)}") from None


def encode_labels(labels: np.ndarray | list[object]) -> np.ndarray:
    """Class indices for an array of label names; missing labels (None/NaN/"") become :data:`UNLABELED`."""
    out = np.full(len(labels), UNLABELED, dtype=np.int64)
    for i, label in enumerate(labels):
        if isinstance(label, str) and label:
            out[i] = class_index(label)
    return out
