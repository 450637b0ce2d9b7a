"""Models trained on shared prepared rows (PreparedRows: every seed of a configuration, a stage-1 model and its
stage 2 on one copy) equal models trained on rows of their own, and training leaves the shared rows as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.train import PreparedRows, TrainConfig, run_trial
from rdlr.train.data import prepare
from tests.helpers.synthetic import synthetic_trial_data

CONFIG = TrainConfig(max_epochs=2)
HPARAMS = {"batch_size": 32, "gamma": 0.5, "lambda_w": 2, "lambda_ae": 0.01}
SEEDS = (0, 1)


def small_data():
    return synthetic_trial_data(rows_per_corpus=40, dim=16, unlabeled=16)


@pytest.mark.slow
def test_seeds_on_shared_rows_train_the_models_of_seeds_on_their_own_rows():
    shared = PreparedRows(small_data())
    for method in ("lr", "cww_dagger"):  # a stage-1 model + stage 2; AE (12) + PEL (13) drawing unlabeled rows
        for seed in SEEDS:
            together = run_trial(shared, method, HPARAMS, seed, CONFIG)
            alone = run_trial(small_data(), method, HPARAMS, seed, CONFIG)
            assert together.history == alone.history
            assert together.final == alone.final
            for name, tensor in alone.state_dict["classifier"].items():
                assert torch.equal(together.state_dict["classifier"][name], tensor)


@pytest.mark.slow
def test_training_only_reads_the_shared_rows():
    rows = PreparedRows(small_data())
    prepared = rows.get("cpu", unlabeled=True)
    before = prepared.x.clone(), prepared.labels.clone(), prepared.mean.clone(), prepared.std.clone()
    run_trial(rows, "cww_dagger", HPARAMS, 0, CONFIG)
    assert rows.get("cpu", unlabeled=True) is prepared  # made once, reused
    for tensor, copy in zip((prepared.x, prepared.labels, prepared.mean, prepared.std), before):
        assert torch.equal(tensor, copy)
    fresh = prepare(small_data(), "cpu")
    assert torch.equal(prepared.x, fresh.x) and np.array_equal(prepared.roles["test"], fresh.roles["test"])
