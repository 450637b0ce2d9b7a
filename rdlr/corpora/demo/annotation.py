"""The labels of a demo corpus: class counts that follow its prior, the "unreliable" labels (audio rendered neutral
while the label names an emotion: what labeling reliability (10) is meant to find) and simulated annotator votes
(the soft-label targets)."""

from __future__ import annotations

import numpy as np

from rdlr.labels import CLASSES, NUM_CLASSES


def allocate(prior: tuple[float, ...], total: int) -> np.ndarray:
    """Integer class counts summing to ``total`` in proportion to ``prior`` (largest remainder)."""
    exact = np.asarray(prior) / np.sum(prior) * total
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: total - counts.sum()]] += 1
    return counts


def draw_unreliable(emotions: np.ndarray, share: float, corpus: str, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(share × N) emotional (non-neutral) labels whose audio will be rendered neutral."""
    wanted = int(round(share * len(emotions)))
    candidates = np.flatnonzero(emotions != CLASSES.index("neutral"))
    if wanted > len(candidates):
        raise ValueError(
            f"unreliable_share={share} asks for {wanted} unreliable labels in {corpus}, which has "
            f"only {len(candidates)} non-neutral ones; lower DemoConfig.unreliable_share"
        )
    flags = np.zeros(len(emotions), dtype=bool)
    flags[rng.choice(candidates, wanted, replace=False)] = True
    return flags


def draw_votes(emotions: np.ndarray, unreliable: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated annotator vote counts (N × 4) whose strict plurality is the label.

    3-6 annotators per utterance; each picks the label with probability 0.7 (0.4 when the audio is neutral
    but the label is not, where neutral gets 0.4 too), otherwise another class, neutral favoured.
    """
    neutral = CLASSES.index("neutral")
    votes = np.zeros((len(emotions), NUM_CLASSES))
    for k, (label, doubtful) in enumerate(zip(emotions, unreliable)):
        probs = np.full(NUM_CLASSES, 0.2 if doubtful else 0.3 / NUM_CLASSES)
        probs[neutral] += 0.4 if doubtful else 0.3 / NUM_CLASSES
        probs[label] = 0.0
        probs = probs / probs.sum() * (0.6 if doubtful else 0.3)
        probs[label] = 0.4 if doubtful else 0.7
        counts = rng.multinomial(rng.integers(3, 7), probs)
        while np.any(np.delete(counts, label) >= counts[label]):
            rival = np.argmax(np.where(np.arange(NUM_CLASSES) == label, -1, counts))
            counts[rival] -= 1
            counts[label] += 1
        votes[k] = counts
    return votes
