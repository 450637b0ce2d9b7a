"""One trial: train the classifier F with a method's objective (11) and report per-epoch and final metrics.

Pure PyTorch (no Ray import): :mod:`rdlr.sweep` adapts :func:`run_trial` to Ray Tune. The protocol follows
Section 3.2: Adam (lr 2e-4), inputs z-normalised with training statistics only, early stopping with patience 5
on the mean validation UA over the training corpora, learning rate × 0.1 after 2 epochs without improvement
(:mod:`rdlr.train.schedule`), corpus-wise weights (6) recomputed each epoch from the previous epoch's per-corpus
UA, and two stages for LR (10) and self-KD, where stage 2 needs only the stage-1 model's logits on the training
rows: those (and the stage-1 model's final metrics, not its weights) are cached on disk by a content key
(:mod:`rdlr.train.stage1`).

Choices the paper leaves open: ``docs/decisions.md#training`` and ``#learning-rate-drop``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdlr import losses
from rdlr.methods import Method, get_method
from rdlr.model import EmotionClassifier
from rdlr.train.config import TrainConfig, TrialResult
from rdlr.train.data import PreparedData, PreparedRows, TrialData
from rdlr.train.evaluate import corpus_uas, predict_logits, val_test_metrics
from rdlr.train.objective import Objective, training_targets
from rdlr.train.schedule import PlateauDrop
from rdlr.train.stage1 import Stage1Cache

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass
class _Training:
    """What one fit trains, on what, and with what: the data on the device, the targets Ȳ and weights of (5),
    the objective (11) with its optimiser and learning-rate schedule, and the minibatch sizes M and M'."""

    method: Method
    prepared: PreparedData
    train_labels: torch.Tensor
    train_targets: torch.Tensor
    class_weights: torch.Tensor | None
    train_corpora: list[str]
    corpus_of_row: torch.Tensor
    corpus_weights: torch.Tensor
    objective: Objective
    optimizer: torch.optim.Optimizer
    scheduler: PlateauDrop
    batch_size: int
    unlabeled_batch_size: int
    draws_unlabeled: bool


def _check_unlabeled(data: TrialData, method: Method) -> None:
    if method.uses("pel") and not (data.roles == "unlabeled").any():
        raise ValueError(
            f"method {method.id!r} uses PEL (13), which needs unlabeled utterances (role 'unlabeled'); "
            "add an unlabeled corpus such as LibriSpeech to the trial"
        )


def _needs_unlabeled_rows(method: Method, config: TrainConfig) -> bool:
    """Whether minibatches draw unlabeled rows: for PEL (13), and for AE (12) when it reconstructs them."""
    return method.uses("pel") or (method.uses("ae") and config.ae_on_unlabeled)


def _build_training(
    rows: PreparedRows,
    method: Method,
    hparams: Mapping[str, Any],
    config: TrainConfig,
    stage1_logits: torch.Tensor | None,
) -> _Training:
    """Targets Ȳ, class weights β and corpus weights w = 1 of (5), then a freshly initialised objective (drawing
    from torch's global generator), Adam on its parameter groups (proxies at a larger rate) and the learning-rate
    drop of :mod:`rdlr.train.schedule`; the rows come prepared from ``rows`` (made on first use)."""
    device, data = config.device, rows.data
    prepared = rows.get(device, unlabeled=_needs_unlabeled_rows(method, config))
    train_labels = prepared.labels[prepared.train]
    votes = torch.as_tensor(data.votes[prepared.roles["train"]], device=device) if data.votes is not None else None
    train_targets = training_targets(
        method, hparams, train_labels, votes, stage1_logits, config.lr_on_smoothed, data.num_classes
    )
    train_targets = train_targets.to(prepared.x.dtype)
    class_weights = losses.class_balance_weights(train_labels, data.num_classes) if method.uses("cw") else None

    train_corpora = data.corpora("train")
    corpus_of_row = torch.as_tensor(np.searchsorted(train_corpora, data.corpus[prepared.roles["train"]]), device=device)
    corpus_weights = torch.ones(len(train_corpora), device=device)

    objective = Objective(
        method,
        hparams,
        data.x.shape[1],
        config.ae_on_unlabeled,
        config.ae_reduction,
        config.proxy_lr_factor,
        data.num_classes,
    ).to(device)
    optimizer = torch.optim.Adam(objective.param_groups(config.lr))
    scheduler = PlateauDrop(optimizer, config.lr_patience, config.lr_factor)
    return _Training(
        method=method,
        prepared=prepared,
        train_labels=train_labels,
        train_targets=train_targets,
        class_weights=class_weights,
        train_corpora=train_corpora,
        corpus_of_row=corpus_of_row,
        corpus_weights=corpus_weights,
        objective=objective,
        optimizer=optimizer,
        scheduler=scheduler,
        batch_size=int(hparams["batch_size"]),
        unlabeled_batch_size=int(hparams["unlabeled_batch_size"]),
        draws_unlabeled=prepared.unlabeled is not None,  # prepare() left them out unless they are drawn
    )


