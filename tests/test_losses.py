"""Losses (rdlr.losses) against slow loops written from the paper's equations, and gradients against (2), (4), (8).

Values: every vectorised loss is compared, in float32 and float64, with a plain-Python loop over samples, proxies
and classes (math.exp / math.log on floats). Gradients: float64 autograd of the vectorised loss is checked with
finite differences (torch.autograd.gradcheck), float32 gradients must be finite and match float64 ones, and the
RD, Proxy-Anchor and Proxy-NCA gradients w.r.t. the similarities are compared with the paper's formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from rdlr import losses as L
from rdlr.targets import label_smoothing, one_hot
from slow_reference import slow_argmax

DTYPES = [torch.float32, torch.float64]
SEEDS = [0, 1, 2]
M, C, E = 10, 4, 6


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _check_value(value: torch.Tensor, expected: float, dtype: torch.dtype) -> None:
    assert value.dim() == 0 and value.dtype == dtype
    torch.testing.assert_close(value, torch.tensor(expected, dtype=dtype), **_tol(dtype))


def _batch(seed: int, dtype: torch.dtype, m: int = M, missing_class: bool = False) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C - 1 if missing_class else C, (m,), generator=gen)
    labels[: min(m, C - 1)] = torch.arange(min(m, C - 1))  # make classes 0..C-2 present
    if not missing_class and m >= C:
        labels[C - 1] = C - 1
    soft = torch.softmax(torch.randn(m, C, generator=gen, dtype=torch.float64) * 2, 1)
    return {
        "labels": labels,
        "logits": (torch.randn(m, C, generator=gen, dtype=torch.float64) * 3).to(dtype),
        "soft": soft.to(dtype),
        "hard": one_hot(labels, C).to(dtype),
        "emb": torch.randn(m, E, generator=gen, dtype=torch.float64).to(dtype),
        "proxies": torch.randn(C, E, generator=gen, dtype=torch.float64).to(dtype),
        "class_w": (torch.rand(C, generator=gen, dtype=torch.float64) + 0.5).to(dtype),
        "sample_w": (torch.rand(m, generator=gen, dtype=torch.float64) * 2).to(dtype),
    }


def _grad_checks(fn: Callable[..., torch.Tensor], inputs64: list[torch.Tensor]) -> None:
    """gradcheck in float64; float32 autograd gradients finite and equal to the float64 ones."""
    leaves64 = [x.detach().clone().requires_grad_() for x in inputs64]
    assert torch.autograd.gradcheck(fn, leaves64, eps=1e-6, atol=1e-6, rtol=1e-4)
    fn(*leaves64).backward()
    leaves32 = [x.detach().float().requires_grad_() for x in inputs64]
    fn(*leaves32).backward()
    for x32, x64 in zip(leaves32, leaves64):
        assert x32.grad is not None and bool(torch.isfinite(x32.grad).all())
        torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=2e-3, atol=2e-4)


# ------------------------------------------------------------------------------------------- slow loops
def slow_log_softmax(row: list[float]) -> list[float]:
    mx = max(row)
    log_z = mx + math.log(sum(math.exp(v - mx) for v in row))
    return [v - log_z for v in row]


def slow_ce(logits, targets, class_w=None, sample_w=None, focusing=None) -> float:
    total = 0.0
    for i, (z, y) in enumerate(zip(logits, targets)):
        log_p = slow_log_softmax(z)
        inner = 0.0
        for c in range(len(z)):
            mod = 1.0 if focusing is None else (1.0 - math.exp(log_p[c])) ** focusing
            inner += y[c] * mod * log_p[c]
        w = 1.0 if sample_w is None else sample_w[i]
        b = 1.0 if class_w is None else class_w[slow_argmax(y)]
        total += -w * b * inner
    return total / len(logits)


def slow_cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def slow_rd(probs, targets, alpha: float, delta: float) -> float:
    total = 0.0
    for p, y in zip(probs, targets):
        total += math.exp(-alpha * (slow_cos(p, y) - delta))
    return math.log(total / len(probs))


def slow_proxy_anchor(emb, labels, proxies, alpha: float, delta: float) -> float:
    pos_classes = [p for p in range(len(proxies)) if any(lab == p for lab in labels)]
    first = 0.0
    for p in pos_classes:
        acc = 0.0
        for z, lab in zip(emb, labels):
            if lab == p:
                acc += math.exp(-alpha * (slow_cos(z, proxies[p]) - delta))
        first += math.log(1.0 + acc)
    second = 0.0
    for p in range(len(proxies)):
        acc = 0.0
        for z, lab in zip(emb, labels):
            if lab != p:
                acc += math.exp(alpha * (slow_cos(z, proxies[p]) + delta))
        second += math.log(1.0 + acc)
    return first / len(pos_classes) + second / len(proxies)


def slow_proxy_nca(emb, labels, proxies) -> float:
    total = 0.0
    for z, lab in zip(emb, labels):
        num = math.exp(slow_cos(z, proxies[lab]))
        den = sum(math.exp(slow_cos(z, proxies[p])) for p in range(len(proxies)) if p != lab)
        total += -math.log(num / den)
    return total


def slow_contrastive(emb, labels, margin: float) -> float:
    normed = []
    for z in emb:
        n = math.sqrt(sum(v * v for v in z))
        normed.append([v / n for v in z])
    total, pairs = 0.0, 0
    for i in range(len(emb)):
        for j in range(i + 1, len(emb)):
            d = math.sqrt(sum((a - b) ** 2 for a, b in zip(normed[i], normed[j])))
            total += d * d if labels[i] == labels[j] else max(0.0, margin - d) ** 2
            pairs += 1
    return total / pairs


# ------------------------------------------------------------------------------------- CE (5) and focal
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target_kind", ["hard", "soft"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_eq5(dtype, seed, target_kind, weighted) -> None:
    b = _batch(seed, dtype)
    cw, sw = (b["class_w"], b["sample_w"]) if weighted else (None, None)
    value = L.cross_entropy(b["logits"], b[target_kind], cw, sw)
    expected = slow_ce(
        b["logits"].tolist(), b[target_kind].tolist(),
        cw.tolist() if weighted else None, sw.tolist() if weighted else None,
    )
    _check_value(value, expected, dtype)


def test_cross_entropy_equals_torch_for_one_hot_and_divides_by_m() -> None:
    b = _batch(0, torch.float64)
    torch.testing.assert_close(
        L.cross_entropy(b["logits"], b["hard"]), torch.nn.functional.cross_entropy(b["logits"], b["labels"])
    )
    half = torch.full((M,), 0.5, dtype=torch.float64)
    torch.testing.assert_close(L.cross_entropy(b["logits"], b["hard"], sample_weights=half),
                               0.5 * L.cross_entropy(b["logits"], b["hard"]))


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_gradients(seed) -> None:
    b = _batch(seed, torch.float64)
    _grad_checks(lambda z: L.cross_entropy(z, b["soft"].to(z.dtype), b["class_w"], b["sample_w"]), [b["logits"]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("focusing", [0.0, 1.0, 2.0, 3.5])
def test_focal_loss_matches_loop(dtype, seed, focusing) -> None:
    b = _batch(seed, dtype)
    value = L.focal_loss(b["logits"], b["soft"], focusing, b["class_w"], b["sample_w"])
    expected = slow_ce(b["logits"].tolist(), b["soft"].tolist(), b["class_w"].tolist(), b["sample_w"].tolist(),
                       focusing=focusing)
    _check_value(value, expected, dtype)


def test_focal_zero_focusing_is_cross_entropy_and_gradients() -> None:
    b = _batch(3, torch.float64)
    torch.testing.assert_close(L.focal_loss(b["logits"], b["hard"], 0.0), L.cross_entropy(b["logits"], b["hard"]))
    _grad_checks(lambda z: L.focal_loss(z, b["soft"].to(z.dtype), 2.0), [b["logits"]])
    with pytest.raises(ValueError, match="focusing"):
        L.focal_loss(b["logits"], b["hard"], -1.0)


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
    b = _batch(seed, dtype)
    y = label_smoothing(b["hard"], 0.3) if target_kind == "smoothed" else b[target_kind]
    probs = torch.softmax(b["logits"], 1)
    value = L.rd_loss(probs, y, alpha, delta)
    _check_value(value, slow_rd(probs.tolist(), y.tolist(), alpha, delta), dtype)


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
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=dtype), **_tol(dtype))


@pytest.mark.parametrize("seed", SEEDS)
def test_rd_loss_gradients_through_probs(seed) -> None:
    b = _batch(seed, torch.float64)
    _grad_checks(lambda z: L.rd_loss(torch.softmax(z, 1), b["soft"].to(z.dtype), 1.0, 0.0), [b["logits"]])


def test_rd_loss_is_stable_for_large_alpha() -> None:
    s = torch.tensor([-1.0, 1.0, 0.5], requires_grad=True)
    value = L.rd_loss_from_similarity(s, alpha=200.0, delta=0.0)
    value.backward()
    assert torch.isfinite(value) and bool(torch.isfinite(s.grad).all())
    with pytest.raises(ValueError, match="1-D"):
        L.rd_loss_from_similarity(torch.zeros(0))


# --------------------------------------------------------------------------------- Proxy-Anchor (3)(4)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("missing_class", [False, True])
@pytest.mark.parametrize("alpha,delta", [(32.0, 0.1), (4.0, 0.5)])
def test_proxy_anchor_eq3(dtype, seed, missing_class, alpha, delta) -> None:
    b = _batch(seed, dtype, missing_class=missing_class)
    value = L.proxy_anchor_loss(b["emb"], b["labels"], b["proxies"], alpha, delta)
    expected = slow_proxy_anchor(b["emb"].tolist(), b["labels"].tolist(), b["proxies"].tolist(), alpha, delta)
    _check_value(value, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("missing_class", [False, True])
def test_proxy_anchor_gradient_eq4(dtype, seed, missing_class) -> None:
    alpha, delta = 32.0, 0.1
    b = _batch(seed, dtype, missing_class=missing_class)
    gen = torch.Generator().manual_seed(seed)
    s = (torch.rand(M, C, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype).requires_grad_()
    labels = b["labels"].tolist()
    L.proxy_anchor_loss_from_similarity(s, b["labels"], alpha, delta).backward()
    sv = s.detach().tolist()
    n_pos_proxies = len(set(labels))
    expected = [[0.0] * C for _ in range(M)]
    for p in range(C):
        h_pos = {i: math.exp(-alpha * (sv[i][p] - delta)) for i in range(M) if labels[i] == p}
        h_neg = {i: math.exp(alpha * (sv[i][p] + delta)) for i in range(M) if labels[i] != p}
        for i in range(M):
            if labels[i] == p:
                expected[i][p] = (1 / n_pos_proxies) * (-alpha * h_pos[i]) / (1 + sum(h_pos.values()))
            else:
                expected[i][p] = (1 / C) * (alpha * h_neg[i]) / (1 + sum(h_neg.values()))
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=dtype), **_tol(dtype))


@pytest.mark.parametrize("seed", SEEDS)
def test_proxy_anchor_gradients_through_embeddings_and_proxies(seed) -> None:
    b = _batch(seed, torch.float64, missing_class=seed == 1)
    _grad_checks(lambda e, p: L.proxy_anchor_loss(e, b["labels"], p, 32.0, 0.1), [b["emb"], b["proxies"]])


def test_proxy_anchor_stable_at_extreme_similarities() -> None:
    labels = torch.tensor([0, 1, 1, 2])
    s = torch.tensor([[-1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]],
                     requires_grad=True)
    value = L.proxy_anchor_loss_from_similarity(s, labels, alpha=100.0, delta=0.1)
    value.backward()
    assert torch.isfinite(value) and bool(torch.isfinite(s.grad).all())
    # proxy 3 has no positive sample: its first-term contribution is absent, its gradient comes from (4) only
    assert bool((s.grad[:, 3] > 0).all())


def test_proxy_anchor_module_learns_proxies() -> None:
    torch.manual_seed(0)
    module = L.ProxyAnchor(num_classes=C, embedding_dim=E)
    params = list(module.parameters())
    assert len(params) == 1 and params[0].shape == (C, E) and params[0].requires_grad
    b = _batch(0, torch.float32)
    emb = b["emb"].requires_grad_()
    value = module(emb, b["labels"])
    torch.testing.assert_close(value, L.proxy_anchor_loss(emb, b["labels"], module.proxies, 32.0, 0.1))
    value.backward()
    assert module.proxies.grad is not None and bool(torch.isfinite(module.proxies.grad).all())
    assert float(module.proxies.grad.abs().sum()) > 0
    assert "embedding_dim=6" in repr(module)


def test_proxy_losses_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="dim"):
        L.proxy_anchor_loss(torch.zeros(3, 5), torch.tensor([0, 1, 2]), torch.ones(4, 6))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        L.proxy_anchor_loss(torch.ones(3, 6), torch.tensor([0, 1, 4]), torch.ones(4, 6))
    with pytest.raises(ValueError, match="entries"):
        L.proxy_nca_loss(torch.ones(3, 6), torch.tensor([0, 1]), torch.ones(4, 6))


# ------------------------------------------------------------------------------------ Proxy-NCA (1)(2)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_proxy_nca_eq1(dtype, seed) -> None:
    b = _batch(seed, dtype)
    value = L.proxy_nca_loss(b["emb"], b["labels"], b["proxies"])
    _check_value(value, slow_proxy_nca(b["emb"].tolist(), b["labels"].tolist(), b["proxies"].tolist()), dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_proxy_nca_gradient_eq2(seed) -> None:
    b = _batch(seed, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    s = (torch.rand(M, C, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    L._proxy_nca_loss_from_similarity(s, b["labels"]).backward()
    labels, sv = b["labels"].tolist(), s.detach().tolist()
    expected = []
    for i in range(M):
        den = sum(math.exp(sv[i][q]) for q in range(C) if q != labels[i])
        expected.append([-1.0 if p == labels[i] else math.exp(sv[i][p]) / den for p in range(C)])
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=torch.float64))
    _grad_checks(lambda e, p: L.proxy_nca_loss(e, b["labels"], p), [b["emb"], b["proxies"]])


# ----------------------------------------------------------------------------------------- contrastive
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.5])
def test_contrastive_matches_pair_loop(dtype, seed, margin) -> None:
    b = _batch(seed, dtype)
    value = L.contrastive_loss(b["emb"], b["labels"], margin)
    _check_value(value, slow_contrastive(b["emb"].tolist(), b["labels"].tolist(), margin), dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_contrastive_gradients(seed) -> None:
    b = _batch(seed, torch.float64)
    _grad_checks(lambda e: L.contrastive_loss(e, b["labels"], 1.0), [b["emb"]])


def test_contrastive_duplicates_and_single_sample() -> None:
    base = torch.randn(3, E)
    emb = torch.cat([base[:1], base[:1] * 2.0, base[1:]]).requires_grad_()  # two identical directions
    value = L.contrastive_loss(emb, torch.tensor([0, 0, 1, 1]))
    value.backward()
    assert torch.isfinite(value) and bool(torch.isfinite(emb.grad).all())
    one = torch.randn(1, E, requires_grad=True)
    single = L.contrastive_loss(one, torch.tensor([2]))
    assert float(single.detach()) == 0.0 and single.requires_grad
    with pytest.raises(ValueError, match="unlabeled"):
        L.contrastive_loss(torch.randn(2, E), torch.tensor([0, -1]))


# ------------------------------------------------------------------------------------------ AE and PEL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_reconstruction_eq12_positive(dtype, seed) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(M, 7, generator=gen, dtype=torch.float64).to(dtype)
    r = torch.randn(M, 7, generator=gen, dtype=torch.float64).to(dtype)
    expected = sum(sum((a - c) ** 2 for a, c in zip(xi, ri)) for xi, ri in zip(x.tolist(), r.tolist())) / M
    value = L.reconstruction_loss(x, r)
    _check_value(value, expected, dtype)
    assert float(value) > 0
    assert float(L.reconstruction_loss(x, x)) == 0.0
    _grad_checks(lambda a, c: L.reconstruction_loss(a, c), [x.double(), r.double()])
    with pytest.raises(ValueError, match="shapes"):
        L.reconstruction_loss(x, r[:, :3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_pel_eq13_all_one_target(dtype, seed) -> None:
    b = _batch(seed, dtype, m=32)
    expected = slow_ce(b["logits"].tolist(), [[1.0] * C for _ in range(32)])
    _check_value(L.pel_loss(b["logits"]), expected, dtype)
    _grad_checks(L.pel_loss, [b["logits"][:6].double()])
    # the minimum is at uniform outputs
    uniform = L.pel_loss(torch.zeros(2, C, dtype=dtype))
    _check_value(uniform, C * math.log(C), dtype)


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
