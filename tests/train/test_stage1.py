"""Two-stage methods: LR (10) smooths exactly the targets the stage-1 model got wrong, and the stage-1 model's
training-set logits and final metrics are cached once per (stage-1 method, hyperparameters it uses, seed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.targets import label_smoothing, one_hot
from rdlr.train import TrainConfig, TrialData, run_trial
from synthetic import synthetic_trial_data

SMALL_BATCH = {"batch_size": 64}


@pytest.fixture(scope="module")
def data() -> TrialData:
    return synthetic_trial_data()


def test_lr_smooths_exactly_the_misclassified_training_samples(data, tmp_path):
    gamma = 0.4
    result = run_trial(data, "ls_lr", {**SMALL_BATCH, "gamma": gamma}, 0, TrainConfig(max_epochs=3), str(tmp_path))
    labels = torch.as_tensor(data.labels[data.indices("train")])
    wrong = result.stage1["train_predictions"] != labels.numpy()
    assert 0 < wrong.sum() < len(wrong)
    smoothed_once = label_smoothing(one_hot(labels), 0.1)
    expected = torch.where(torch.as_tensor(wrong)[:, None], label_smoothing(smoothed_once, gamma), smoothed_once)
    np.testing.assert_allclose(result.train_targets, expected.numpy(), rtol=1e-6)


def test_stage1_logits_are_cached_and_reused_across_gammas(data, tmp_path):
    config = TrainConfig(max_epochs=2)
    first = run_trial(data, "lr", {**SMALL_BATCH, "gamma": 0.2}, 0, config, str(tmp_path))
    cached = list(tmp_path.glob("stage1-*.pt"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = run_trial(data, "lr", {**SMALL_BATCH, "gamma": 0.8}, 0, config, str(tmp_path))
    assert list(tmp_path.glob("stage1-*.pt")) == cached and cached[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.stage1["train_predictions"], second.stage1["train_predictions"])
    run_trial(data, "lr", {**SMALL_BATCH, "gamma": 0.2}, 1, config, str(tmp_path))
    assert len(list(tmp_path.glob("stage1-*.pt"))) == 2  # another seed is another stage-1 model