def _train_epoch(run: _Training, generator: torch.Generator, device: str) -> dict[str, float]:
    """One pass over the training rows in a random order, in minibatches of M (each with M' unlabeled rows drawn
    with replacement when AE (12) or PEL (13) use them); returns each loss term's mean over the epoch's steps."""
    run.objective.train()
    prepared = run.prepared
    order = torch.randperm(len(prepared.train), generator=generator).to(device)
    term_sums: torch.Tensor | None = None
    steps = 0
    for start in range(0, len(order), run.batch_size):
        batch = order[start : start + run.batch_size]
        x_unlabeled = None
        if run.draws_unlabeled:
            pick = torch.randint(len(prepared.unlabeled), (run.unlabeled_batch_size,), generator=generator).to(device)
            x_unlabeled = prepared.x[prepared.unlabeled[pick]]
        sample_weights = run.corpus_weights[run.corpus_of_row[batch]] if run.method.uses("cww") else None
        terms = run.objective(
            prepared.x[prepared.train[batch]],
            run.train_targets[batch],
            run.train_labels[batch],
            run.class_weights,
            sample_weights,
            x_unlabeled,
        )
        values = torch.stack(list(terms.values()))
        run.optimizer.zero_grad(set_to_none=True)
        values.sum().backward()
        run.optimizer.step()
        # summed on the device and read once per epoch: no host sync per step
        term_sums = values.detach() if term_sums is None else term_sums + values.detach()
        steps += 1
    return dict(zip(terms, (term_sums / steps).tolist()))


def _epoch_record(
    epoch: int, run: _Training, mean_terms: Mapping[str, float], metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """One row of the history: learning rate, mean loss terms, validation/test metrics (no confusion matrix), and
    the corpus weights w of (6) this epoch trained with."""
    record: dict[str, Any] = {
        "epoch": epoch,
        "lr": run.optimizer.param_groups[0]["lr"],
        "loss/total": float(sum(mean_terms.values())),
        **{f"loss/{name}": value for name, value in mean_terms.items()},
        **{key: value for key, value in metrics.items() if key != "confusion"},
    }
    if run.method.uses("cww"):
        record.update({f"corpus_weight/{name}": float(w) for name, w in zip(run.train_corpora, run.corpus_weights)})
    return record


@dataclass
class _BestEpoch:
    """Early stopping's state: the best mean validation UA so far, its epoch, and the classifier's weights then."""

    state: dict[str, torch.Tensor]
    val_ua: float = -1.0
    epoch: int = 0

    def update(self, epoch: int, val_ua: float, classifier: EmotionClassifier) -> None:
        if val_ua > self.val_ua:
            self.val_ua, self.epoch = val_ua, epoch
            self.state = copy.deepcopy(classifier.state_dict())


def _update_corpus_weights(
    data: TrialData, run: _Training, config: TrainConfig, lambda_w: float, val_metrics: Mapping[str, Any]
) -> None:
    """The next epoch's w of (6), from this epoch's per-corpus UA U_d on ``config.cww_split``."""
    uas = corpus_uas(
        data,
        run.prepared,
        run.objective.classifier,
        config.cww_split,
        config.eval_batch_size,
        run.train_corpora,
        val_metrics,
    )
    run.corpus_weights = losses.corpus_wise_weights(uas, lambda_w).to(config.device)


def _pack_result(
    data: TrialData, run: _Training, best: _BestEpoch, history: list[dict[str, Any]], config: TrainConfig
) -> tuple[TrialResult, torch.Tensor]:
    """Restore the best epoch's classifier; its final metrics (the test rows are evaluated here, once, whether or
    not ``config.eval_test_each_epoch`` evaluated them every epoch), weights and z-normalisation statistics, and
    its logits on the training rows (what LR (10) and self-KD take from a stage-1 model)."""
    classifier, prepared = run.objective.classifier, run.prepared
    classifier.load_state_dict(best.state)
    final = val_test_metrics(data, prepared, classifier, config.eval_batch_size)
    final.update(epochs=len(history), best_epoch=best.epoch)
    train_logits = predict_logits(classifier, prepared.rows("train"), config.eval_batch_size)
    state = {
        "classifier": {key: value.detach().cpu() for key, value in best.state.items()},
        "feature_mean": prepared.mean.cpu(),
        "feature_std": prepared.std.cpu(),
    }
    return TrialResult(history, final, state, run.train_targets.cpu().numpy()), train_logits


def _fit(
    rows: PreparedRows,
    method: Method,
    hparams: Mapping[str, Any],
    seed: int,
    config: TrainConfig,
    stage1_logits: torch.Tensor | None,
    on_epoch: EpochCallback | None,
) -> tuple[TrialResult, torch.Tensor]:
    """Train one model; returns the result and the best model's logits on the training rows.

    Each epoch trains, evaluates, keeps the classifier with the best mean validation UA (early stopping after
    ``config.patience`` epochs without a better one), drops the learning rate after ``config.lr_patience`` such
    epochs (:class:`~rdlr.train.schedule.PlateauDrop`) and, for CWW, updates the corpus weights (6). ``seed`` seeds
    torch's global generator (weight init, dropout) and a separate generator for the minibatch order and the
    unlabeled draws.
    """
    data = rows.data
    _check_unlabeled(data, method)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    run = _build_training(rows, method, hparams, config, stage1_logits)
    best = _BestEpoch(copy.deepcopy(run.objective.classifier.state_dict()))
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.max_epochs + 1):
        mean_terms = _train_epoch(run, generator, config.device)
        metrics = val_test_metrics(
            data, run.prepared, run.objective.classifier, config.eval_batch_size, test=config.eval_test_each_epoch
        )
        record = _epoch_record(epoch, run, mean_terms, metrics)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        best.update(epoch, metrics["val_ua"], run.objective.classifier)
        run.scheduler.step(metrics["val_ua"])
        if method.uses("cww"):
            _update_corpus_weights(data, run, config, hparams["lambda_w"], metrics)
        if epoch - best.epoch >= config.patience:
            break
    return _pack_result(data, run, best, history, config)


