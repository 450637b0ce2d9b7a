"""One trial on synthetic utterance-level features: it learns, stops early, schedules the learning rate,
updates CWW each epoch, is deterministic, and refuses PEL without unlabeled data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.train import TrainConfig, TrialData, run_trial
from tests.helpers.synthetic import out_of_corpus_roles, synthetic_table, synthetic_trial_data

FAST = TrainConfig(max_epochs=40)
SMALL_BATCH = {"batch_size": 64}


@pytest.fixture(scope="module")
def data() -> TrialData:
    return synthetic_trial_data()


@pytest.fixture(scope="module")
def ce_result(data):
    return run_trial(data, "ce", SMALL_BATCH, seed=0, config=FAST)


@pytest.mark.slow
def test_trial_learns_well_above_chance(ce_result):
    assert ce_result.final["test_ua"] > 0.6  # chance is 0.25
    assert set(ce_result.final) >= {"val_ua", "val_ua/A", "test_ua/D", "test_wa", "confusion", "epochs"}
    assert np.asarray(ce_result.final["confusion"]).sum() == 240


@pytest.mark.slow
def test_early_stopping_and_scheduler_fire(ce_result):
    final, history = ce_result.final, ce_result.history
    assert final["epochs"] < FAST.max_epochs
    assert final["epochs"] == final["best_epoch"] + FAST.patience
    rates = [record["lr"] for record in history]
    assert rates[0] == pytest.approx(2e-4)
    assert any(rate == pytest.approx(2e-5) for rate in rates)  # one ×0.1 drop (rdlr.train.schedule)
    assert final["val_ua"] == max(record["val_ua"] for record in history)


@pytest.mark.slow
@pytest.mark.parametrize("split", ["val", "train"])
def test_cww_weights_change_across_epochs(data, split):
    config = TrainConfig(max_epochs=4, cww_split=split)
    result = run_trial(data, "cww", {**SMALL_BATCH, "lambda_w": 4}, seed=0, config=config)
    weights = np.array([[record[f"corpus_weight/{c}"] for c in "ABC"] for record in result.history])
    assert np.allclose(weights[0], 1.0)
    assert not np.allclose(weights[1], weights[0]) and not np.allclose(weights[2], weights[1])
    assert np.allclose(weights.mean(axis=1), 1.0)


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ce", "cww_dagger"])
def test_test_rows_evaluated_once_at_the_end_equal_the_per_epoch_path(method):
    """The default evaluates the test rows once, with the kept best-epoch weights; the opt-in per-epoch path
    reports the very same best-epoch test metrics, trains the same model, and differs only by the test columns
    of the history."""
    small = synthetic_trial_data(rows_per_corpus=60, unlabeled=32)
    runs = {
        each_epoch: run_trial(
            small,
            method,
            {"batch_size": 32, "lambda_w": 2},
            seed=1,
            config=TrainConfig(max_epochs=5, patience=2, eval_test_each_epoch=each_epoch),
        )
        for each_epoch in (True, False)
    }
    per_epoch, once = runs[True], runs[False]
    assert once.final == per_epoch.final
    best = per_epoch.history[per_epoch.final["best_epoch"] - 1]
    assert {k: v for k, v in once.final.items() if k.startswith("test_")} == {
        k: v for k, v in best.items() if k.startswith("test_")
    }
    assert all(not key.startswith("test_") for record in once.history for key in record)
    assert [{k: v for k, v in r.items() if not k.startswith("test_")} for r in per_epoch.history] == once.history
    for key, tensor in per_epoch.state_dict["classifier"].items():
        assert torch.equal(tensor, once.state_dict["classifier"][key])
    assert np.array_equal(per_epoch.train_targets, once.train_targets)
