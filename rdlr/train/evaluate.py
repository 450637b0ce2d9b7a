"""Evaluation during and after training (Section 3.2): UA per corpus and over each role's rows, the mean validation UA
that early stopping watches, macro-F1 and per-class recall of each role, WA and the confusion matrix on the test rows,
and the per-corpus U_d of CWW (6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from rdlr.metrics import confusion_matrix, macro_f1, per_class_recall, unweighted_accuracy, weighted_accuracy
from rdlr.model import EmotionClassifier
from rdlr.train.data import PreparedData, TrialData


@torch.no_grad()
def predict_logits(classifier: EmotionClassifier, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits of ``classifier`` in eval mode, in large no-grad batches."""
    was_training = classifier.training
    classifier.eval()
    logits = torch.cat([classifier(x[start : start + batch_size]).logits for start in range(0, len(x), batch_size)])
    classifier.train(was_training)
    return logits


def role_metrics(
    data: TrialData, prepared: PreparedData, classifier: EmotionClassifier, role: str, batch_size: int
) -> dict[str, Any]:
    """UA per corpus and overall for the rows of ``role``, macro-F1 ``<role>_f1`` and per-class recall
    ``<role>_recall/<class>`` (NaN for a class without rows) over its rows (+ WA and confusion for the test role).

    The overall validation UA ``val_ua`` is the mean of the per-corpus UAs (what early stopping watches); the other
    roles' overall UA, and every role's F1 and recalls, pool their rows.
    """
    rows = prepared.roles[role]
    if len(rows) == 0:
        return {}
    predicted = predict_logits(classifier, prepared.rows(role), batch_size)
    predicted = predicted.argmax(dim=1).cpu().numpy()
    truth, corpora, k = data.labels[rows], data.corpus[rows], data.num_classes
    metrics: dict[str, Any] = {
        f"{role}_ua/{name}": unweighted_accuracy(truth[corpora == name], predicted[corpora == name], k)
        for name in sorted(set(corpora))
    }
    if role == "val":
        metrics["val_ua"] = float(np.mean([metrics[f"val_ua/{name}"] for name in sorted(set(corpora))]))
    else:
        metrics[f"{role}_ua"] = unweighted_accuracy(truth, predicted, k)
    metrics[f"{role}_f1"] = macro_f1(truth, predicted, k)
    recalls = per_class_recall(truth, predicted, k)
    metrics.update({f"{role}_recall/{name}": float(recall) for name, recall in zip(data.classes, recalls)})
    if role == "test":
        metrics["test_wa"] = weighted_accuracy(truth, predicted, k)
        metrics["confusion"] = confusion_matrix(truth, predicted, k).tolist()
    return metrics


def val_test_metrics(
    data: TrialData, prepared: PreparedData, classifier: EmotionClassifier, batch_size: int, test: bool = True
) -> dict[str, Any]:
    """The validation metrics, then (with ``test``) the test metrics (none when the trial has no test rows)."""
    metrics = role_metrics(data, prepared, classifier, "val", batch_size)
    if test:
        metrics.update(role_metrics(data, prepared, classifier, "test", batch_size))
    return metrics


def corpus_uas(
    data: TrialData,
    prepared: PreparedData,
    classifier: EmotionClassifier,
    split: str,
    batch_size: int,
    train_corpora: Sequence[str],
    val_metrics: Mapping[str, Any],
) -> list[float]:
    """Per-training-corpus UA of this epoch's model, the U_d of (6), on the validation or training ``split``.

    On the validation split the epoch's ``val_metrics`` are reused; a corpus without rows in ``split`` gets 0.
    """
    metrics = val_metrics if split == "val" else role_metrics(data, prepared, classifier, split, batch_size)
    return [float(metrics.get(f"{split}_ua/{name}", 0.0)) for name in train_corpora]