def run_trial(
    data: TrialData | PreparedRows,
    method: str | Method,
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    config: TrainConfig = TrainConfig(),
    cache_dir: str | None = None,
    on_epoch: EpochCallback | None = None,
    on_stage1_epoch: EpochCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> TrialResult:
    """Train and evaluate one (method, hyperparameters, seed) on ``data``.

    Two-stage methods (LR, self-KD) first obtain the stage-1 model's logits on the training rows and its final
    metrics — the model being the same method without LR or the proposed system without LR (``config.lr_stage1``;
    plain CE for self-KD), with the same hyperparameters and seed —
    from the cache in ``cache_dir`` or by training it, then build the targets (10) from those logits.
    Deterministic for a given seed on CPU. ``data`` given as :class:`PreparedRows` shares its prepared rows with
    the other models trained on it (a sweep's worker trains every seed of a configuration on one copy).
    ``on_epoch`` gets each (stage-2) epoch's history record, ``on_stage1_epoch`` each epoch of a stage-1 model
    trained here (not one read from the cache). ``log`` gets one line saying where stage 1 comes from: the cache
    entry reused, or the stage-1 model trained now.
    """
    started = time.perf_counter()
    rows = data if isinstance(data, PreparedRows) else PreparedRows(data)
    data = rows.data
    method = get_method(method) if isinstance(method, str) else method
    resolved = method.resolve_hparams(hparams)
    stage1_logits, stage1_info = None, None
    if method.two_stage:
        stage1_method = method.stage1(config.lr_stage1)
        cache = Stage1Cache(cache_dir)
        key = cache.key(stage1_method, resolved, seed, config.cache_fields(), data.fingerprint())
        cached = cache.load(key)
        if log is not None:
            log(_stage1_source(stage1_method, cache.entry_path(key), cached is not None))
        if cached is None:
            stage1_result, logits = _fit(rows, stage1_method, resolved, seed, config, None, on_stage1_epoch)
            cached = cache.store(key, logits.cpu(), stage1_result.final)
        stage1_logits = cached["train_logits"].to(config.device)
        stage1_info = {"final": cached["final"], "train_predictions": cached["train_logits"].argmax(1).numpy()}
    result, _ = _fit(rows, method, resolved, seed, config, stage1_logits, on_epoch)
    result.stage1 = stage1_info
    result.wall_time_s = time.perf_counter() - started
    return result


def _stage1_source(stage1_method: Method, entry: Path | None, reused: bool) -> str:
    """Where a two-stage method's stage-1 model comes from, in one line."""
    if reused:
        return (
            f"stage 1: reusing the cached {stage1_method.id} model {entry} (its training-set logits and "
            "metrics; not trained again)"
        )
    stored = f"; its logits are cached as {entry}" if entry is not None else ""
    return f"stage 1: training the {stage1_method.id} model whose outputs give stage 2's targets{stored}"
