"""z-normalisation statistics of groups of rows (:mod:`rdlr.normalization`): per corpus or per speaker.

Each group's mean and std are fitted on its rows in two passes over chunks, accumulated in float64 (a corpus may
hold 100k rows of 1582 dims with offsets far above their spread), and the std is floored as the paper's training
statistics are (:func:`floored_std`). Every group's statistics are computed before any row is changed, since a
corpus' fallback group is fitted on rows that also belong to its speakers' groups.
"""

from __future__ import annotations

import numpy as np
import torch

from rdlr.normalization import StatisticsGroups

RELATIVE_STD_FLOOR = 1e-3  # a dimension's std is at least this fraction of the median std of the dimensions
CHUNK_ROWS = 8192  # rows read at a time (bounds the temporary copies)


def floored_std(std: torch.Tensor) -> torch.Tensor:
    """``std`` floored at :data:`RELATIVE_STD_FLOOR` × the median of its non-zero entries (1 when none is)."""
    varying = std[std > 0]
    typical = varying.median() if varying.numel() else torch.ones((), dtype=std.dtype, device=std.device)
    return std.clamp_min(RELATIVE_STD_FLOOR * typical)


def row_statistics(x: torch.Tensor, rows: np.ndarray, where: str = "group") -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and floored std (ddof 1) per dimension of ``x``'s ``rows``, in ``x``'s dtype."""
    if len(rows) < 2:
        raise ValueError(f"{where}: {len(rows)} utterance(s); z-normalisation statistics need at least 2")
    index = torch.as_tensor(rows, device=x.device)
    chunks = [index[start : start + CHUNK_ROWS] for start in range(0, len(index), CHUNK_ROWS)]
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    for chunk in chunks:
        total += x[chunk].double().sum(dim=0)
    mean = total / len(index)
    squares = torch.zeros_like(total)
    for chunk in chunks:
        squares += (x[chunk].double() - mean).square().sum(dim=0)
    std = (squares / (len(index) - 1)).sqrt()
    return mean.to(x.dtype), floored_std(std.to(x.dtype))


def normalise_in_groups(x: torch.Tensor, groups: StatisticsGroups) -> None:
    """z-normalise every row of ``x`` in place with its group's statistics (row ``i``: group ``groups.member[i]``,
    fitted on the rows ``groups.fit[g]``)."""
    statistics = [row_statistics(x, rows, name) for name, rows in zip(groups.names, groups.fit, strict=True)]
    member = torch.as_tensor(groups.member, device=x.device)
    for g, (mean, std) in enumerate(statistics):
        index = torch.nonzero(member == g).flatten()
        for start in range(0, len(index), CHUNK_ROWS):
            chunk = index[start : start + CHUNK_ROWS]
            x[chunk] = (x[chunk] - mean) / std
