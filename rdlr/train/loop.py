"""One trial: train the classifier F with a method's objective and report per-epoch and final metrics.

Pure PyTorch (no Ray import): :mod:`rdlr.sweep` adapts :func:`run_trial` to Ray Tune. The protocol follows
Section 3.2: Adam (lr 2e-4), inputs z-normalised with training statistics only, early stopping with patience 5
on the mean validation UA over the training corpora, learning rate × 0.1 after 2 epochs without improvement,
corpus-wise weights (6) recomputed each epoch from the previous epoch's per-corpus UA, and two stages for LR
(10) and self-KD, the stage-1 model being cached on disk by a content key (:mod:`rdlr.train.stage1`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rdlr import losses, targets
from rdlr.labels import NUM_CLASSES
from rdlr.methods import Method, get_method
from rdlr.metrics import confusion_matrix, unweighted_accuracy, weighted_accuracy
from rdlr.model import Decoder, EmotionClassifier
from rdlr.train.stage1 import Stage1Cache
from rdlr.train.data import TrialData

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainConfig:
    """Training protocol settings (Section 3.2); everything but ``device`` is part of the stage-1 cache key."""

    max_epochs: int = 100
    lr: float = 2e-4
    patience: int = 5
    lr_patience: int = 2
    lr_factor: float = 0.1
    eval_batch_size: int = 8192
    cww_split: str = "val"
    ae_on_unlabeled: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.cww_split not in ("val", "train"):
            raise ValueError(f"cww_split must be 'val' or 'train', got {self.cww_split!r}")
        if self.max_epochs < 1 or self.patience < 1:
            raise ValueError(f"max_epochs and patience must be ≥ 1, got {self.max_epochs}, {self.patience}")

    def cache_fields(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("device", "eval_batch_size")}


@dataclass
class TrialResult:
    """Per-epoch ``history``, ``final`` metrics of the best epoch, and the trained model.

    ``state_dict`` holds the classifier's weights and the z-normalisation statistics; ``train_targets`` the
    training targets Ȳ actually used; ``stage1`` the stage-1 model's final metrics and training-set
    predictions for two-stage methods.
    """

    history: list[dict[str, Any]]
    final: dict[str, Any]
    state_dict: dict[str, Any]
    train_targets: np.ndarray
    stage1: dict[str, Any] | None = None
    wall_time_s: float = 0.0


def training_targets(
    method: Method,
    hparams: Mapping[str, Any],
    labels: torch.Tensor,
    votes: torch.Tensor | None = None,
    stage1_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ȳ for the training rows: one-hot or votes → LS (9) / unigram → LR (10); or self-KD targets."""
    if method.uses("self_kd"):
        return targets.self_kd_targets(_require(stage1_logits, method))
    if method.uses("soft") and votes is not None:
        result = targets.soft_labels(torch.nan_to_num(votes, nan=0.0), labels)
    else:
        result = targets.one_hot(labels, NUM_CLASSES)
    if method.uses("ls"):
        result = targets.label_smoothing(result, hparams["ls_gamma"])
    elif method.uses("unigram"):
        result = targets.unigram_smoothing(result, targets.class_prior(labels, NUM_CLASSES), hparams["ls_gamma"])
    if method.uses("lr"):
        result = targets.reliability_targets(result, _require(stage1_logits, method), hparams["gamma"])
    return result


def _require(stage1_logits: torch.Tensor | None, method: Method) -> torch.Tensor:
    if stage1_logits is None:
        raise ValueError(f"method {method.id!r} needs the stage-1 model's predictions on the training set")
    return stage1_logits


