"""Plain-Python helpers shared by the slow reference loops of the loss and target tests."""

from __future__ import annotations


def slow_argmax(row: list[float]) -> int:
    """Index of the first maximum, like torch.argmax."""
    best = 0
    for k in range(1, len(row)):
        if row[k] > row[best]:
            best = k
    return best
