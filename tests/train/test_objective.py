"""Training targets Ȳ: soft labels follow the annotators' votes (one-hot where a corpus has none), self-KD follows
the stage-1 model, and two-stage targets without stage-1 predictions are a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.labels import NUM_CLASSES
from rdlr.methods import get_method
from rdlr.train.objective import training_targets


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
