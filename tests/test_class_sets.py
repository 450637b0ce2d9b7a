"""Every loss and target for K classes, K in {2, 4, 7}, against slow loops over samples and classes; the weights β
of (5) and CWW (6); the restriction of annotators' votes to a class set (soft labels renormalised)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rdlr import losses as L
from rdlr import targets as T
from rdlr.labels import label_set
from tests.helpers.slow_reference import slow_argmax, slow_cos

KS = [2, 4, 7]
M, E = 12, 5


def batch(k: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A float64 minibatch of M rows for K = ``k`` classes with every class present."""
    gen = torch.Generator().manual_seed(seed + 10 * k)
    labels = torch.randint(0, k, (M,), generator=gen)
    labels[:k] = torch.arange(k)
    return {
        "labels": labels,
        "logits": torch.randn(M, k, generator=gen, dtype=torch.float64) * 2,
        "soft": torch.softmax(torch.randn(M, k, generator=gen, dtype=torch.float64), 1),
        "emb": torch.randn(M, E, generator=gen, dtype=torch.float64),
        "proxies": torch.randn(k, E, generator=gen, dtype=torch.float64),
        "sample_w": torch.rand(M, generator=gen, dtype=torch.float64) + 0.5,
        "votes": torch.randint(0, 4, (M, k), generator=gen).double(),
    }


def log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    log_z = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - log_z for v in row]


