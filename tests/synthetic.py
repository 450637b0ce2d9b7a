"""Synthetic utterance-level features for trainer tests: four corpora with a shared emotion signal, a
corpus-specific shift, and an unlabeled corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rdlr.labels import CLASSES
from rdlr.train.data import TrialData

CORPORA = ("A", "B", "C", "D")


def synthetic_table(
    rows_per_corpus: int = 240, dim: int = 32, unlabeled: int = 128, seed: int = 0
) -> tuple[np.ndarray, pd.DataFrame]:
    """Features and manifest columns; class c raises feature c, corpus k shifts feature 8 + k."""
    rng = np.random.default_rng(seed)
    features, records = [], []
    for k, corpus in enumerate(CORPORA):
        labels = rng.integers(len(CLASSES), size=rows_per_corpus)
        x = rng.normal(size=(rows_per_corpus, dim))
        x[np.arange(rows_per_corpus), labels] += 1.5
        x[:, 8 + k] += 2.0
        features.append(x)
        records += [(corpus, CLASSES[y], f"{corpus}-spk{i % 8}") for i, y in enumerate(labels)]
    features.append(rng.normal(size=(unlabeled, dim)))
    records += [("U", "", f"U-spk{i % 4}") for i in range(unlabeled)]
    meta = pd.DataFrame(records, columns=["corpus", "label", "speaker"])
    return np.concatenate(features).astype(np.float32), meta


def out_of_corpus_roles(meta: pd.DataFrame, held_out: str = "D") -> np.ndarray:
    """Held-out corpus = test, unlabeled corpus = unlabeled, speakers 6–7 of the others = validation."""
    speaker_number = meta["speaker"].str.rsplit("spk", n=1).str[1].astype(int)
    roles = np.where(speaker_number >= 6, "val", "train").astype(object)
    roles[meta["corpus"].to_numpy() == held_out] = "test"
    roles[meta["label"].to_numpy() == ""] = "unlabeled"
    return roles.astype(str)


def synthetic_trial_data(seed: int = 0, **kwargs: int) -> TrialData:
    x, meta = synthetic_table(seed=seed, **kwargs)
    return TrialData.from_table(x, meta, out_of_corpus_roles(meta))
