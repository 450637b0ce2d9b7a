"""UA, WA, the confusion matrix, macro-F1 and per-class recall (rdlr.metrics) on hand examples and against slow
loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdlr.metrics import confusion_matrix, macro_f1, per_class_recall, unweighted_accuracy, weighted_accuracy


def slow_confusion(y_true: list[int], y_pred: list[int], c: int) -> list[list[int]]:
    cm = [[0] * c for _ in range(c)]
    for t, p in zip(y_true, y_pred):
        cm[t][p] += 1
    return cm


def slow_ua(y_true: list[int], y_pred: list[int], c: int) -> float:
    recalls = []
    for k in range(c):
        idx = [i for i, t in enumerate(y_true) if t == k]
        if idx:
            recalls.append(sum(1 for i in idx if y_pred[i] == k) / len(idx))
    return sum(recalls) / len(recalls)


def slow_recalls(y_true: list[int], y_pred: list[int], c: int) -> list[float | None]:
    recalls: list[float | None] = []
    for k in range(c):
        idx = [i for i, t in enumerate(y_true) if t == k]
        recalls.append(sum(1 for i in idx if y_pred[i] == k) / len(idx) if idx else None)
    return recalls


def slow_macro_f1(y_true: list[int], y_pred: list[int], c: int) -> float:
    """Mean F1 = 2PR / (P + R) over the classes that are true or predicted at least once (0 when P = R = 0)."""
    scores = []
    for k in range(c):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == k and p == k)
        true_k = sum(1 for t in y_true if t == k)
        pred_k = sum(1 for p in y_pred if p == k)
        if true_k == 0 and pred_k == 0:
            continue
        precision = tp / pred_k if pred_k else 0.0
        recall = tp / true_k if true_k else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def test_hand_example() -> None:
    # neutral: 4 samples, 3 right; happy: 2, 1 right; sad: 1, 1 right; angry: 3, 0 right
    y_true = [0, 0, 0, 0, 1, 1, 2, 3, 3, 3]
    y_pred = [0, 0, 0, 1, 1, 0, 2, 0, 1, 2]
    assert unweighted_accuracy(y_true, y_pred) == pytest.approx((3 / 4 + 1 / 2 + 1 + 0) / 4)
    assert weighted_accuracy(y_true, y_pred) == pytest.approx(5 / 10)
    cm = confusion_matrix(y_true, y_pred)
    expected = np.array([[3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [1, 1, 1, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == 10
    np.testing.assert_array_equal(cm.sum(axis=1), [4, 2, 1, 3])  # rows: true class counts
    np.testing.assert_array_equal(cm.sum(axis=0), [5, 3, 2, 0])  # cols: predicted class counts
    np.testing.assert_allclose(per_class_recall(y_true, y_pred), [3 / 4, 1 / 2, 1, 0])
    # F1: neutral 2·3/(2·3+2+1) = 6/9, happy 2/(2+2+1) = 2/5, sad 2/(2+1) = 2/3, angry 0
    assert macro_f1(y_true, y_pred) == pytest.approx((6 / 9 + 2 / 5 + 2 / 3 + 0) / 4)


def test_absent_class_is_skipped_in_ua() -> None:
    y_true = [0, 0, 1, 1, 3]  # no sad sample
    y_pred = [0, 2, 1, 1, 0]
    assert unweighted_accuracy(y_true, y_pred) == pytest.approx((1 / 2 + 1 + 0) / 3)
    cm = confusion_matrix(y_true, y_pred)
    assert cm[2].sum() == 0 and cm[:, 2].sum() == 1
    recalls = per_class_recall(y_true, y_pred)
    assert np.isnan(recalls[2]) and np.nanmean(recalls) == pytest.approx(unweighted_accuracy(y_true, y_pred))
    # sad is predicted once but never true: it counts in macro-F1 with F1 = 0
    assert macro_f1(y_true, y_pred) == pytest.approx((1 / 2 + 1 + 0 + 0) / 4)
    assert macro_f1([0, 0, 1], [0, 0, 1]) == 1.0  # classes neither true nor predicted are left out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_against_slow_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, size=200))
    cm = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, slow_confusion(y_true.tolist(), y_pred.tolist(), 4))
    assert cm.sum() == 200 and cm.dtype == np.int64
    ua = unweighted_accuracy(y_true, y_pred)
    assert isinstance(ua, float) and ua == pytest.approx(slow_ua(y_true.tolist(), y_pred.tolist(), 4))
    wa = weighted_accuracy(y_true, y_pred)
    assert isinstance(wa, float) and wa == pytest.approx(np.trace(cm) / 200)
    f1 = macro_f1(y_true, y_pred)
    assert isinstance(f1, float) and f1 == pytest.approx(slow_macro_f1(y_true.tolist(), y_pred.tolist(), 4))
    np.testing.assert_allclose(per_class_recall(y_true, y_pred), slow_recalls(y_true.tolist(), y_pred.tolist(), 4))


def test_torch_inputs_and_other_class_counts() -> None:
    t = torch.tensor([0, 1, 2, 2, 4])
    p = torch.tensor([0, 1, 2, 0, 4])
    assert unweighted_accuracy(t, p, num_classes=5) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert weighted_accuracy(t, p, num_classes=5) == pytest.approx(0.8)
    assert confusion_matrix(t, p, num_classes=5).shape == (5, 5)


def test_bad_input_raises_clear_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        unweighted_accuracy([], [])
    with pytest.raises(ValueError, match="empty"):
        weighted_accuracy(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="empty"):
        confusion_matrix([], [])
    with pytest.raises(ValueError, match="entries"):
        unweighted_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 4], [0, 1])
    with pytest.raises(ValueError, match="outside"):
        unweighted_accuracy([0, -1], [0, 1])
    with pytest.raises(ValueError, match="integer"):
        weighted_accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        confusion_matrix(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        macro_f1([], [])
    with pytest.raises(ValueError, match="outside"):
        per_class_recall([0, 5], [0, 1])