def close(value: torch.Tensor | float, expected: float) -> None:
    assert float(value) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def close_rows(value: torch.Tensor, expected: list[list[float]]) -> None:
    torch.testing.assert_close(value.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("focusing", [None, 2.0])
def test_weighted_cross_entropy_and_focal_for_k_classes(k: int, focusing: float | None) -> None:
    b = batch(k)
    beta = L.class_balance_weights(b["labels"], k).double()
    target = b["soft"]
    total = 0.0
    for i in range(M):
        log_p = log_softmax(b["logits"][i].tolist())
        inner = sum(
            float(target[i, c]) * (1.0 if focusing is None else (1 - math.exp(log_p[c])) ** focusing) * log_p[c]
            for c in range(k)
        )
        total += -float(b["sample_w"][i]) * float(beta[b["labels"][i]]) * inner
    if focusing is None:
        value = L.cross_entropy(b["logits"], target, beta, b["sample_w"], b["labels"])
    else:
        value = L.focal_loss(b["logits"], target, focusing, beta, b["sample_w"], b["labels"])
    close(value, total / M)


@pytest.mark.parametrize("k", KS)
def test_class_weights_beta_for_k_classes(k: int) -> None:
    labels = torch.tensor([c for c in range(k - 1) for _ in range(c + 1)])  # the last class absent
    counts = [sum(1 for v in labels.tolist() if v == c) for c in range(k)]
    inverse = [1 / n if n else 0.0 for n in counts]
    present = sum(1 for n in counts if n)
    expected = [v * present / sum(inverse) for v in inverse]
    close_rows(L.class_balance_weights(labels, k).unsqueeze(0), [expected])


@pytest.mark.parametrize("k", KS)
def test_rd_loss_eq7_for_k_classes(k: int) -> None:
    b = batch(k)
    probs, target = torch.softmax(b["logits"], 1), T.label_smoothing(T.one_hot(b["labels"], k).double(), 0.1)
    alpha, delta = 2.0, 0.1
    slow = math.log(
        sum(math.exp(-alpha * (slow_cos(p, y) - delta)) for p, y in zip(probs.tolist(), target.tolist())) / M
    )
    close(L.rd_loss(probs, target, alpha, delta), slow)


@pytest.mark.parametrize("k", KS)
def test_proxy_anchor_eq3_has_k_proxies(k: int) -> None:
    b = batch(k)
    alpha, delta = 16.0, 0.1
    emb, labels, proxies = b["emb"].tolist(), b["labels"].tolist(), b["proxies"].tolist()
    positive = sorted(set(labels))
    first = sum(
        math.log(1 + sum(math.exp(-alpha * (slow_cos(z, proxies[p]) - delta)) for z, y in zip(emb, labels) if y == p))
        for p in positive
    )
    second = sum(
        math.log(1 + sum(math.exp(alpha * (slow_cos(z, proxies[p]) + delta)) for z, y in zip(emb, labels) if y != p))
        for p in range(k)
    )
    close(L.proxy_anchor_loss(b["emb"], b["labels"], b["proxies"], alpha, delta), first / len(positive) + second / k)
    module = L.ProxyAnchor(k, E, alpha, delta)
    assert module.proxies.shape == (k, E)


@pytest.mark.parametrize("k", KS)
def test_contrastive_loss_for_k_classes(k: int) -> None:
    b = batch(k)
    normed = [[v / math.sqrt(sum(x * x for x in z)) for v in z] for z in b["emb"].tolist()]
    labels, total, pairs = b["labels"].tolist(), 0.0, 0
    for i in range(M):
        for j in range(i + 1, M):
            d = math.sqrt(sum((a - c) ** 2 for a, c in zip(normed[i], normed[j])))
            total += d * d if labels[i] == labels[j] else max(0.0, 1.0 - d) ** 2
            pairs += 1
    close(L.contrastive_loss(b["emb"], b["labels"], 1.0), total / pairs)


@pytest.mark.parametrize("k", KS)
def test_pel_eq13_all_one_target_over_k_classes(k: int) -> None:
    b = batch(k)
    slow = sum(-sum(log_softmax(row)) for row in b["logits"].tolist()) / M
    close(L.pel_loss(b["logits"]), slow)
    close(L.pel_loss(torch.zeros(3, k, dtype=torch.float64)), k * math.log(k))


# ----------------------------------------------------------------------------------------------- targets
@pytest.mark.parametrize("k", KS)
def test_one_hot_ls_and_unigram_for_k_classes(k: int) -> None:
    b = batch(k)
    labels = b["labels"].tolist()
    hard = [[1.0 if c == y else 0.0 for c in range(k)] for y in labels]
    close_rows(T.one_hot(b["labels"], k), hard)
    close_rows(T.label_smoothing(T.one_hot(b["labels"], k), 0.2), [[0.8 * v + 0.2 / k for v in row] for row in hard])
    prior = [labels.count(c) / M for c in range(k)]
    close_rows(T.class_prior(b["labels"], k).unsqueeze(0), [prior])
    close_rows(
        T.unigram_smoothing(T.one_hot(b["labels"], k), T.class_prior(b["labels"], k), 0.3),
        [[0.7 * v + 0.3 * p for v, p in zip(row, prior)] for row in hard],
    )


@pytest.mark.parametrize("k", KS)
def test_reliability_and_self_kd_targets_for_k_classes(k: int) -> None:
    b = batch(k)
    hard = T.one_hot(b["labels"], k).double()
    expected = []
    for row, logits in zip(hard.tolist(), b["logits"].tolist()):
        wrong = slow_argmax(logits) != slow_argmax(row)
        expected.append([0.5 * v + 0.5 / k for v in row] if wrong else row)
    close_rows(T.reliability_targets(hard, b["logits"], 0.5), expected)
    soft = [[math.exp(v) for v in log_softmax(row)] for row in b["logits"].tolist()]
    close_rows(T.self_kd_targets(b["logits"]), soft)


@pytest.mark.parametrize("k", KS)
def test_soft_labels_from_votes_for_k_classes(k: int) -> None:
    b = batch(k)
    votes = b["votes"].clone()
    votes[0] = 0.0  # no votes: the one-hot label instead
    expected = []
    for row, y in zip(votes.tolist(), b["labels"].tolist()):
        total = sum(row)
        expected.append([v / total for v in row] if total else [1.0 if c == y else 0.0 for c in range(k)])
    close_rows(T.soft_labels(votes, b["labels"]), expected)


def test_votes_are_restricted_to_the_class_set_and_renormalised() -> None:
    """Votes for emotions outside the set are dropped, merged emotions add up, and soft labels renormalise: the
    paper's IEMOCAP votes (excited counted as happy) come out as before the manifests kept excited apart."""
    meta = pd.DataFrame(
        {
            "corpus": ["IEM", "IEM", "CRE"],
            "label": ["excited", "sad", "fear"],
            "votes_happy": [1.0, 0.0, 0.0],
            "votes_excited": [2.0, 0.0, np.nan],
            "votes_sad": [0.5, 2.0, 1.0],
            "votes_frustrated": [0.5, 1.0, np.nan],
            "votes_fear": [np.nan, np.nan, 3.0],
        }
    )
    paper = label_set().vote_matrix(meta)
    np.testing.assert_allclose(paper, [[0.0, 3.0, 0.5, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    labels = torch.tensor([1, 2, 2])
    soft = T.soft_labels(torch.as_tensor(paper), labels)
    torch.testing.assert_close(soft[0], torch.tensor([0.0, 3 / 3.5, 0.5 / 3.5, 0.0]))
    six = label_set(["neutral", "happy", "sad", "angry", "fear", "frustrated"], {"IEM": {"excited": None}})
    np.testing.assert_allclose(
        six.vote_matrix(meta)[:, [1, 2, 4, 5]], [[1.0, 0.5, 0.0, 0.5], [0.0, 2.0, 0.0, 1.0], [0.0, 1.0, 3.0, 0.0]]
    )
