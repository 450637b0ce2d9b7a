"""Loss functions of the paper and of the compared methods, with the paper's equation numbers.

Classification losses take logits and (soft) targets of shape (M, C); class weights β and corpus-wise
weights w (CWW) are applied where the per-sample losses are reduced, as in (5). Metric losses (Proxy-NCA,
Proxy-Anchor, contrastive) take embeddings; the RD loss takes the softmax outputs.

Where the paper is open (RD's similarity, AE's scale, PEL, CWW, β), the choices made are on the documentation
site's decisions page: ``docs/decisions.md#rd-loss``, ``#ae-loss``, ``#pel``, ``#cww`` and ``#class-weights``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rdlr.labels import NUM_CLASSES

__all__ = [
    "class_balance_weights",
    "corpus_wise_weights",
    "cross_entropy",
    "focal_loss",
    "rd_loss",
    "rd_loss_from_similarity",
    "proxy_anchor_loss",
    "proxy_anchor_loss_from_similarity",
    "proxy_nca_loss",
    "contrastive_loss",
    "reconstruction_loss",
    "AE_REDUCTIONS",
    "pel_loss",
    "ProxyAnchor",
]


# ----------------------------------------------------------------------------------------------- checks
def _check_labels(labels: torch.Tensor, num_classes: int, rows: int | None = None) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of class indices, got dtype {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D (M,), got shape {tuple(labels.shape)}")
    if rows is not None and labels.shape[0] != rows:
        raise ValueError(f"labels has {labels.shape[0]} entries but the batch has {rows} rows")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got min {int(labels.min())} max {int(labels.max())}; "
            "remove unlabeled rows (-1) first"
        )
    return labels.long()


def _check_logits_targets(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D (M, C), got shape {tuple(logits.shape)}")
    if targets.shape != logits.shape:
        raise ValueError(f"targets shape {tuple(targets.shape)} must equal logits shape {tuple(logits.shape)}")
    if logits.shape[0] == 0:
        raise ValueError("empty minibatch: logits has 0 rows")


def _per_sample_weights(
    targets: torch.Tensor,
    class_weights: torch.Tensor | None,
    sample_weights: torch.Tensor | None,
    labels: torch.Tensor | None,
    like: torch.Tensor,
) -> torch.Tensor:
    """w_i β_i of (5) for every sample: β_i = class_weights[y_i] (the class of sample i's label, whatever its target
    ȳ_i: a self-KD or soft-label target's argmax need not be y_i), w_i = sample_weights[i]."""
    m, c = targets.shape
    weight = torch.ones(m, dtype=like.dtype, device=like.device)
    if class_weights is not None:
        class_weights = torch.as_tensor(class_weights, device=like.device).to(like.dtype)
        if class_weights.shape != (c,):
            raise ValueError(f"class_weights must have shape ({c},), got {tuple(class_weights.shape)}")
        if labels is None:
            raise ValueError("class_weights need labels: β_i of (5) is the weight of sample i's class y_i")
        if labels.shape != (m,) or labels.dtype.is_floating_point:
            raise ValueError(f"labels must be ({m},) class indices, got {labels.dtype} of shape {tuple(labels.shape)}")
        weight = weight * class_weights[labels.to(like.device)]
    if sample_weights is not None:
        sample_weights = torch.as_tensor(sample_weights, device=like.device).to(like.dtype)
        if sample_weights.shape != (m,):
            raise ValueError(f"sample_weights must have shape ({m},), got {tuple(sample_weights.shape)}")
        weight = weight * sample_weights
    return weight


# ------------------------------------------------------------------------------------ weights β and w
def class_balance_weights(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Class weights β of (5): inverse class frequency, normalised to mean 1 over the classes present.

    β_c = (1 / n_c) / ((1/K) Σ_{c' present} 1 / n_c'), K = number of classes present in ``labels``.
    A class absent from ``labels`` gets weight 0: no training label has that class, so the value is
    never used by (5), and 0 makes the absence visible. Returns float32 of shape (num_classes,).
    """
    labels = _check_labels(labels, num_classes)
    if labels.numel() == 0:
        raise ValueError("class_balance_weights needs at least one label, got an empty tensor")
    counts = torch.bincount(labels, minlength=num_classes).to(torch.float64)
    present = counts > 0
    inverse = torch.where(present, 1.0 / counts.clamp_min(1.0), torch.zeros_like(counts))
    weights = inverse * present.sum() / inverse.sum()
    return weights.to(torch.float32)


def corpus_wise_weights(ua_per_corpus: Sequence[float] | torch.Tensor, lambda_w: float) -> torch.Tensor:
    """Corpus-wise weights (CWW), eq. (6): one weight per training corpus d.

    w_d = (1 - U_d)^λW / ((1/D) Σ_{d'=1}^{D} (1 - U_d')^λW)

    U_d is the unweighted accuracy (a fraction in [0, 1]) of the current model on corpus d; the weights have
    mean 1, and a harder corpus (lower U_d) gets a larger weight. Every sample i of corpus d_i takes w_{d_i}.
    All-perfect guard: when every U_d = 1 (and λW > 0) the denominator is 0; all corpora are then equally
    easy and every weight is 1. Returns a float tensor of shape (D,) (float32, or the input tensor's float dtype).
    """
    dtype = (
        ua_per_corpus.dtype
        if isinstance(ua_per_corpus, torch.Tensor) and ua_per_corpus.dtype.is_floating_point
        else torch.float32
    )
    ua = torch.as_tensor(ua_per_corpus, dtype=torch.float64).detach().cpu().reshape(-1)
    if ua.numel() == 0:
        raise ValueError("corpus_wise_weights needs the UA of at least one training corpus")
    if not bool(torch.isfinite(ua).all()) or bool((ua < 0).any()) or bool((ua > 1).any()):
        raise ValueError(f"UA values must be fractions in [0, 1], got {ua.tolist()}")
    lambda_w = float(lambda_w)
    if not math.isfinite(lambda_w) or lambda_w < 0:
        raise ValueError(f"lambda_w must be a finite number >= 0, got {lambda_w}")
    numer = (1.0 - ua) ** lambda_w
    denom = numer.mean()
    if float(denom) == 0.0:
        return torch.ones(ua.numel(), dtype=dtype)
    return (numer / denom).to(dtype)


# ------------------------------------------------------------------------------- classification losses
def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    class_weights: torch.Tensor | None = None,
    sample_weights: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy with class weights and corpus-wise weights, eq. (5), with soft targets.

    L = -(1/M) Σ_i w_i β_i ȳ_i · log softmax(logits_i)

    β_i = class_weights[y_i] (1 when None; ``labels`` gives y_i and is needed with ``class_weights``), w_i =
    sample_weights[i] (1 when None). The sum is divided by M, not by Σ w_i β_i, as (5) is printed.
    """
    _check_logits_targets(logits, targets)
    targets = targets.to(logits.dtype)
    per_sample = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    weight = _per_sample_weights(targets, class_weights, sample_weights, labels, logits)
    return (weight * per_sample).sum() / logits.shape[0]


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    focusing: float = 2.0,
    class_weights: torch.Tensor | None = None,
    sample_weights: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Focal loss of Lin et al. [24] with soft targets and the weights of (5) (β_i = class_weights[y_i] as in
    :func:`cross_entropy`, ``labels`` giving y_i).

    L = -(1/M) Σ_i w_i β_i Σ_c ȳ_ic (1 - p_ic)^γf log p_ic,   p_i = softmax(logits_i), γf = ``focusing``.
    """
    _check_logits_targets(logits, targets)
    if focusing < 0:
        raise ValueError(f"focusing parameter must be >= 0, got {focusing}")
    targets = targets.to(logits.dtype)
    log_p = F.log_softmax(logits, dim=1)
    modulating = (1.0 - log_p.exp()).clamp_min(0.0) ** focusing
    per_sample = -(targets * modulating * log_p).sum(dim=1)
    weight = _per_sample_weights(targets, class_weights, sample_weights, labels, logits)
    return (weight * per_sample).sum() / logits.shape[0]


# ----------------------------------------------------------------------------------------------- RD (7)
def rd_loss_from_similarity(similarity: torch.Tensor, alpha: float = 1.0, delta: float = 0.0) -> torch.Tensor:
    """RD loss (7) as a function of the similarities s_i = s(F(x_i), ȳ_i) of shape (M,).

    L = log((1/M) Σ_i exp(-α (s_i - δ))), computed as logsumexp(-α (s - δ)) - log M. Its gradient is (8):
    ∂L/∂s_i = -α exp(-α (s_i - δ)) / Σ_j exp(-α (s_j - δ)).
    """
    if similarity.dim() != 1 or similarity.shape[0] == 0:
        raise ValueError(f"similarity must be a non-empty 1-D tensor (M,), got shape {tuple(similarity.shape)}")
    return torch.logsumexp(-alpha * (similarity - delta), dim=0) - math.log(similarity.shape[0])


def rd_loss(probs: torch.Tensor, targets: torch.Tensor, alpha: float = 1.0, delta: float = 0.0) -> torch.Tensor:
    """Relative difficulty-aware (RD) loss, eq. (7).

    L_RD = log((1/M) Σ_i exp(-α (s(F(x_i), ȳ_i) - δ)))

    ``probs`` is the classifier's softmax output F(x_i) (M, C); ``targets`` the training target ȳ_i (one-hot,
    smoothed or LR target). s is the cosine similarity between each sample's output and its OWN target vector.
    The authors' public snippet instead takes row 0 of an M×M similarity matrix (every prediction compared with
    the target of sample 0); this follows (7) as printed, not the snippet. Paper defaults: α = 1, δ = 0.
    """
    _check_logits_targets(probs, targets)
    similarity = F.cosine_similarity(probs, targets.to(probs.dtype), dim=1)
    return rd_loss_from_similarity(similarity, alpha, delta)


# ------------------------------------------------------------------------------------- proxy losses
def _cosine_matrix(embeddings: torch.Tensor, proxies: torch.Tensor) -> torch.Tensor:
    if embeddings.dim() != 2 or proxies.dim() != 2:
        raise ValueError(
            f"embeddings (M, E) and proxies (C, E) must be 2-D, got {tuple(embeddings.shape)} and "
            f"{tuple(proxies.shape)}"
        )
    if embeddings.shape[1] != proxies.shape[1]:
        raise ValueError(f"embedding dim {embeddings.shape[1]} does not match proxy dim {proxies.shape[1]}")
    return F.normalize(embeddings, dim=1) @ F.normalize(proxies.to(embeddings.dtype), dim=1).T


def proxy_anchor_loss_from_similarity(
    similarity: torch.Tensor, labels: torch.Tensor, alpha: float = 32.0, delta: float = 0.1
) -> torch.Tensor:
    """Proxy-Anchor loss (3) from the cosine similarities s(z, p) of shape (M, C) (rows: samples, cols: proxies).

    L = (1/|P+|) Σ_{p∈P+} log(1 + Σ_{z∈Z_p+} e^{-α(s(z,p)-δ)})
      + (1/|P|)  Σ_{p∈P}  log(1 + Σ_{z∈Z_p-} e^{α(s(z,p)+δ)})

    P+ = proxies with at least one positive sample in the batch. Each log(1 + Σ e^a) is evaluated as a
    logsumexp over {0} ∪ {a}, which is stable for α = 32 and gives 0 (with zero gradient) for an empty set.
    The gradient is (4).
    """
    if similarity.dim() != 2 or similarity.shape[0] == 0:
        raise ValueError(f"similarity must be a non-empty (M, C) tensor, got shape {tuple(similarity.shape)}")
    num_classes = similarity.shape[1]
    labels = _check_labels(labels, num_classes, similarity.shape[0]).to(similarity.device)
    positive = F.one_hot(labels, num_classes).bool()
    neg_inf = torch.full_like(similarity, -math.inf)
    zero_row = torch.zeros(1, num_classes, dtype=similarity.dtype, device=similarity.device)
    pos_exp = torch.where(positive, -alpha * (similarity - delta), neg_inf)
    neg_exp = torch.where(positive, neg_inf, alpha * (similarity + delta))
    pos_term = torch.logsumexp(torch.cat([zero_row, pos_exp]), dim=0)  # (C,)
    neg_term = torch.logsumexp(torch.cat([zero_row, neg_exp]), dim=0)  # (C,)
    with_positive = positive.any(dim=0)
    return pos_term[with_positive].sum() / with_positive.sum() + neg_term.sum() / num_classes


def proxy_anchor_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    proxies: torch.Tensor,
    alpha: float = 32.0,
    delta: float = 0.1,
) -> torch.Tensor:
    """Proxy-Anchor loss [26], eq. (3) as printed, with s = cosine similarity between embedding and proxy.

    The first term is averaged over P+ (proxies with >= 1 positive in the minibatch), the second over all
    proxies |P|. Defaults α = 32, δ = 0.1 as in [26].
    """
    return proxy_anchor_loss_from_similarity(_cosine_matrix(embeddings, proxies), labels, alpha, delta)


def _proxy_nca_loss_from_similarity(similarity: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Proxy-NCA (1) from cosine similarities (M, C): Σ_z [-s(z,p+) + log Σ_{p-∈P-} e^{s(z,p-)}]; gradient (2)."""
    if similarity.dim() != 2 or similarity.shape[1] < 2:
        raise ValueError(f"Proxy-NCA needs similarity (M, C) with C >= 2, got shape {tuple(similarity.shape)}")
    labels = _check_labels(labels, similarity.shape[1], similarity.shape[0]).to(similarity.device)
    positive = F.one_hot(labels, similarity.shape[1]).bool()
    s_pos = similarity[positive]
    s_neg = torch.where(positive, torch.full_like(similarity, -math.inf), similarity)
    return (torch.logsumexp(s_neg, dim=1) - s_pos).sum()


def proxy_nca_loss(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor) -> torch.Tensor:
    """Proxy-NCA loss [28], eq. (1) as printed.

    L = Σ_{z∈Z} -log( e^{s(z,p+)} / Σ_{p-∈P-} e^{s(z,p-)} ),  s = cosine similarity.

    As printed, (1) is a SUM over the minibatch (not a mean), and the denominator sums over the negative
    proxies only (P- = P without p+). No temperature or scaling is applied.
    """
    return _proxy_nca_loss_from_similarity(_cosine_matrix(embeddings, proxies), labels)


# ----------------------------------------------------------------------------------------- contrastive
def contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Contrastive loss of Chopra et al. [25] over all pairs i < j of the minibatch.

    ℓ_ij = d_ij²  if y_i = y_j,   max(0, margin - d_ij)²  otherwise;   L = mean over the M(M-1)/2 pairs,

    d_ij = Euclidean distance between the L2-normalised embeddings (so d ∈ [0, 2] and the margin has a fixed
    scale whatever the embedding norm; this matches the cosine geometry of the proxy losses). A minibatch of
    one sample has no pair and gives 0 (still attached to the graph).
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be 2-D (M, E), got shape {tuple(embeddings.shape)}")
    m = embeddings.shape[0]
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dim() != 1 or labels.shape[0] != m:
        raise ValueError(
            f"labels must be an integer tensor of shape ({m},), got dtype {labels.dtype} shape {tuple(labels.shape)}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError("labels contain negative (unlabeled) entries; remove unlabeled rows first")
    labels = labels.to(embeddings.device)
    if m < 2:
        return embeddings.sum() * 0.0
    normed = F.normalize(embeddings, dim=1)
    dist = torch.cdist(normed, normed)
    i, j = torch.triu_indices(m, m, offset=1, device=embeddings.device)
    d = dist[i, j]
    same = labels[i] == labels[j]
    per_pair = torch.where(same, d.pow(2), (margin - d).clamp_min(0.0).pow(2))
    return per_pair.mean()


# ------------------------------------------------------------------------------------- AE and PEL
AE_REDUCTIONS: tuple[str, ...] = ("mean", "sum")


def reconstruction_loss(inputs: torch.Tensor, reconstructions: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Autoencoder reconstruction loss, eq. (12) with the sign flipped (the error is minimised).

    ``reduction="mean"`` (default): L_AE = (1/(M D)) Σ_i ||x_i - H(F'(x_i))||²₂, the squared error averaged over
    the D feature dimensions and the M samples (as ``nn.MSELoss``), so that the paper's grid for λ_AE
    {0.5, 0.1, 0.01, 0.001} weighs it against the CE loss on the same scale whatever D is.
    ``reduction="sum"``: L_AE = (1/M) Σ_i ||x_i - H(F'(x_i))||²₂, eq. (12) as printed (summed over dimensions).
    """
    if reduction not in AE_REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(AE_REDUCTIONS)}, got {reduction!r}")
    if inputs.shape != reconstructions.shape or inputs.dim() != 2:
        raise ValueError(
            f"inputs and reconstructions must both be (M, D) with equal shapes, got {tuple(inputs.shape)} "
            f"and {tuple(reconstructions.shape)}"
        )
    if inputs.shape[0] == 0:
        raise ValueError("empty minibatch: inputs has 0 rows")
    squared = (inputs - reconstructions).pow(2)
    return squared.mean() if reduction == "mean" else squared.sum(dim=1).mean()


def pel_loss(logits_unlabeled: torch.Tensor) -> torch.Tensor:
    """Pseudo-emotion-label loss, eq. (13), with all-one PEL vectors on unlabeled utterances:

    L_PEL = -(1/M') Σ_i 1 · log softmax(logits_i) = -(1/M') Σ_i Σ_c log p_ic.

    The target is the all-one vector as printed (not 1/C); the scale difference is absorbed by λ_PEL.
    """
    if logits_unlabeled.dim() != 2 or logits_unlabeled.shape[0] == 0:
        raise ValueError(f"logits_unlabeled must be a non-empty (M', C) tensor, got {tuple(logits_unlabeled.shape)}")
    return -F.log_softmax(logits_unlabeled, dim=1).sum() / logits_unlabeled.shape[0]


class ProxyAnchor(nn.Module):
    """Learnable proxies (num_classes × embedding_dim) and the Proxy-Anchor loss (3) on them.

    Proxies are initialised from a standard normal then Kaiming-normal (fan_out), as in the code of [26].
    Give ``module.parameters()`` to the optimiser so the proxies are learned; [26] gives them a learning rate 100
    times the network's (:meth:`rdlr.train.objective.Objective.param_groups`).
    """

    def __init__(
        self, num_classes: int = NUM_CLASSES, embedding_dim: int = 512, alpha: float = 32.0, delta: float = 0.1
    ) -> None:
        super().__init__()
        if num_classes < 1 or embedding_dim < 1:
            raise ValueError(f"num_classes and embedding_dim must be >= 1, got {num_classes}, {embedding_dim}")
        self.alpha = float(alpha)
        self.delta = float(delta)
        self.proxies = nn.Parameter(torch.randn(num_classes, embedding_dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return proxy_anchor_loss(embeddings, labels, self.proxies, self.alpha, self.delta)

    def extra_repr(self) -> str:
        num_classes, dim = self.proxies.shape
        return f"num_classes={num_classes}, embedding_dim={dim}, alpha={self.alpha}, delta={self.delta}"
