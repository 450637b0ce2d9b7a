"""Classification losses (CE (5), focal), RD (7), AE (12), PEL (13) and the weights β and CWW (6) of rdlr.losses
against slow loops written from the paper's equations; the metric losses are in test_metric_losses.py.

Values: every vectorised loss is compared, in float32 and float64, with a plain-Python loop over samples and
classes (math.exp / math.log on floats). Gradients: float64 autograd of the vectorised loss is checked with finite
differences (torch.autograd.gradcheck), float32 gradients must be finite and match float64 ones, and the RD
gradient w.r.t. the similarities is compared with the paper's formula (8).
"""

from __future__ import annotations

import math

import pytest
import torch

from rdlr import losses as L
from rdlr.targets import label_smoothing
from tests.helpers.loss_checks import DTYPES, SEEDS, C, M, check_gradients, check_value, random_batch, tolerance
from tests.helpers.slow_reference import slow_cos


# ------------------------------------------------------------------------------------------- slow loops
def slow_log_softmax(row: list[float]) -> list[float]:
    mx = max(row)
    log_z = mx + math.log(sum(math.exp(v - mx) for v in row))
    return [v - log_z for v in row]


def slow_ce(logits, targets, class_w=None, sample_w=None, focusing=None, labels=None) -> float:
    """(5) as printed: β_i is the weight of sample i's class y_i (``labels``), whatever its target ȳ_i."""
    total = 0.0
    for i, (z, y) in enumerate(zip(logits, targets)):
        log_p = slow_log_softmax(z)
        inner = 0.0
        for c in range(len(z)):
            mod = 1.0 if focusing is None else (1.0 - math.exp(log_p[c])) ** focusing
            inner += y[c] * mod * log_p[c]
        w = 1.0 if sample_w is None else sample_w[i]
        b = 1.0 if class_w is None else class_w[labels[i]]
        total += -w * b * inner
    return total / len(logits)


def slow_rd(probs, targets, alpha: float, delta: float) -> float:
    total = 0.0
    for p, y in zip(probs, targets):
        total += math.exp(-alpha * (slow_cos(p, y) - delta))
    return math.log(total / len(probs))


# ------------------------------------------------------------------------------------- CE (5) and focal
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target_kind", ["hard", "soft"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_eq5(dtype, seed, target_kind, weighted) -> None:
    b = random_batch(seed, dtype)
    cw, sw = (b["class_w"], b["sample_w"]) if weighted else (None, None)
    value = L.cross_entropy(b["logits"], b[target_kind], cw, sw, b["labels"] if weighted else None)
    expected = slow_ce(
        b["logits"].tolist(),
        b[target_kind].tolist(),
        cw.tolist() if weighted else None,
        sw.tolist() if weighted else None,
        labels=b["labels"].tolist(),
    )
    check_value(value, expected, dtype)


