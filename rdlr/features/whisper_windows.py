"""Whisper's 30 s input window: how an utterance is cut into windows and which encoder frames cover it.

Whisper's encoder takes exactly 30 s of log-mel frames (3000 frames, 10 ms hop) and halves them with a stride-2
convolution: 1500 frames of 20 ms, i.e. one encoder frame per 320 samples at 16 kHz. An utterance is padded to
30 s with silence as Whisper does (``whisper.pad_or_trim``), and only the first ⌈samples / 320⌉ frames, the ones
that cover the utterance, are pooled; the rest cover padding. A longer utterance is cut into consecutive 30 s
windows whose valid frames are pooled together (one mean over all of them).
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # 480000
SAMPLES_PER_FRAME = 320  # mel hop 160 x conv stride 2


def windows(wave: np.ndarray) -> list[np.ndarray]:
    """``wave`` cut into consecutive windows of at most 30 s (the last one shorter)."""
    return [wave[start : start + WINDOW_SAMPLES] for start in range(0, len(wave), WINDOW_SAMPLES)]


def valid_frames(samples: int) -> int:
    """Encoder frames that cover ``samples`` samples of a window: ⌈samples / 320⌉."""
    return -(-samples // SAMPLES_PER_FRAME)


def pool_windows(states: torch.Tensor, frames: torch.Tensor, owners: torch.Tensor, count: int) -> torch.Tensor:
    """(count, D) float32: for each utterance the mean of the first ``frames[w]`` frames of every window ``w`` it
    owns (``owners[w]``), from ``states`` (W, T, D) — all its valid frames pooled together."""
    positions = torch.arange(states.shape[1], device=states.device)
    mask = (positions.unsqueeze(0) < frames.unsqueeze(1)).to(torch.float32)  # (W, T)
    sums = torch.einsum("wt,wtd->wd", mask, states.float())
    totals = torch.zeros(count, states.shape[-1], device=states.device).index_add_(0, owners, sums)
    counts = torch.zeros(count, device=states.device).index_add_(0, owners, mask.sum(dim=1))
    return totals / counts.clamp_min(1.0).unsqueeze(1)
