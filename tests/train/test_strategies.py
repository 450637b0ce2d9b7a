"""Normalisation strategies (rdlr.normalization, rdlr.train.data.prepare): per-corpus and per-speaker statistics
exactly as a slow loop computes them, the small-speaker fallback and its counts, no held-out label ever read, and
the paper's training statistics unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rdlr.normalization import MIN_SPEAKER_UTTERANCES, check_normalization, statistics_groups
from rdlr.train.data import TrialData, normalisation_statistics, prepare
from rdlr.train.statistics import RELATIVE_STD_FLOOR


def slow_normalised(x: np.ndarray, corpus: np.ndarray, speaker: np.ndarray, strategy: str, minimum: int) -> np.ndarray:
    """Each row z-normalised with the statistics of its group, found by a loop over every row (float64)."""
    out = np.empty(x.shape, dtype=np.float64)
    for i in range(len(x)):
        rows = [j for j in range(len(x)) if corpus[j] == corpus[i]]
        if strategy == "speaker" and speaker[i]:
            same = [j for j in rows if speaker[j] == speaker[i]]
            rows = same if len(same) >= minimum else rows
        values = x[rows].astype(np.float64)
        std = values.std(axis=0, ddof=1)
        std = np.maximum(std, RELATIVE_STD_FLOOR * np.median(std[std > 0]))
        out[i] = (x[i] - values.mean(axis=0)) / std
    return out


def corpora_table(seed: int = 0, n: int = 240) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Three corpora with their own offsets and scales, 10 speakers of unequal sizes (some below the minimum),
    a few utterances without a speaker, one constant dimension; held-out corpus C."""
    rng = np.random.default_rng(seed)
    corpus = rng.choice(["A", "B", "C"], n)
    scale = {"A": 1.0, "B": 30.0, "C": 0.2}
    offset = {"A": 0.0, "B": -50.0, "C": 400.0}
    x = rng.normal(size=(n, 6)) * rng.uniform(0.5, 5.0, 6)
    x = np.stack([x[i] * scale[c] + offset[c] for i, c in enumerate(corpus)])
    x[:, 2] = 7.0
    speaker = np.array([f"s{k}" for k in rng.choice(10, n, p=np.linspace(1, 19, 10) / 100)], dtype=object)
    speaker[rng.random(n) < 0.05] = ""
    labels = rng.choice(["neutral", "happy", "sad", "angry"], n)
    roles = np.where(corpus == "C", "test", np.where(rng.random(n) < 0.8, "train", "val"))
    meta = pd.DataFrame({"corpus": corpus, "speaker": speaker, "label": labels})
    return x.astype(np.float32), meta, roles


def normalised_rows(prepared, data: TrialData) -> np.ndarray:
    """The prepared matrix back in the table's row order (prepare groups rows by role)."""
    out = np.empty(prepared.x.shape, dtype=np.float32)
    for role, block in prepared.blocks.items():
        out[data.indices(role)] = prepared.x[block].numpy()
    return out


@pytest.mark.parametrize("strategy", ["corpus", "speaker"])
def test_statistics_per_corpus_and_speaker_match_a_slow_loop(strategy):
    x, meta, roles = corpora_table()
    data = TrialData.from_table(x, meta, roles, normalization=strategy)
    prepared = prepare(data, "cpu")
    expected = slow_normalised(
        x, meta["corpus"].to_numpy(), meta["speaker"].to_numpy(), strategy, MIN_SPEAKER_UTTERANCES
    )
    np.testing.assert_allclose(normalised_rows(prepared, data), expected, rtol=1e-5, atol=1e-4)


def test_the_training_strategy_is_the_papers_statistics_unchanged():
    x, meta, roles = corpora_table()
    prepared = prepare(TrialData.from_table(x, meta, roles), "cpu")
    mean, std = normalisation_statistics(torch.as_tensor(x[roles == "train"]))
    torch.testing.assert_close(prepared.mean, mean)
    data = TrialData.from_table(x, meta, roles)
    expected = (x - mean.numpy()) / std.numpy()
    np.testing.assert_allclose(normalised_rows(prepared, data), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strategy", ["train", "corpus", "speaker"])
def test_no_label_of_the_held_out_corpus_is_read(strategy):
    x, meta, roles = corpora_table()
    data = TrialData.from_table(x, meta, roles, normalization=strategy)
    shuffled = meta.copy()
    held_out = (meta["corpus"] == "C").to_numpy()
    shuffled.loc[held_out, "label"] = np.random.default_rng(5).permutation(meta.loc[held_out, "label"].to_numpy())
    other = TrialData.from_table(x, shuffled, roles, normalization=strategy)
    assert not np.array_equal(data.labels, other.labels)
    assert torch.equal(prepare(data, "cpu").x, prepare(other, "cpu").x)


def test_small_speakers_and_utterances_without_a_speaker_use_their_corpus_and_are_counted():
    corpus = np.array(["A"] * 50 + ["B"] * 12)
    speaker = np.array(["a1"] * 25 + ["a2"] * 20 + ["a3"] * 3 + [""] * 2 + ["b1"] * 12, dtype=object)
    groups = statistics_groups("speaker", corpus, speaker, min_utterances=20)
    assert groups.speakers == 2 and groups.fallback_speakers == 2 and groups.fallback_rows == 3 + 2 + 12
    assert groups.names == ("A/a1", "A/a2", "A", "B")
    member = groups.member
    assert (member[:25] == 0).all() and (member[25:45] == 1).all() and (member[45:50] == 2).all()
    np.testing.assert_array_equal(groups.fit[2], np.arange(50))  # the corpus fallback fits on all of A
    assert (member[50:] == 3).all()
    corpus_groups = statistics_groups("corpus", corpus, speaker)
    assert corpus_groups.names == ("A", "B") and corpus_groups.fallback_rows == 0


def test_unknown_strategies_are_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match="unknown normalisation 'global'; valid: train, corpus, speaker"):
        check_normalization("global")
