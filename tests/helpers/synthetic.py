"""The synthetic-data fixture of the test suite: utterance-level features with a shared emotion signal, a
corpus-specific shift and an unlabeled corpus, as a feature matrix plus manifest columns (trainer and sweep tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rdlr.labels import CLASSES
from rdlr.spec.sections import DEMO_LABELED, DEMO_UNLABELED
from rdlr.train.data import TrialData

CORPORA = ("A", "B", "C", "D")
SHIFTED_FEATURE = 8  # corpus k shifts feature SHIFTED_FEATURE + k


def synthetic_table(
    rows_per_corpus: int = 240,
    dim: int = 32,
    unlabeled: int = 128,
    seed: int = 0,
    corpora: Sequence[str] = CORPORA,
    unlabeled_corpus: str = "U",
    speakers: int = 8,
    classes: Sequence[str] = CLASSES,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Features and manifest columns (utt_id, corpus, label, speaker); class c of ``classes`` raises feature c,
    corpus k shifts feature 8 + k; ``speakers`` speakers per labeled corpus, 4 in the unlabeled one."""
    needed = SHIFTED_FEATURE + len(corpora)
    if dim < needed:
        raise ValueError(f"dim={dim} leaves no shifted feature for {len(corpora)} corpora; use dim ≥ {needed}")
    rng = np.random.default_rng(seed)
    features, records = [], []
    for k, corpus in enumerate(corpora):
        labels = rng.integers(len(classes), size=rows_per_corpus)
        x = rng.normal(size=(rows_per_corpus, dim))
        x[np.arange(rows_per_corpus), labels] += 1.5
        x[:, SHIFTED_FEATURE + k] += 2.0
        features.append(x)
        records += [(f"{corpus}-{i}", corpus, classes[y], f"{corpus}-spk{i % speakers}") for i, y in enumerate(labels)]
    features.append(rng.normal(size=(unlabeled, dim)))
    records += [
        (f"{unlabeled_corpus}-{i}", unlabeled_corpus, "", f"{unlabeled_corpus}-spk{i % 4}") for i in range(unlabeled)
    ]
    meta = pd.DataFrame(records, columns=["utt_id", "corpus", "label", "speaker"])
    return np.concatenate(features).astype(np.float32), meta


def demo_table(rows_per_corpus: int, unlabeled: int, speakers: int, dim: int = 12) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`synthetic_table` under the demo corpora's names: a sweep of a demo spec takes it as its is10 table."""
    return synthetic_table(
        rows_per_corpus=rows_per_corpus,
        dim=dim,
        unlabeled=unlabeled,
        corpora=DEMO_LABELED,
        unlabeled_corpus=DEMO_UNLABELED,
        speakers=speakers,
    )


def out_of_corpus_roles(meta: pd.DataFrame, held_out: str = "D") -> np.ndarray:
    """Held-out corpus = test, unlabeled corpus = unlabeled, speakers 6–7 of the others = validation."""
    speaker_number = meta["speaker"].str.rsplit("spk", n=1).str[1].astype(int)
    roles = np.where(speaker_number >= 6, "val", "train").astype(object)
    roles[meta["corpus"].to_numpy() == held_out] = "test"
    roles[meta["label"].to_numpy() == ""] = "unlabeled"
    return roles.astype(str)


def synthetic_trial_data(seed: int = 0, **kwargs: Any) -> TrialData:
    x, meta = synthetic_table(seed=seed, **kwargs)
    return TrialData.from_table(x, meta, out_of_corpus_roles(meta))
