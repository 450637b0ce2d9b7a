"""Training target vectors: one-hot, label smoothing (9), unigram smoothing, soft labels, LR (10), self-KD.

Every function returns a float tensor of shape (M, C). Its dtype is the dtype of the float input tensor
(targets, votes) or float32 when the input is an integer tensor (class indices).

Choices the paper leaves open: ``docs/decisions.md#lr-targets``, ``#self-kd`` and ``#soft-labels``.
"""

from __future__ import annotations

import torch

from rdlr.labels import NUM_CLASSES

__all__ = [
    "one_hot",
    "label_smoothing",
    "class_prior",
    "unigram_smoothing",
    "soft_labels",
    "reliability_targets",
    "self_kd_targets",
]


def _check_labels(labels: torch.Tensor, num_classes: int, name: str = "labels") -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"{name} must be 1-D (M,), got shape {tuple(labels.shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0].item()
        raise ValueError(
            f"{name} contains class index {bad} outside [0, {num_classes}); "
            "unlabeled rows (-1) must be removed before building targets"
        )
    return labels.long()


def _check_targets(targets: torch.Tensor, name: str = "targets") -> torch.Tensor:
    if not isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets)
    if targets.dim() != 2:
        raise ValueError(f"{name} must be 2-D (M, C), got shape {tuple(targets.shape)}")
    if not targets.dtype.is_floating_point:
        targets = targets.to(torch.float32)
    return targets


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"smoothing parameter gamma must lie in [0, 1], got {gamma}")
    return gamma


def one_hot(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """One-hot class label vectors y_i, float32 of shape (M, num_classes)."""
    labels = _check_labels(labels, num_classes)
    out = torch.zeros(labels.shape[0], num_classes, dtype=torch.float32, device=labels.device)
    out[torch.arange(labels.shape[0], device=labels.device), labels] = 1.0
    return out


def label_smoothing(targets: torch.Tensor, gamma: float) -> torch.Tensor:
    """Label smoothing, eq. (9): ȳ_i = (1 - γ) y_i + γ / C.

    Works on one-hot or already-soft targets (each row keeps its sum when rows sum to 1).
    """
    targets = _check_targets(targets)
    gamma = _check_gamma(gamma)
    return (1.0 - gamma) * targets + gamma / targets.shape[1]


def class_prior(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Class distribution of the (training) labels, float32 of shape (num_classes,), summing to 1."""
    labels = _check_labels(labels, num_classes)
    if labels.numel() == 0:
        raise ValueError("class_prior needs at least one label, got an empty tensor")
    counts = torch.bincount(labels, minlength=num_classes).to(torch.float32)
    return counts / counts.sum()


def unigram_smoothing(targets: torch.Tensor, prior: torch.Tensor, gamma: float) -> torch.Tensor:
    """Unigram smoothing [18]: ȳ_i = (1 - γ) y_i + γ · prior, prior = training class distribution."""
    targets = _check_targets(targets)
    gamma = _check_gamma(gamma)
    prior = torch.as_tensor(prior, device=targets.device).to(targets.dtype)
    if prior.shape != (targets.shape[1],):
        raise ValueError(
            f"prior must have shape ({targets.shape[1]},) to match targets {tuple(targets.shape)}, "
            f"got {tuple(prior.shape)}"
        )
    if bool((prior < 0).any()) or abs(float(prior.sum()) - 1.0) > 1e-4:
        raise ValueError(f"prior must be a probability distribution (non-negative, sum 1), got {prior.tolist()}")
    return (1.0 - gamma) * targets + gamma * prior


def soft_labels(votes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Soft labels [17]: each row is the distribution of the annotators' votes over the C classes.

    ``votes`` is (M, C) vote counts (or fractions). A row without votes (all zero, or containing NaN
    because the corpus ships no votes for that utterance) falls back to the one-hot vector of ``labels``.
    """
    votes = _check_targets(votes, "votes")
    num_classes = votes.shape[1]
    labels = _check_labels(labels, num_classes)
    if labels.shape[0] != votes.shape[0]:
        raise ValueError(f"votes has {votes.shape[0]} rows but labels has {labels.shape[0]}")
    missing = torch.isnan(votes).any(dim=1)
    clean = torch.where(torch.isnan(votes), torch.zeros_like(votes), votes)
    if bool((clean < 0).any()):
        row = int(torch.nonzero((clean < 0).any(dim=1))[0])
        raise ValueError(f"votes must be non-negative counts; row {row} is {votes[row].tolist()}")
    totals = clean.sum(dim=1, keepdim=True)
    has_votes = (~missing) & (totals.squeeze(1) > 0)
    dist = clean / totals.clamp_min(torch.finfo(votes.dtype).tiny)
    fallback = one_hot(labels, num_classes).to(device=votes.device, dtype=votes.dtype)
    return torch.where(has_votes.unsqueeze(1), dist, fallback)


def reliability_targets(
    targets: torch.Tensor, predictions: torch.Tensor, gamma: float, smooth_from: torch.Tensor | None = None
) -> torch.Tensor:
    """Targets considering labeling reliability, eq. (10).

    ȳ_i = (1 - γ) y_i + γ / C   if argmax(ŷ_i) != argmax(y_i)   (the pre-trained model got sample i wrong)
    ȳ_i = y_i                   otherwise.

    ``targets`` may be one-hot or already smoothed. By default the smoothing applies to ``targets`` itself (LS + LR
    smooths the LS target again where wrong, (10) read literally); with ``smooth_from`` (e.g. the one-hot labels)
    a wrong row is replaced by the smoothed ``smooth_from`` row instead, as the authors' snippet does.
    ``predictions`` are the pre-trained model's probabilities or logits: softmax keeps the argmax.
    Ties: ``torch.argmax`` returns the first maximal index, so a prediction row tied between the true class
    and a later class counts as correct, and one tied between an earlier class and the true class counts as wrong.
    """
    targets = _check_targets(targets)
    gamma = _check_gamma(gamma)
    predictions = torch.as_tensor(predictions, device=targets.device)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions shape {tuple(predictions.shape)} must equal targets shape {tuple(targets.shape)}"
        )
    source = targets
    if smooth_from is not None:
        source = _check_targets(smooth_from, "smooth_from").to(device=targets.device, dtype=targets.dtype)
        if source.shape != targets.shape:
            raise ValueError(f"smooth_from shape {tuple(source.shape)} must equal targets shape {tuple(targets.shape)}")
    wrong = torch.argmax(predictions, dim=1) != torch.argmax(targets, dim=1)
    return torch.where(wrong.unsqueeze(1), label_smoothing(source, gamma), targets)


def self_kd_targets(predictions: torch.Tensor) -> torch.Tensor:
    """Self-KD targets: the pre-trained model's softmax output.

    Rows that are already probability vectors (non-negative, summing to 1 within 1e-4) are returned as they
    are; otherwise ``predictions`` are taken as logits and passed through softmax. The check is made on the
    whole tensor, so a tensor of logits is never partly treated as probabilities.
    """
    predictions = _check_targets(predictions, "predictions")
    is_prob = bool((predictions >= 0).all()) and bool(
        torch.allclose(predictions.sum(dim=1), torch.ones_like(predictions[:, 0]), atol=1e-4, rtol=0.0)
    )
    if is_prob:
        return predictions.clone()
    return torch.softmax(predictions, dim=1)