def test_cross_entropy_equals_torch_for_one_hot_and_divides_by_m() -> None:
    b = random_batch(0, torch.float64)
    torch.testing.assert_close(
        L.cross_entropy(b["logits"], b["hard"]), torch.nn.functional.cross_entropy(b["logits"], b["labels"])
    )
    half = torch.full((M,), 0.5, dtype=torch.float64)
    torch.testing.assert_close(
        L.cross_entropy(b["logits"], b["hard"], sample_weights=half), 0.5 * L.cross_entropy(b["logits"], b["hard"])
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_gradients(seed) -> None:
    b = random_batch(seed, torch.float64)
    check_gradients(
        lambda z: L.cross_entropy(z, b["soft"].to(z.dtype), b["class_w"], b["sample_w"], b["labels"]), [b["logits"]]
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("focusing", [0.0, 1.0, 2.0, 3.5])
def test_focal_loss_matches_loop(dtype, seed, focusing) -> None:
    b = random_batch(seed, dtype)
    value = L.focal_loss(b["logits"], b["soft"], focusing, b["class_w"], b["sample_w"], b["labels"])
    expected = slow_ce(
        b["logits"].tolist(),
        b["soft"].tolist(),
        b["class_w"].tolist(),
        b["sample_w"].tolist(),
        focusing=focusing,
        labels=b["labels"].tolist(),
    )
    check_value(value, expected, dtype)


def test_focal_zero_focusing_is_cross_entropy_and_gradients() -> None:
    b = random_batch(3, torch.float64)
    torch.testing.assert_close(L.focal_loss(b["logits"], b["hard"], 0.0), L.cross_entropy(b["logits"], b["hard"]))
    check_gradients(lambda z: L.focal_loss(z, b["soft"].to(z.dtype), 2.0), [b["logits"]])
    with pytest.raises(ValueError, match="focusing"):
        L.focal_loss(b["logits"], b["hard"], -1.0)


def test_class_weight_follows_the_label_not_the_soft_target() -> None:
    """Self-KD's soft target (the stage-1 prediction) may put its mass on another class than y_i: β_i is still
    the weight of y_i, and class weights without labels are refused."""
    logits = torch.tensor([[0.3, -0.2, 1.0, 0.1]], dtype=torch.float64)
    target = torch.tensor([[0.1, 0.7, 0.1, 0.1]], dtype=torch.float64)  # argmax 1, label 3
    weights = torch.tensor([1.0, 5.0, 1.0, 2.0], dtype=torch.float64)
    value = L.cross_entropy(logits, target, weights, labels=torch.tensor([3]))
    check_value(value, slow_ce(logits.tolist(), target.tolist(), weights.tolist(), labels=[3]), torch.float64)
    torch.testing.assert_close(value, 2.0 * L.cross_entropy(logits, target))
    with pytest.raises(ValueError, match="labels"):
        L.cross_entropy(logits, target, weights)


def test_classification_losses_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        L.cross_entropy(torch.zeros(3, 4), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="class_weights"):
        L.cross_entropy(torch.zeros(3, 4), torch.eye(4)[:3], class_weights=torch.ones(3))
    with pytest.raises(ValueError, match="sample_weights"):
        L.cross_entropy(torch.zeros(3, 4), torch.eye(4)[:3], sample_weights=torch.ones(4))
    with pytest.raises(ValueError, match="empty"):
        L.cross_entropy(torch.zeros(0, 4), torch.zeros(0, 4))


# --------------------------------------------------------------------------------------------- RD (7)(8)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("alpha,delta", [(1.0, 0.0), (2.5, 0.3), (32.0, 0.1)])
@pytest.mark.parametrize("target_kind", ["hard", "soft", "smoothed"])
def test_rd_loss_eq7(dtype, seed, alpha, delta, target_kind) -> None:
    b = random_batch(seed, dtype)
    y = label_smoothing(b["hard"], 0.3) if target_kind == "smoothed" else b[target_kind]
    probs = torch.softmax(b["logits"], 1)
    value = L.rd_loss(probs, y, alpha, delta)
    check_value(value, slow_rd(probs.tolist(), y.tolist(), alpha, delta), dtype)


def test_rd_loss_uses_each_samples_own_target() -> None:
    # sample 0 perfectly predicted, sample 1 totally wrong: a row-0-of-the-matrix implementation would differ
    probs = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    expected = math.log((math.exp(-1.0) + math.exp(0.0)) / 2)
    torch.testing.assert_close(L.rd_loss(probs, y), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("alpha,delta", [(1.0, 0.0), (4.0, 0.2)])
def test_rd_gradient_eq8(dtype, seed, alpha, delta) -> None:
    gen = torch.Generator().manual_seed(seed)
    s = (torch.rand(M, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype).requires_grad_()
    L.rd_loss_from_similarity(s, alpha, delta).backward()
    sv = s.detach().tolist()
    den = sum(math.exp(-alpha * (v - delta)) for v in sv)
    expected = [-alpha * math.exp(-alpha * (v - delta)) / den for v in sv]
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=dtype), **tolerance(dtype))


@pytest.mark.parametrize("seed", SEEDS)
def test_rd_loss_gradients_through_probs(seed) -> None:
    b = random_batch(seed, torch.float64)
    check_gradients(lambda z: L.rd_loss(torch.softmax(z, 1), b["soft"].to(z.dtype), 1.0, 0.0), [b["logits"]])


def test_rd_loss_is_stable_for_large_alpha() -> None:
    s = torch.tensor([-1.0, 1.0, 0.5], requires_grad=True)
    value = L.rd_loss_from_similarity(s, alpha=200.0, delta=0.0)
    value.backward()
    assert torch.isfinite(value) and bool(torch.isfinite(s.grad).all())
    with pytest.raises(ValueError, match="1-D"):
        L.rd_loss_from_similarity(torch.zeros(0))


# ------------------------------------------------------------------------------------------ AE and PEL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_reconstruction_eq12_positive(dtype, seed) -> None:
    """Default: squared error averaged over the D dimensions and the M samples (nn.MSELoss); ``reduction="sum"``:
    eq. (12) as printed, summed over dimensions and averaged over samples (D times the default)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(M, 7, generator=gen, dtype=torch.float64).to(dtype)
    r = torch.randn(M, 7, generator=gen, dtype=torch.float64).to(dtype)
    printed = sum(sum((a - c) ** 2 for a, c in zip(xi, ri)) for xi, ri in zip(x.tolist(), r.tolist())) / M
    per_element = sum((a - c) ** 2 for xi, ri in zip(x.tolist(), r.tolist()) for a, c in zip(xi, ri)) / (M * 7)
    value = L.reconstruction_loss(x, r)
    check_value(value, per_element, dtype)
    torch.testing.assert_close(value, torch.nn.MSELoss()(r, x))
    check_value(L.reconstruction_loss(x, r, reduction="sum"), printed, dtype)
    assert float(value) > 0
    assert float(L.reconstruction_loss(x, x)) == 0.0
    for reduction in L.AE_REDUCTIONS:
        check_gradients(
            lambda a, c, reduction=reduction: L.reconstruction_loss(a, c, reduction), [x.double(), r.double()]
        )
    with pytest.raises(ValueError, match="shapes"):
        L.reconstruction_loss(x, r[:, :3])
    with pytest.raises(ValueError, match="reduction must be one of mean, sum"):
        L.reconstruction_loss(x, r, reduction="none")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_pel_eq13_all_one_target(dtype, seed) -> None:
    b = random_batch(seed, dtype, m=32)
    expected = slow_ce(b["logits"].tolist(), [[1.0] * C for _ in range(32)])
    check_value(L.pel_loss(b["logits"]), expected, dtype)
    check_gradients(L.pel_loss, [b["logits"][:6].double()])
    # the minimum is at uniform outputs
    uniform = L.pel_loss(torch.zeros(2, C, dtype=dtype))
    check_value(uniform, C * math.log(C), dtype)


# ------------------------------------------------------------------------------------ weights β and CWW
def test_class_balance_weights_inverse_frequency_mean_one() -> None:
    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 2 + [3] * 1)
    inv = [1 / 6, 1 / 3, 1 / 2, 1 / 1]
    expected = [v * 4 / sum(inv) for v in inv]
    w = L.class_balance_weights(labels)
    assert w.dtype == torch.float32 and w.shape == (4,)
    torch.testing.assert_close(w, torch.tensor(expected))
    torch.testing.assert_close(w.mean(), torch.tensor(1.0))
    # absent class -> weight 0; mean 1 over the classes present
    w_absent = L.class_balance_weights(torch.tensor([0, 0, 1, 3, 3, 3]))
    inv = [1 / 2, 1 / 1, 1 / 3]
    expected = [inv[0] * 3 / sum(inv), inv[1] * 3 / sum(inv), 0.0, inv[2] * 3 / sum(inv)]
    torch.testing.assert_close(w_absent, torch.tensor(expected))
    torch.testing.assert_close(w_absent[[0, 1, 3]].mean(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="empty"):
        L.class_balance_weights(torch.tensor([], dtype=torch.long))


def test_corpus_wise_weights_eq6_by_hand() -> None:
    # U = [0.5, 0.7, 0.9], λW = 2: (1-U)^2 = [0.25, 0.09, 0.01], mean = 0.35/3
    w = L.corpus_wise_weights([0.5, 0.7, 0.9], 2)
    expected = torch.tensor([0.25 / (0.35 / 3), 0.09 / (0.35 / 3), 0.01 / (0.35 / 3)])  # [2.142857, 0.771429, 0.085714]
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(w, torch.tensor([15 / 7, 27 / 35, 3 / 35]))
    assert w.dtype == torch.float32 and w.shape == (3,)
    torch.testing.assert_close(w.mean(), torch.tensor(1.0))
    assert w[0] > w[1] > w[2]  # harder corpus (lower UA) -> larger weight


@pytest.mark.parametrize("lambda_w", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", SEEDS)
def test_corpus_wise_weights_loop(lambda_w, seed) -> None:
    gen = torch.Generator().manual_seed(seed)
    ua = torch.rand(3, generator=gen, dtype=torch.float64)
    vals = [(1 - u) ** lambda_w for u in ua.tolist()]
    expected = [v / (sum(vals) / len(vals)) for v in vals]
    w = L.corpus_wise_weights(ua, lambda_w)
    assert w.dtype == torch.float64
    torch.testing.assert_close(w, torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(L.corpus_wise_weights(ua.numpy(), lambda_w), torch.tensor(expected).float())


def test_corpus_wise_weights_edge_cases() -> None:
    torch.testing.assert_close(L.corpus_wise_weights([1.0, 1.0, 1.0], 2), torch.ones(3))  # all perfect
    torch.testing.assert_close(L.corpus_wise_weights([0.4, 0.6], 0), torch.ones(2))  # λW = 0: plain CE
    torch.testing.assert_close(L.corpus_wise_weights([1.0, 0.5], 1), torch.tensor([0.0, 2.0]))
    for bad in ([], [0.5, 1.2], [float("nan")]):
        with pytest.raises(ValueError):
            L.corpus_wise_weights(bad, 2)
    with pytest.raises(ValueError, match="lambda_w"):
        L.corpus_wise_weights([0.5], -1)
