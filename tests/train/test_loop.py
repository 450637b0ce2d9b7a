"""One trial on synthetic utterance-level features: it learns, stops early, schedules the learning rate,
updates CWW each epoch, applies LR exactly to the stage-1 model's mistakes, and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.labels import NUM_CLASSES
from rdlr.methods import get_method
from rdlr.targets import label_smoothing, one_hot
from rdlr.train import TrainConfig, run_trial
from rdlr.train.loop import training_targets
from rdlr.train.data import TrialData
from synthetic import out_of_corpus_roles, synthetic_table, synthetic_trial_data

FAST = TrainConfig(max_epochs=40)
SMALL_BATCH = {"batch_size": 64}


@pytest.fixture(scope="module")
def data() -> TrialData:
    return synthetic_trial_data()


@pytest.fixture(scope="module")
def ce_result(data):
    return run_trial(data, "ce", SMALL_BATCH, seed=0, config=FAST)


def test_trial_learns_well_above_chance(ce_result):
    assert ce_result.final["test_ua"] > 0.6  # chance is 0.25
    assert set(ce_result.final) >= {"val_ua", "val_ua/A", "test_ua/D", "test_wa", "confusion", "epochs"}
    assert np.asarray(ce_result.final["confusion"]).sum() == 240


def test_early_stopping_and_scheduler_fire(ce_result):
    final, history = ce_result.final, ce_result.history
    assert final["epochs"] < FAST.max_epochs
    assert final["epochs"] == final["best_epoch"] + FAST.patience
    rates = [record["lr"] for record in history]
    assert rates[0] == pytest.approx(2e-4)
    assert any(rate == pytest.approx(2e-5) for rate in rates)  # one ×0.1 step of ReduceLROnPlateau
    assert final["val_ua"] == max(record["val_ua"] for record in history)


@pytest.mark.parametrize("split", ["val", "train"])
def test_cww_weights_change_across_epochs(data, split):
    config = TrainConfig(max_epochs=4, cww_split=split)
    result = run_trial(data, "cww", {**SMALL_BATCH, "lambda_w": 4}, seed=0, config=config)
    weights = np.array([[record[f"corpus_weight/{c}"] for c in "ABC"] for record in result.history])
    assert np.allclose(weights[0], 1.0)
    assert not np.allclose(weights[1], weights[0]) and not np.allclose(weights[2], weights[1])
    assert np.allclose(weights.mean(axis=1), 1.0)


def test_lr_smooths_exactly_the_misclassified_training_samples(data, tmp_path):
    gamma = 0.4
    result = run_trial(data, "ls_lr", {**SMALL_BATCH, "gamma": gamma}, 0, TrainConfig(max_epochs=3), str(tmp_path))
    labels = torch.as_tensor(data.labels[data.indices("train")])
    wrong = result.stage1["train_predictions"] != labels.numpy()
    assert 0 < wrong.sum() < len(wrong)
    smoothed_once = label_smoothing(one_hot(labels), 0.1)
    expected = torch.where(torch.as_tensor(wrong)[:, None], label_smoothing(smoothed_once, gamma), smoothed_once)
    np.testing.assert_allclose(result.train_targets, expected.numpy(), rtol=1e-6)


def test_stage1_model_is_cached_and_reused_across_gammas(data, tmp_path):
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


def test_same_seed_same_trial_and_other_seed_differs(data):
    config = TrainConfig(max_epochs=2)
    runs = [run_trial(data, "rd_cww_dagger", SMALL_BATCH, seed, config) for seed in (3, 3, 4)]
    assert runs[0].history == runs[1].history
    assert runs[0].history != runs[2].history


def test_pel_without_unlabeled_data_is_a_clear_error():
    x, meta = synthetic_table(unlabeled=0)
    data = TrialData.from_table(x, meta, out_of_corpus_roles(meta))
    with pytest.raises(ValueError, match="uses PEL.*needs unlabeled utterances"):
        run_trial(data, "cww_pel", SMALL_BATCH, 0, TrainConfig(max_epochs=1))


def test_trial_data_rejects_missing_roles_and_unknown_roles():
    x, meta = synthetic_table(rows_per_corpus=16, unlabeled=0)
    with pytest.raises(ValueError, match="no utterance has role 'val'"):
        TrialData.from_table(x, meta, np.full(len(meta), "train"))
    with pytest.raises(ValueError, match=r"unknown role\(s\) \['dev'\]"):
        TrialData.from_table(x, meta, np.full(len(meta), "dev"))


def test_soft_targets_follow_votes_and_self_kd_follows_stage1():
    labels = torch.tensor([0, 1])
    votes = torch.tensor([[2.0, 0.0, 0.0, 2.0], [float("nan")] * NUM_CLASSES])
    soft = training_targets(get_method("soft"), get_method("soft").resolve_hparams(), labels, votes)
    np.testing.assert_allclose(soft.numpy(), [[0.5, 0, 0, 0.5], [0, 1, 0, 0]])
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    kd = training_targets(get_method("self_kd"), get_method("self_kd").resolve_hparams(), labels, None, logits)
    np.testing.assert_allclose(kd.numpy(), torch.softmax(logits, 1).numpy(), rtol=1e-6)
