"""Training targets (rdlr.targets) against slow loops written from eqs. (9), (10) and the cited definitions."""

from __future__ import annotations

import math

import pytest
import torch

from rdlr import targets as T
from tests.helpers.slow_reference import slow_argmax

DTYPES = [torch.float32, torch.float64]
SEEDS = [0, 1, 2]
M, C = 9, 4


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}


def _close(actual: torch.Tensor, expected: list[list[float]], dtype: torch.dtype) -> None:
    assert actual.dtype == dtype
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=dtype), **_tol(dtype))


def _random_case(seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C, (M,), generator=gen)
    soft = torch.softmax(torch.randn(M, C, generator=gen, dtype=torch.float64) * 2, dim=1).to(dtype)
    return labels, soft


# ------------------------------------------------------------------------------------------- slow loops
def slow_one_hot(labels: list[int], c: int) -> list[list[float]]:
    return [[1.0 if k == lab else 0.0 for k in range(c)] for lab in labels]


def slow_ls(y: list[list[float]], gamma: float) -> list[list[float]]:
    return [[(1 - gamma) * v + gamma / len(row) for v in row] for row in y]


def slow_lr(y: list[list[float]], pred: list[list[float]], gamma: float) -> list[list[float]]:
    out = []
    for row, p in zip(y, pred):
        if slow_argmax(p) != slow_argmax(row):
            out.append([(1 - gamma) * v + gamma / len(row) for v in row])
        else:
            out.append(list(row))
    return out


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("seed", SEEDS)
def test_one_hot_matches_loop(seed: int) -> None:
    labels, _ = _random_case(seed, torch.float32)
    out = T.one_hot(labels, C)
    _close(out, slow_one_hot(labels.tolist(), C), torch.float32)
    assert out.shape == (M, C)


def test_one_hot_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="outside"):
        T.one_hot(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match="unlabeled"):
        T.one_hot(torch.tensor([-1, 0]), 4)
    with pytest.raises(TypeError, match="integer"):
        T.one_hot(torch.tensor([0.0, 1.0]), 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.5, 1.0])
def test_label_smoothing_eq9(dtype: torch.dtype, seed: int, gamma: float) -> None:
    labels, soft = _random_case(seed, dtype)
    hard = T.one_hot(labels, C).to(dtype)
    _close(T.label_smoothing(hard, gamma), slow_ls(hard.tolist(), gamma), dtype)
    _close(T.label_smoothing(soft, gamma), slow_ls(soft.tolist(), gamma), dtype)
    torch.testing.assert_close(T.label_smoothing(soft, gamma).sum(1), torch.ones(M, dtype=dtype), **_tol(dtype))


