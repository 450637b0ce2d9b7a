"""A trial's inputs: roles are checked, and features are z-normalised with the training rows' statistics only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rdlr.train.data import TrialData, prepare
from tests.helpers.synthetic import out_of_corpus_roles, synthetic_table, synthetic_trial_data


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


def test_prepare_copies_only_the_rows_the_trial_uses_grouped_by_role():
    x, meta = synthetic_table(rows_per_corpus=30, unlabeled=6)
    roles = out_of_corpus_roles(meta)
    roles[meta["corpus"].to_numpy() == "C"] = "unused"
    data = TrialData.from_table(x, meta, roles)
    prepared = prepare(data, "cpu")
    used = ("train", "val", "test", "unlabeled")
    assert len(prepared.x) == sum(len(data.indices(role)) for role in used) == len(x) - 30
    assert prepared.x.dtype == torch.float32 and not np.shares_memory(prepared.x.numpy(), data.x)
    reference = (torch.from_numpy(x) - prepared.mean) / prepared.std  # every row, normalised the old way
    for role in used:
        rows = data.indices(role)
        view = prepared.rows(role)
        assert view.untyped_storage().data_ptr() == prepared.x.untyped_storage().data_ptr()  # a view, no copy
        assert torch.equal(view, reference[rows])
        assert prepared.labels[prepared.blocks[role]].tolist() == data.labels[rows].tolist()
    assert torch.equal(prepared.x[prepared.train], prepared.rows("train"))
    assert torch.equal(prepared.x[prepared.unlabeled], prepared.rows("unlabeled"))
    assert prepared.roles["train"].tolist() == data.indices("train").tolist()
    assert torch.equal(prepared.mean, torch.from_numpy(x[data.indices("train")]).mean(dim=0))


def test_prepare_accepts_read_only_float64_features():
    x, meta = synthetic_table(rows_per_corpus=20, unlabeled=4)
    x64 = x.astype(np.float64)
    x64.setflags(write=False)
    data = TrialData(
        x=x64,
        labels=TrialData.from_table(x, meta, out_of_corpus_roles(meta)).labels,
        corpus=meta["corpus"].to_numpy(),
        roles=out_of_corpus_roles(meta),
    )
    prepared = prepare(data, "cpu")
    assert prepared.x.dtype == torch.float32
    torch.testing.assert_close(prepared.x, prepare(TrialData.from_table(x, meta, data.roles), "cpu").x)


def test_prepare_leaves_out_unlabeled_rows_on_request():
    data = synthetic_trial_data(rows_per_corpus=20, unlabeled=12)
    without = prepare(data, "cpu", unlabeled=False)
    assert without.unlabeled is None and len(without.x) == len(data.x) - 12
    assert torch.equal(without.x, prepare(data, "cpu").x[: len(data.x) - 12])
