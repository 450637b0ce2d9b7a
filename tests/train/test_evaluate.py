"""Evaluation: validation UA is the mean of the per-corpus UAs, test UA pools the test rows, macro-F1 and per-class
recall pool each role's rows, the CWW U_d of (6) come from the chosen split, and prediction runs in eval mode
without changing the model's mode."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from rdlr.labels import CLASSES, NUM_CLASSES
from rdlr.metrics import macro_f1, per_class_recall, unweighted_accuracy, weighted_accuracy
from rdlr.model import EmotionClassifier
from rdlr.train.data import prepare
from rdlr.train.evaluate import corpus_uas, predict_logits, role_metrics, val_test_metrics
from tests.helpers.synthetic import synthetic_trial_data


class ClassSignalReader(nn.Module):
    """Predicts from the synthetic data's class signal (class c raises feature c): right often, not always."""

    def forward(self, x: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=x[:, :NUM_CLASSES])


@pytest.fixture(scope="module")
def setting():
    data = synthetic_trial_data(rows_per_corpus=60, unlabeled=8)
    return data, prepare(data, "cpu"), ClassSignalReader()


def predictions(data, prepared, role: str) -> np.ndarray:
    return prepared.rows(role)[:, :NUM_CLASSES].argmax(dim=1).numpy()


def test_val_ua_averages_corpora_and_test_ua_pools_rows(setting):
    data, prepared, classifier = setting
    metrics = val_test_metrics(data, prepared, classifier, batch_size=16)
    val = data.indices("val")
    predicted, truth, corpus = predictions(data, prepared, "val"), data.labels[val], data.corpus[val]
    per_corpus = [unweighted_accuracy(truth[corpus == c], predicted[corpus == c]) for c in "ABC"]
    assert [metrics[f"val_ua/{c}"] for c in "ABC"] == per_corpus
    assert metrics["val_ua"] == pytest.approx(np.mean(per_corpus))
    assert metrics["val_ua"] != pytest.approx(unweighted_accuracy(truth, predicted))  # the mean is not the pool
    test = data.indices("test")
    predicted = predictions(data, prepared, "test")
    assert metrics["test_ua"] == metrics["test_ua/D"] == unweighted_accuracy(data.labels[test], predicted)
    assert metrics["test_wa"] == weighted_accuracy(data.labels[test], predicted)
    assert np.asarray(metrics["confusion"]).sum() == len(test)
    assert "val_wa" not in metrics and "train_ua" not in metrics


def test_macro_f1_and_per_class_recall_pool_each_roles_rows(setting):
    data, prepared, classifier = setting
    metrics = val_test_metrics(data, prepared, classifier, batch_size=16)
    for role in ("val", "test"):
        truth, predicted = data.labels[data.indices(role)], predictions(data, prepared, role)
        assert metrics[f"{role}_f1"] == macro_f1(truth, predicted)
        recalls = [metrics[f"{role}_recall/{name}"] for name in CLASSES]
        np.testing.assert_array_equal(recalls, per_class_recall(truth, predicted))
    confusion = np.asarray(metrics["confusion"])
    np.testing.assert_allclose(
        [metrics[f"test_recall/{name}"] for name in CLASSES], np.diag(confusion) / confusion.sum(axis=1)
    )


def test_corpus_uas_come_from_the_chosen_split(setting):
    data, prepared, classifier = setting
    metrics = val_test_metrics(data, prepared, classifier, batch_size=16)
    on_val = corpus_uas(data, prepared, classifier, "val", 16, ["A", "B", "C"], metrics)
    assert on_val == [metrics[f"val_ua/{c}"] for c in "ABC"]
    train_metrics = role_metrics(data, prepared, classifier, "train", 16)
    on_train = corpus_uas(data, prepared, classifier, "train", 16, ["A", "B", "Z"], metrics)
    assert on_train == [train_metrics["train_ua/A"], train_metrics["train_ua/B"], 0.0]
    assert on_train[:2] != on_val[:2]


def test_predict_logits_uses_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    classifier = EmotionClassifier(12)
    x = torch.randn(50, 12)
    small_batches = predict_logits(classifier, x, 7)
    assert classifier.training
    torch.testing.assert_close(small_batches, predict_logits(classifier, x, 64))  # no dropout: same every call
    classifier.eval()
    torch.testing.assert_close(small_batches, classifier(x).logits)
    predict_logits(classifier, x, 64)
    assert not classifier.training
