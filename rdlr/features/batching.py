"""Running a batch of utterances through an encoder: audio read per record (failures become error rows), one
padded batch on the device, halved again and again when the device runs out of memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rdlr.features.audio import SAMPLE_RATE, record_audio
from rdlr.features.base import Extracted, UtteranceError

Embed = Callable[[list[np.ndarray]], np.ndarray]


def embed_or_halve(embed: Embed, waves: list[np.ndarray], device: torch.device) -> list[np.ndarray | str]:
    """``embed(waves)`` row by row; on out-of-memory the batch is split in two and each half run again, down to
    one utterance, whose failure is returned as its error reason."""
    try:
        return list(embed(waves))
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if len(waves) > 1:
            half = len(waves) // 2
            return embed_or_halve(embed, waves[:half], device) + embed_or_halve(embed, waves[half:], device)
        return [f"out of {device.type} memory on a {waves[0].shape[0] / SAMPLE_RATE:.1f} s utterance"]


def extract_batched(
    name: str, embed: Embed, batch: list[dict[str, Any]], device: torch.device, min_samples: int = 1
) -> list[Extracted]:
    """One :class:`Extracted` per record of ``batch``: the rows of ``embed`` (N, layers, D) flattened to one
    vector per utterance (the layers concatenated), or the reason it has none."""
    results = [Extracted() for _ in batch]
    ready: list[tuple[int, np.ndarray]] = []
    for index, record in enumerate(batch):
        try:
            wave = record_audio(record)
            if wave.shape[0] < min_samples:
                raise UtteranceError(
                    f"too short for {name} ({wave.shape[0]} samples < {min_samples}): {record['path']}"
                )
            ready.append((index, wave))
        except UtteranceError as error:
            results[index].error = str(error)
    if ready:
        outcomes = embed_or_halve(embed, [wave for _, wave in ready], device)
        for (index, _), outcome in zip(ready, outcomes):
            if isinstance(outcome, str):
                results[index].error = f"{outcome}: {batch[index]['path']}"
            else:
                results[index].vector = np.asarray(outcome, dtype=np.float32).reshape(-1)
    return results
