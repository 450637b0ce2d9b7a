"""Training targets Ȳ: soft labels follow the annotators' votes (one-hot where a corpus has none), self-KD follows
the stage-1 model, LR on smoothed targets smooths again or replaces, and two-stage targets without stage-1
predictions are a clear error. The objective: proxies in their own parameter group at a larger learning rate, and
the AE loss's reduction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr import losses
from rdlr.labels import NUM_CLASSES
from rdlr.methods import get_method
from rdlr.targets import label_smoothing, one_hot
from rdlr.train import PreparedRows, TrainConfig
from rdlr.train.loop import _build_training
from rdlr.train.objective import Objective, training_targets
from tests.helpers.synthetic import synthetic_trial_data


def test_soft_targets_follow_votes_and_self_kd_follows_stage1():
    labels = torch.tensor([0, 1])
    votes = torch.tensor([[2.0, 0.0, 0.0, 2.0], [float("nan")] * NUM_CLASSES])
    soft = training_targets(get_method("soft"), get_method("soft").resolve_hparams(), labels, votes)
    np.testing.assert_allclose(soft.numpy(), [[0.5, 0, 0, 0.5], [0, 1, 0, 0]])
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    kd = training_targets(get_method("self_kd"), get_method("self_kd").resolve_hparams(), labels, None, logits)
    np.testing.assert_allclose(kd.numpy(), torch.softmax(logits, 1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("method_id", ["lr", "self_kd"])
def test_two_stage_targets_need_the_stage1_predictions(method_id):
    method = get_method(method_id)
    with pytest.raises(ValueError, match=f"method '{method_id}' needs the stage-1 model's predictions"):
        training_targets(method, method.resolve_hparams(), torch.tensor([0, 1]))


def test_lr_on_smoothed_targets_smooths_again_or_replaces():
    labels = torch.tensor([0, 1, 2, 3])
    logits = torch.eye(NUM_CLASSES)[[0, 2, 2, 0]] * 5.0  # rows 1 and 3 are wrong
    wrong = torch.tensor([False, True, False, True])[:, None]
    gamma, ls_gamma = 0.4, 0.1
    method = get_method("ls_lr")
    hparams = method.resolve_hparams({"gamma": gamma})
    smoothed = label_smoothing(one_hot(labels), ls_gamma)
    again = training_targets(method, hparams, labels, None, logits, "smooth_again")
    replaced = training_targets(method, hparams, labels, None, logits, "replace")
    torch.testing.assert_close(again, torch.where(wrong, label_smoothing(smoothed, gamma), smoothed))
    torch.testing.assert_close(replaced, torch.where(wrong, label_smoothing(one_hot(labels), gamma), smoothed))
    assert not torch.allclose(again, replaced)
    plain = get_method("lr")  # on one-hot targets the two readings agree
    one = [training_targets(plain, hparams, labels, None, logits, choice) for choice in ("smooth_again", "replace")]
    torch.testing.assert_close(one[0], one[1])
    with pytest.raises(ValueError, match="lr_on_smoothed must be one of smooth_again, replace"):
        training_targets(method, hparams, labels, None, logits, "twice")


@pytest.mark.parametrize("method_id", ["proxy_anchor", "cww_proxy_anchor_dagger"])
def test_proxies_learn_in_their_own_group_at_a_larger_rate(method_id):
    method = get_method(method_id)
    objective = Objective(method, method.resolve_hparams(), 12, ae_on_unlabeled=True, proxy_lr_factor=100.0)
    groups = objective.param_groups(2e-4)
    assert [group["lr"] for group in groups] == [2e-4, pytest.approx(2e-2)]
    assert groups[1]["params"] == [objective.proxy_anchor.proxies]
    grouped = [id(parameter) for group in groups for parameter in group["params"]]
    assert sorted(grouped) == sorted(id(parameter) for parameter in objective.parameters())  # each exactly once
    assert len(set(grouped)) == len(grouped)


def test_the_optimiser_is_built_from_the_param_groups():
    data = PreparedRows(synthetic_trial_data(rows_per_corpus=40, unlabeled=8))
    method = get_method("proxy_anchor")
    run = _build_training(data, method, method.resolve_hparams(), TrainConfig(proxy_lr_factor=50.0), None)
    rates = [group["lr"] for group in run.optimizer.param_groups]
    assert rates == [2e-4, pytest.approx(1e-2)]
    assert run.optimizer.param_groups[1]["params"] == [run.objective.proxy_anchor.proxies]
    ce = _build_training(data, get_method("ce"), get_method("ce").resolve_hparams(), TrainConfig(), None)
    assert len(ce.optimizer.param_groups) == 1  # no proxies: one group, every parameter at the network's rate
    assert len(ce.optimizer.param_groups[0]["params"]) == len(list(ce.objective.parameters()))


@torch.no_grad()
def test_ae_reduction_reaches_the_objective():
    method = get_method("ae")
    hparams = method.resolve_hparams({"lambda_ae": 0.5})
    x, labels = torch.randn(6, 12), torch.arange(6) % NUM_CLASSES
    values = {}
    for reduction in losses.AE_REDUCTIONS:
        torch.manual_seed(0)
        objective = Objective(method, hparams, 12, ae_on_unlabeled=False, ae_reduction=reduction).eval()
        values[reduction] = objective(x, one_hot(labels), labels, None, None, None)["ae"]
        reconstruction = objective.decoder(objective.classifier(x).encoding)
        torch.testing.assert_close(values[reduction], 0.5 * losses.reconstruction_loss(x, reconstruction, reduction))
    torch.testing.assert_close(values["sum"], 12 * values["mean"])  # eq. (12) as printed sums over D = 12


def test_self_kd_weights_each_sample_by_its_labels_class():
    """Self-KD trains with CE (5) on the stage-1 model's softmax; β_i is the class weight of the label y_i even where
    the stage-1 prediction (the target's argmax) is another class. Compared with a slow loop over (5)."""
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 2, 3, 3, 1])
    stage1_logits = torch.eye(NUM_CLASSES)[[1, 0, 3, 1, 0, 2, 3, 1]] * 3.0  # rows 0, 2, 4, 5 predicted wrong
    method = get_method("self_kd")
    hparams = method.resolve_hparams()
    target = training_targets(method, hparams, labels, None, stage1_logits)
    beta = losses.class_balance_weights(labels)
    objective = Objective(method, hparams, 6, ae_on_unlabeled=True).eval()
    x = torch.randn(len(labels), 6)
    term = objective(x, target, labels, beta, None, None)["ce"]
    log_p = torch.log_softmax(objective.classifier(x).logits, 1).tolist()
    slow = -sum(
        float(beta[labels[i]]) * sum(target[i, c] * log_p[i][c] for c in range(NUM_CLASSES)) for i in range(len(labels))
    ) / len(labels)
    assert (target.argmax(1) != labels).sum() == 4
    torch.testing.assert_close(term, torch.tensor(float(slow)), rtol=1e-5, atol=1e-6)
