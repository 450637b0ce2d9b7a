"""Plain-Python helpers shared by the slow reference loops of the loss and target tests."""

from __future__ import annotations

import math


def slow_argmax(row: list[float]) -> int:
    """Index of the first maximum, like torch.argmax."""
    best = 0
    for k in range(1, len(row)):
        if row[k] > row[best]:
            best = k
    return best


def slow_cos(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
