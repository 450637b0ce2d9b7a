"""Utterance vectors from frame or token sequences: the mean over the valid (unpadded) positions."""

from __future__ import annotations

import torch


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, T, D) over the positions where ``mask`` (B, T) is nonzero → (B, D), in float32."""
    weights = mask.to(dtype=torch.float32).unsqueeze(-1)
    counts = weights.sum(dim=1).clamp_min(1.0)
    return (hidden.float() * weights).sum(dim=1) / counts


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Boolean (B, max_length) mask, True for the first ``lengths[b]`` positions of row b."""
    positions = torch.arange(max_length, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)
