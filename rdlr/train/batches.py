"""Minibatch size M against the training rows: steps per epoch, a data-sized default for ``rdlr train`` and the
sweeps' warning for searched sets that leave too few steps (one place for ``rdlr train``, ``sweep``, ``reproduce``
and ``plan``).

The paper's M ∈ {1024, 2048, 4096} (Section 3.2) assumes ~15–60k training rows; on a corpus of a few hundred
utterances M = 1024 is one step per epoch, and the model barely trains before early stopping.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

TRAIN_MIN_STEPS = 8  # rdlr train picks a smaller default M below this many steps per epoch
SWEEP_MIN_STEPS = 4  # sweeps warn per job below this many
SMALLEST_BATCH = 8


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Optimiser steps in one epoch of ``rows`` training rows (the last, partial minibatch is a step too)."""
    return math.ceil(rows / batch_size) if rows > 0 else 0


def data_sized_batch(rows: int, default: int, min_steps: int = TRAIN_MIN_STEPS) -> int:
    """``default`` when it gives at least ``min_steps`` steps per epoch on ``rows`` rows, else the largest power of
    two that does (at least :data:`SMALLEST_BATCH`)."""
    if steps_per_epoch(rows, default) >= min_steps:
        return default
    batch = 2 ** max(0, math.floor(math.log2(max(1.0, rows / min_steps))))
    return max(SMALLEST_BATCH, min(default, batch))


def few_steps_warning(
    where: str, rows: int, batch_sizes: Iterable[int], min_steps: int = SWEEP_MIN_STEPS
) -> str | None:
    """A one-line warning naming ``where``, the rows, each M and its steps when any M leaves fewer than
    ``min_steps`` steps per epoch; ``None`` otherwise."""
    sizes = sorted(int(m) for m in batch_sizes)
    short = [m for m in sizes if steps_per_epoch(rows, m) < min_steps]
    if not short:
        return None
    steps = ", ".join(f"M {m}: {steps_per_epoch(rows, m)}" for m in short)
    suggestion = data_sized_batch(rows, max(sizes), TRAIN_MIN_STEPS)
    return (
        f"warning: {where}: {rows:,} training rows give fewer than {min_steps} steps per epoch ({steps}); "
        f"set search.space.batch_size (or search.space_per_protocol.<protocol>.batch_size) to sizes that "
        f"train, e.g. [{suggestion // 2}, {suggestion}, {suggestion * 2}]"
    )
