"""Two-stage methods: LR (10) smooths exactly the targets the stage-1 model got wrong, the stage-1 model is the same
method without LR or the proposed system without LR (``lr_stage1``), and the stage-1 model's training-set logits and
final metrics are cached once per (stage-1 method, hyperparameters it uses, seed, what changes stage 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.methods import get_method
from rdlr.targets import label_smoothing, one_hot
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.train.stage1 import Stage1Cache
from tests.helpers.synthetic import synthetic_trial_data

SMALL_BATCH = {"batch_size": 64}


@pytest.fixture(scope="module")
def data() -> TrialData:
    return synthetic_trial_data()


@pytest.mark.slow
def test_lr_smooths_exactly_the_misclassified_training_samples(data, tmp_path):
    gamma = 0.4
    result = run_trial(data, "ls_lr", {**SMALL_BATCH, "gamma": gamma}, 0, TrainConfig(max_epochs=3), str(tmp_path))
    labels = torch.as_tensor(data.labels[data.indices("train")])
    wrong = result.stage1["train_predictions"] != labels.numpy()
    assert 0 < wrong.sum() < len(wrong)
    smoothed_once = label_smoothing(one_hot(labels), 0.1)
    expected = torch.where(torch.as_tensor(wrong)[:, None], label_smoothing(smoothed_once, gamma), smoothed_once)
    np.testing.assert_allclose(result.train_targets, expected.numpy(), rtol=1e-6)


@pytest.mark.slow
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


@pytest.mark.slow
def test_lr_stage1_proposed_pretrains_the_proposed_system_without_lr(tmp_path):
    small = synthetic_trial_data(rows_per_corpus=80, unlabeled=32)
    hparams, config = {**SMALL_BATCH, "gamma": 0.5}, TrainConfig(max_epochs=1, lr_stage1="proposed")
    proposed = run_trial(small, "lr", hparams, 0, config, str(tmp_path))
    direct = run_trial(small, "rd_cww_dagger", hparams, 0, TrainConfig(max_epochs=1))
    for key in ("val_ua", "test_ua", "confusion", "epochs"):
        assert proposed.stage1["final"][key] == direct.final[key]
    expected_key = Stage1Cache.key(
        get_method("rd_cww_dagger"),
        get_method("lr").resolve_hparams(hparams),
        0,
        config.cache_fields(),
        small.fingerprint(),
    )
    assert [path.name for path in tmp_path.glob("stage1-*.pt")] == [f"stage1-{expected_key}.pt"]


def test_stage1_cache_key_follows_what_changes_stage1(data):
    method = get_method("ls_lr")
    hparams = method.resolve_hparams(SMALL_BATCH)

    def key(config: TrainConfig, **changes) -> str:
        stage1 = method.stage1(config.lr_stage1)
        return Stage1Cache.key(stage1, {**hparams, **changes}, 0, config.cache_fields(), data.fingerprint())

    default = key(TrainConfig())
    assert key(TrainConfig(lr_on_smoothed="replace")) == default  # stage 2's reading of LR: same stage-1 model
    assert key(TrainConfig(), gamma=0.8) == default  # LR's γ is not seen by stage 1
    assert key(TrainConfig(device="cuda", eval_batch_size=64)) == default
    changed = [
        key(TrainConfig(lr_stage1="proposed")),  # another stage-1 method
        key(TrainConfig(ae_reduction="sum")),
        key(TrainConfig(proxy_lr_factor=10.0)),
        key(TrainConfig(pod_test="test_partition")),
        key(TrainConfig(), batch_size=128),
    ]
    assert len({default, *changed}) == 1 + len(changed)
