"""Metric losses of rdlr.losses on the 512-dim embedding: Proxy-Anchor (3), Proxy-NCA (1) and the contrastive loss.

Values are compared, in float32 and float64, with plain-Python loops over samples, proxies and pairs; float64
gradients with finite differences, float32 gradients with float64 ones, and the Proxy-Anchor and Proxy-NCA gradients
w.r.t. the similarities with the paper's formulas (4) and (2).
"""

from __future__ import annotations

import math

import pytest
import torch

from rdlr import losses as L
from tests.helpers.loss_checks import DTYPES, SEEDS, C, E, M, check_gradients, check_value, random_batch, tolerance
from tests.helpers.slow_reference import slow_cos


# ------------------------------------------------------------------------------------------- slow loops
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


# --------------------------------------------------------------------------------- Proxy-Anchor (3)(4)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("missing_class", [False, True])
@pytest.mark.parametrize("alpha,delta", [(32.0, 0.1), (4.0, 0.5)])
def test_proxy_anchor_eq3(dtype, seed, missing_class, alpha, delta) -> None:
    b = random_batch(seed, dtype, missing_class=missing_class)
    value = L.proxy_anchor_loss(b["emb"], b["labels"], b["proxies"], alpha, delta)
    expected = slow_proxy_anchor(b["emb"].tolist(), b["labels"].tolist(), b["proxies"].tolist(), alpha, delta)
    check_value(value, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("missing_class", [False, True])
def test_proxy_anchor_gradient_eq4(dtype, seed, missing_class) -> None:
    alpha, delta = 32.0, 0.1
    b = random_batch(seed, dtype, missing_class=missing_class)
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
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=dtype), **tolerance(dtype))


@pytest.mark.parametrize("seed", SEEDS)
def test_proxy_anchor_gradients_through_embeddings_and_proxies(seed) -> None:
    b = random_batch(seed, torch.float64, missing_class=seed == 1)
    check_gradients(lambda e, p: L.proxy_anchor_loss(e, b["labels"], p, 32.0, 0.1), [b["emb"], b["proxies"]])


def test_proxy_anchor_stable_at_extreme_similarities() -> None:
    labels = torch.tensor([0, 1, 1, 2])
    s = torch.tensor(
        [[-1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]], requires_grad=True
    )
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
    b = random_batch(0, torch.float32)
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
    b = random_batch(seed, dtype)
    value = L.proxy_nca_loss(b["emb"], b["labels"], b["proxies"])
    check_value(value, slow_proxy_nca(b["emb"].tolist(), b["labels"].tolist(), b["proxies"].tolist()), dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_proxy_nca_gradient_eq2(seed) -> None:
    b = random_batch(seed, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    s = (torch.rand(M, C, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    L._proxy_nca_loss_from_similarity(s, b["labels"]).backward()
    labels, sv = b["labels"].tolist(), s.detach().tolist()
    expected = []
    for i in range(M):
        den = sum(math.exp(sv[i][q]) for q in range(C) if q != labels[i])
        expected.append([-1.0 if p == labels[i] else math.exp(sv[i][p]) / den for p in range(C)])
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=torch.float64))
    check_gradients(lambda e, p: L.proxy_nca_loss(e, b["labels"], p), [b["emb"], b["proxies"]])


# ----------------------------------------------------------------------------------------- contrastive
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.5])
def test_contrastive_matches_pair_loop(dtype, seed, margin) -> None:
    b = random_batch(seed, dtype)
    value = L.contrastive_loss(b["emb"], b["labels"], margin)
    check_value(value, slow_contrastive(b["emb"].tolist(), b["labels"].tolist(), margin), dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_contrastive_gradients(seed) -> None:
    b = random_batch(seed, torch.float64)
    check_gradients(lambda e: L.contrastive_loss(e, b["labels"], 1.0), [b["emb"]])


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