class Objective(nn.Module):
    """The networks a method trains (F, and H / proxies when used) and its loss terms, generalising (11)."""

    def __init__(self, method: Method, hparams: Mapping[str, Any], input_dim: int, ae_on_unlabeled: bool) -> None:
        super().__init__()
        self.method = method
        self.hparams = dict(hparams)
        self.ae_on_unlabeled = ae_on_unlabeled
        self.classifier = EmotionClassifier(input_dim)
        self.decoder = Decoder(self.classifier.encoding_dim, input_dim) if method.uses("ae") else None
        self.proxy_anchor = (
            losses.ProxyAnchor(NUM_CLASSES, self.classifier.embedding_dim, hparams["pa_alpha"], hparams["pa_delta"])
            if method.uses("proxy_anchor")
            else None
        )

    def forward(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        labels: torch.Tensor,
        class_weights: torch.Tensor | None,
        sample_weights: torch.Tensor | None,
        x_unlabeled: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms for one minibatch; their sum is the objective."""
        hp, uses = self.hparams, self.method.uses
        out = self.classifier(x)
        terms: dict[str, torch.Tensor] = {}
        if uses("focal"):
            terms["focal"] = losses.focal_loss(out.logits, target, hp["focusing"], class_weights, sample_weights)
        else:
            terms["ce"] = losses.cross_entropy(out.logits, target, class_weights, sample_weights)
        if uses("rd"):
            probs = torch.softmax(out.logits, dim=1)
            terms["rd"] = hp["lambda_rd"] * losses.rd_loss(probs, target, hp["rd_alpha"], hp["rd_delta"])
        if self.proxy_anchor is not None:
            terms["proxy_anchor"] = hp["lambda_pa"] * self.proxy_anchor(out.embedding, labels)
        if uses("contrastive"):
            terms["contrastive"] = hp["lambda_contrastive"] * losses.contrastive_loss(
                out.embedding, labels, hp["margin"]
            )
        unlabeled = self.classifier(x_unlabeled) if x_unlabeled is not None else None
        if self.decoder is not None:
            inputs, encodings = x, out.encoding
            if unlabeled is not None and self.ae_on_unlabeled:
                inputs = torch.cat([x, x_unlabeled])
                encodings = torch.cat([out.encoding, unlabeled.encoding])
            terms["ae"] = hp["lambda_ae"] * losses.reconstruction_loss(inputs, self.decoder(encodings))
        if uses("pel"):
            terms["pel"] = hp["lambda_pel"] * losses.pel_loss(unlabeled.logits)
        return terms


@dataclass
class _Prepared:
    """Device tensors of one trial, z-normalised with the training statistics."""

    x: torch.Tensor
    labels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    train: torch.Tensor
    unlabeled: torch.Tensor | None
    roles: dict[str, np.ndarray] = field(default_factory=dict)


def _prepare(data: TrialData, device: str) -> _Prepared:
    x = torch.as_tensor(data.x, device=device)
    train = torch.as_tensor(data.indices("train"), device=device)
    mean = x[train].mean(dim=0)
    std = x[train].std(dim=0).clamp_min(1e-8)
    unlabeled = data.indices("unlabeled")
    return _Prepared(
        x=(x - mean) / std,
        labels=torch.as_tensor(data.labels, device=device),
        mean=mean,
        std=std,
        train=train,
        unlabeled=torch.as_tensor(unlabeled, device=device) if len(unlabeled) else None,
        roles={role: data.indices(role) for role in ("train", "val", "test")},
    )


@torch.no_grad()
def predict_logits(classifier: EmotionClassifier, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits of ``classifier`` in eval mode, in large no-grad batches."""
    was_training = classifier.training
    classifier.eval()
    logits = torch.cat([classifier(x[start : start + batch_size]).logits for start in range(0, len(x), batch_size)])
    classifier.train(was_training)
    return logits


def _role_metrics(
    data: TrialData, prepared: _Prepared, classifier: EmotionClassifier, role: str, batch_size: int
) -> dict[str, Any]:
    """UA per corpus and overall for the rows of ``role`` (+ WA and confusion for the test role)."""
    rows = prepared.roles[role]
    if len(rows) == 0:
        return {}
    predicted = predict_logits(classifier, prepared.x[torch.as_tensor(rows, device=prepared.x.device)], batch_size)
    predicted = predicted.argmax(dim=1).cpu().numpy()
    truth, corpora = data.labels[rows], data.corpus[rows]
    metrics: dict[str, Any] = {
        f"{role}_ua/{name}": unweighted_accuracy(truth[corpora == name], predicted[corpora == name])
        for name in sorted(set(corpora))
    }
    if role == "val":
        metrics["val_ua"] = float(np.mean([metrics[f"val_ua/{name}"] for name in sorted(set(corpora))]))
    else:
        metrics[f"{role}_ua"] = unweighted_accuracy(truth, predicted)
    if role == "test":
        metrics["test_wa"] = weighted_accuracy(truth, predicted)
        metrics["confusion"] = confusion_matrix(truth, predicted, NUM_CLASSES).tolist()
    return metrics


def _fit(
    data: TrialData,
    method: Method,
    hparams: Mapping[str, Any],
    seed: int,
    config: TrainConfig,
    stage1_logits: torch.Tensor | None,
    on_epoch: EpochCallback | None,
) -> tuple[TrialResult, torch.Tensor]:
    """Train one model; returns the result and the best model's logits on the training rows."""
    if method.uses("pel") and not (data.roles == "unlabeled").any():
        raise ValueError(
            f"method {method.id!r} uses PEL (13), which needs unlabeled utterances (role 'unlabeled'); "
            "add an unlabeled corpus such as LibriSpeech to the trial"
        )
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = config.device
    prepared = _prepare(data, device)
    train_labels = prepared.labels[prepared.train]
    votes = torch.as_tensor(data.votes[prepared.roles["train"]], device=device) if data.votes is not None else None
    train_targets = training_targets(method, hparams, train_labels, votes, stage1_logits).to(prepared.x.dtype)
    class_weights = losses.class_balance_weights(train_labels, NUM_CLASSES) if method.uses("cw") else None

    train_corpora = data.corpora("train")
    corpus_of_row = torch.as_tensor(
        np.searchsorted(train_corpora, data.corpus[prepared.roles["train"]]), device=device
    )
    corpus_weights = torch.ones(len(train_corpora), device=device)

    objective = Objective(method, hparams, data.x.shape[1], config.ae_on_unlabeled).to(device)
    optimizer = torch.optim.Adam(objective.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=config.lr_factor, patience=config.lr_patience
    )
    batch_size = int(hparams["batch_size"])
    unlabeled_batch = int(hparams["unlabeled_batch_size"])
    draws_unlabeled = prepared.unlabeled is not None and (
        method.uses("pel") or (method.uses("ae") and config.ae_on_unlabeled)
    )
    history: list[dict[str, Any]] = []
    best_ua, best_epoch, best_state = -1.0, 0, copy.deepcopy(objective.classifier.state_dict())

    for epoch in range(1, config.max_epochs + 1):
        objective.train()
        order = torch.randperm(len(prepared.train), generator=generator).to(device)
        term_sums: torch.Tensor | None = None
        steps = 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            x_unlabeled = None
            if draws_unlabeled:
                pick = torch.randint(len(prepared.unlabeled), (unlabeled_batch,), generator=generator).to(device)
                x_unlabeled = prepared.x[prepared.unlabeled[pick]]
            sample_weights = corpus_weights[corpus_of_row[batch]] if method.uses("cww") else None
            terms = objective(
                prepared.x[prepared.train[batch]],
                train_targets[batch],
                train_labels[batch],
                class_weights,
                sample_weights,
                x_unlabeled,
            )
            values = torch.stack(list(terms.values()))
            optimizer.zero_grad(set_to_none=True)
            values.sum().backward()
            optimizer.step()
            # summed on the device and read once per epoch: no host sync per step
            term_sums = values.detach() if term_sums is None else term_sums + values.detach()
            steps += 1
        mean_terms = (term_sums / steps).tolist()
        losses_by_name = {f"loss/{name}": value for name, value in zip(terms, mean_terms)}

        metrics = _role_metrics(data, prepared, objective.classifier, "val", config.eval_batch_size)
        metrics.update(_role_metrics(data, prepared, objective.classifier, "test", config.eval_batch_size))
        record: dict[str, Any] = {
            "epoch": epoch,
            "lr": optimizer.param_groups[0]["lr"],
            "loss/total": float(sum(mean_terms)),
            **losses_by_name,
            **{key: value for key, value in metrics.items() if key != "confusion"},
        }
        if method.uses("cww"):
            record.update({f"corpus_weight/{name}": float(w) for name, w in zip(train_corpora, corpus_weights)})
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)

        if metrics["val_ua"] > best_ua:
            best_ua, best_epoch = metrics["val_ua"], epoch
            best_state = copy.deepcopy(objective.classifier.state_dict())
        scheduler.step(metrics["val_ua"])
        if method.uses("cww"):
            uas = _corpus_uas(data, prepared, objective.classifier, config, train_corpora, metrics)
            corpus_weights = losses.corpus_wise_weights(uas, hparams["lambda_w"]).to(device)
        if epoch - best_epoch >= config.patience:
            break

    objective.classifier.load_state_dict(best_state)
    final = _role_metrics(data, prepared, objective.classifier, "val", config.eval_batch_size)
    final.update(_role_metrics(data, prepared, objective.classifier, "test", config.eval_batch_size))
    final.update(epochs=len(history), best_epoch=best_epoch)
    train_logits = predict_logits(objective.classifier, prepared.x[prepared.train], config.eval_batch_size)
    state = {
        "classifier": {key: value.detach().cpu() for key, value in best_state.items()},
        "feature_mean": prepared.mean.cpu(),
        "feature_std": prepared.std.cpu(),
    }
    result = TrialResult(history, final, state, train_targets.cpu().numpy())
    return result, train_logits