def test_label_smoothing_integer_input_gives_float32_and_rejects_bad_gamma() -> None:
    out = T.label_smoothing(torch.tensor([[0, 1, 0, 0]]), 0.4)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[0.1, 0.7, 0.1, 0.1]]))
    with pytest.raises(ValueError, match="gamma"):
        T.label_smoothing(out, 1.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_class_prior_matches_loop(seed: int) -> None:
    labels, _ = _random_case(seed, torch.float32)
    counts = [0.0] * C
    for lab in labels.tolist():
        counts[lab] += 1.0
    expected = [n / len(labels) for n in counts]
    torch.testing.assert_close(T.class_prior(labels, C), torch.tensor(expected, dtype=torch.float32))
    torch.testing.assert_close(T.class_prior(torch.tensor([0, 0, 2]), 4), torch.tensor([2 / 3, 0.0, 1 / 3, 0.0]))
    with pytest.raises(ValueError, match="empty"):
        T.class_prior(torch.tensor([], dtype=torch.long))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_unigram_smoothing_matches_loop(dtype: torch.dtype, seed: int) -> None:
    labels, soft = _random_case(seed, dtype)
    prior = T.class_prior(labels, C)
    gamma = 0.3
    for y in (T.one_hot(labels, C).to(dtype), soft):
        expected = [[(1 - gamma) * v + gamma * float(prior[k]) for k, v in enumerate(row)] for row in y.tolist()]
        _close(T.unigram_smoothing(y, prior, gamma), expected, dtype)
    with pytest.raises(ValueError, match="shape"):
        T.unigram_smoothing(soft, torch.ones(3) / 3, gamma)
    with pytest.raises(ValueError, match="distribution"):
        T.unigram_smoothing(soft, torch.ones(C), gamma)


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_labels_vote_distribution_and_fallback(dtype: torch.dtype) -> None:
    nan = float("nan")
    votes = torch.tensor([[3, 1, 0, 0], [0, 0, 0, 0], [nan, nan, nan, nan], [0, 2, 2, 0], [1, 1, 1, 1]], dtype=dtype)
    labels = torch.tensor([0, 2, 3, 1, 0])
    expected = []
    for row, lab in zip(votes.tolist(), labels.tolist()):
        total = sum(row)
        if math.isnan(total) or total == 0:
            expected.append([1.0 if k == lab else 0.0 for k in range(C)])
        else:
            expected.append([v / total for v in row])
    _close(T.soft_labels(votes, labels), expected, dtype)
    assert T.soft_labels(votes.round().nan_to_num().long(), labels).dtype == torch.float32


def test_soft_labels_rejects_negative_votes_and_mismatch() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        T.soft_labels(torch.tensor([[1.0, -1.0, 0.0, 0.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="rows"):
        T.soft_labels(torch.ones(2, 4), torch.tensor([0]))


def test_reliability_truth_table() -> None:
    gamma = 0.4
    onehot = T.one_hot(torch.tensor([1, 1, 1, 2, 0]), 4)
    probs = torch.tensor(
        [
            [0.1, 0.7, 0.1, 0.1],  # correct -> unchanged
            [0.6, 0.2, 0.1, 0.1],  # wrong -> smoothed
            [0.1, 0.4, 0.4, 0.1],  # tie true(1)/later(2): argmax = first = 1 -> counted correct
            [0.1, 0.1, 0.4, 0.4],  # tie true(2)/later(3): first = 2 -> correct
            [0.1, 0.1, 0.4, 0.4],  # tie between 2 and 3, true 0 -> wrong
        ]
    )
    smoothed = [(1 - gamma) * 1 + gamma / 4, gamma / 4]
    expected = torch.tensor(
        [
            [0.0, 1.0, 0.0, 0.0],
            [smoothed[1], smoothed[0], smoothed[1], smoothed[1]],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [smoothed[0], smoothed[1], smoothed[1], smoothed[1]],
        ]
    )
    out = T.reliability_targets(onehot, probs, gamma)
    torch.testing.assert_close(out, expected)
    # tie between an EARLIER class (0) and the true class (1): argmax = 0 -> counted wrong
    tie_earlier = T.reliability_targets(T.one_hot(torch.tensor([1]), 4), torch.tensor([[0.4, 0.4, 0.1, 0.1]]), gamma)
    torch.testing.assert_close(tie_earlier, torch.tensor([[smoothed[1], smoothed[0], smoothed[1], smoothed[1]]]))
    # logits give the same decision as their probabilities
    logits = torch.log(probs) + 3.0
    torch.testing.assert_close(T.reliability_targets(onehot, logits, gamma), out)


def test_reliability_on_already_smoothed_targets() -> None:
    gamma, ls = 0.5, 0.1
    y = T.label_smoothing(T.one_hot(torch.tensor([0, 3]), 4), ls)
    pred = torch.tensor([[5.0, 1.0, 0.0, 0.0], [5.0, 1.0, 0.0, 0.0]])  # right for row 0, wrong for row 1
    out = T.reliability_targets(y, pred, gamma)
    torch.testing.assert_close(out[0], y[0])
    expected_row1 = [(1 - gamma) * v + gamma / 4 for v in y[1].tolist()]
    torch.testing.assert_close(out[1], torch.tensor(expected_row1))
    torch.testing.assert_close(out.sum(1), torch.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_reliability_matches_loop(dtype: torch.dtype, seed: int) -> None:
    labels, soft = _random_case(seed, dtype)
    gen = torch.Generator().manual_seed(100 + seed)
    logits = torch.randn(M, C, generator=gen, dtype=dtype)
    for y in (T.one_hot(labels, C).to(dtype), soft):
        expected = slow_lr(y.tolist(), logits.tolist(), 0.6)
        _close(T.reliability_targets(y, logits, 0.6), expected, dtype)
        _close(T.reliability_targets(y, torch.softmax(logits, 1), 0.6), expected, dtype)


def test_reliability_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="shape"):
        T.reliability_targets(torch.eye(4), torch.zeros(3, 4), 0.2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_self_kd_targets_softmax_loop(dtype: torch.dtype, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(M, C, generator=gen, dtype=dtype) * 3
    expected = []
    for row in logits.tolist():
        mx = max(row)
        exps = [math.exp(v - mx) for v in row]
        expected.append([e / sum(exps) for e in exps])
    _close(T.self_kd_targets(logits), expected, dtype)
    probs = T.self_kd_targets(logits)
    torch.testing.assert_close(T.self_kd_targets(probs), probs)  # probabilities pass through unchanged


@pytest.mark.parametrize("fn", ["label_smoothing", "unigram", "reliability", "self_kd", "soft"])
def test_targets_backward_gradcheck(fn: str) -> None:
    gen = torch.Generator().manual_seed(7)
    x = torch.softmax(torch.randn(5, C, generator=gen, dtype=torch.float64), 1).requires_grad_()
    labels = torch.tensor([0, 1, 2, 3, 0])
    pred = torch.randn(5, C, generator=gen, dtype=torch.float64)
    funcs = {
        "label_smoothing": lambda y: T.label_smoothing(y, 0.3),
        "unigram": lambda y: T.unigram_smoothing(y, T.class_prior(labels), 0.3),
        "reliability": lambda y: T.reliability_targets(y, pred, 0.3),
        "self_kd": lambda y: T.self_kd_targets(y * 4.0 - 1.0),
        "soft": lambda y: T.soft_labels(y * 3.0, labels),
    }
    assert torch.autograd.gradcheck(funcs[fn], (x,))
    x32 = x.detach().float().requires_grad_()
    funcs[fn](x32).pow(2).sum().backward()
    assert x32.grad is not None and bool(torch.isfinite(x32.grad).all())
