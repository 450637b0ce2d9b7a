"""A trial's inputs: roles are checked, and features are z-normalised with the training rows' statistics only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rdlr.train.data import TrialData, prepare
from synthetic import synthetic_table, synthetic_trial_data


def test_trial_data_rejects_missing_roles_and_unknown_roles():
    x, meta = synthetic_table(rows_per_corpus=16, unlabeled=0)
    with pytest.raises(ValueError, match="no utterance has role 'val'"):
        TrialData.from_table(x, meta, np.full(len(meta), "train"))
    with pytest.raises(ValueError, match=r"unknown role\(s\) \['dev'\]"):
        TrialData.from_table(x, meta, np.full(len(meta), "dev"))


def test_features_are_normalised_with_training_statistics_only():
    data = synthetic_trial_data(rows_per_corpus=40, unlabeled=8)
    prepared = prepare(data, "cpu")
    train = prepared.x[prepared.train]
    torch.testing.assert_close(train.mean(dim=0), torch.zeros(data.x.shape[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(train.std(dim=0), torch.ones(data.x.shape[1]), atol=1e-5, rtol=0)
    x = data.x.copy()
    x[data.indices("test")] += 100.0
    shifted = prepare(replace(data, x=x), "cpu")
    assert torch.equal(shifted.mean, prepared.mean) and torch.equal(shifted.std, prepared.std)
    assert len(prepared.unlabeled) == 8 and prepared.roles["test"].tolist() == data.indices("test").tolist()
    assert prepare(synthetic_trial_data(rows_per_corpus=40, unlabeled=0), "cpu").unlabeled is None