def _corpus_uas(
    data: TrialData,
    prepared: _Prepared,
    classifier: EmotionClassifier,
    config: TrainConfig,
    train_corpora: list[str],
    val_metrics: Mapping[str, Any],
) -> list[float]:
    """Per-training-corpus UA of this epoch's model, the U_d of (6), on the validation or training split."""
    split = config.cww_split
    metrics = val_metrics if split == "val" else _role_metrics(data, prepared, classifier, split, config.eval_batch_size)
    return [float(metrics.get(f"{split}_ua/{name}", 0.0)) for name in train_corpora]


def run_trial(
    data: TrialData,
    method: str | Method,
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    config: TrainConfig = TrainConfig(),
    cache_dir: str | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrialResult:
    """Train and evaluate one (method, hyperparameters, seed) on ``data``.

    Two-stage methods (LR, self-KD) first obtain the stage-1 model — the same method without LR (plain CE for
    self-KD), same hyperparameters and seed — from ``cache_dir`` or by training it, then use its predictions
    on the training rows to build the targets (10). Deterministic for a given seed on CPU.
    """
    started = time.perf_counter()
    method = get_method(method) if isinstance(method, str) else method
    resolved = method.resolve_hparams(hparams)
    stage1_logits, stage1_info = None, None
    if method.two_stage:
        stage1_method = method.stage1()
        cache = Stage1Cache(cache_dir)
        key = cache.key(stage1_method, resolved, seed, config.cache_fields(), data.fingerprint())
        cached = cache.load(key)
        if cached is None:
            stage1_result, logits = _fit(data, stage1_method, resolved, seed, config, None, None)
            cached = cache.store(key, logits.cpu(), stage1_result.final)
        stage1_logits = cached["train_logits"].to(config.device)
        stage1_info = {"final": cached["final"], "train_predictions": cached["train_logits"].argmax(1).numpy()}
    result, _ = _fit(data, method, resolved, seed, config, stage1_logits, on_epoch)
    result.stage1 = stage1_info
    result.wall_time_s = time.perf_counter() - started
    return result
