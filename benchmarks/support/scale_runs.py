"""The measured runs of the scale rehearsal, each in its own process so that its peak RSS is its own
(bench_scale.py starts them as ``python bench_scale.py --child KIND JSON`` and reads one JSON line back).

* :func:`trial_case`: one real trial through :func:`rdlr.train.run_trial` (out-of-corpus, POD held out: the trial
  with the largest test set) — seconds per epoch, epochs to early stopping, seconds per trial, peak RSS against the
  process's RSS before the trial (the features already loaded, as a Ray worker maps them from the object store),
  and the training and evaluation rates the cost model of :mod:`rdlr.sweep.cost` needs.
* :func:`throughput_case`: the trainer's samples/s against a bare PyTorch loop of the same shapes (the same networks
  F and H, Adam, minibatch M and M' = 32, the per-epoch validation pass), side by side in one process.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rdlr.corpora.splits import assign_roles
from rdlr.labels import NUM_CLASSES
from rdlr.methods import get_method
from rdlr.metrics import unweighted_accuracy
from rdlr.model import Decoder, EmotionClassifier
from rdlr.sweep.cost import eval_flops_per_row, method_kind, train_flops_per_row
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.train.data import prepare
from rdlr.train.evaluate import predict_logits

from .scale_data import read_table, tiny_trial_data

PROTOCOL, HELD_OUT = "out_of_corpus", "POD"
EVAL_ROWS = 16_384  # rows of the evaluation-rate measurement


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def trial_data(folder: Path, dims: int) -> TrialData:
    x, meta = read_table(folder, dims)
    return TrialData.from_table(x, meta, assign_roles(meta, PROTOCOL, HELD_OUT, seed=0))


def _eval_seconds_per_row(data: TrialData, dims: int, device: str) -> float:
    """Seconds per row of F's evaluation pass (eval mode, batches of 8192, as the trainer evaluates)."""
    classifier = EmotionClassifier(dims).to(device)
    x = torch.from_numpy(np.ascontiguousarray(data.x[:EVAL_ROWS])).to(device)
    predict_logits(classifier, x[:1024], 8192)
    _synchronize(device)
    started = time.perf_counter()
    predict_logits(classifier, x, 8192)
    _synchronize(device)
    return (time.perf_counter() - started) / len(x)


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def warm_up(method: str, device: str) -> None:
    """A tiny trial of ``method`` first, so that the libraries a trial loads on first use (the optimiser's
    machinery alone is ~140 MB) count in the baseline, as in a Ray worker that has run a trial before."""
    with tempfile.TemporaryDirectory() as cache:
        run_trial(
            tiny_trial_data(),
            method,
            {"batch_size": 16},
            seed=0,
            config=TrainConfig(max_epochs=1, device=device),
            cache_dir=cache,
        )


def trial_case(case: dict[str, Any]) -> dict[str, Any]:
    """One trial (``case``: folder, dims, method, batch, max_epochs, patience, threads, device,
    eval_test_each_epoch)."""
    torch.set_num_threads(int(case["threads"]))
    device = str(case.get("device", "cpu"))
    method = get_method(case["method"])
    data = trial_data(Path(case["folder"]), int(case["dims"]))
    warm_up(case["method"], device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    before = rss_bytes()
    stamps: list[float] = []
    config = TrainConfig(
        max_epochs=int(case["max_epochs"]),
        patience=int(case["patience"]),
        device=device,
        eval_test_each_epoch=bool(case.get("eval_test_each_epoch", False)),
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        result = run_trial(
            data,
            method,
            {"batch_size": int(case["batch"])},
            seed=0,
            config=config,
            cache_dir=cache,
            on_epoch=lambda record: stamps.append(time.perf_counter()),
        )
    trial_s = time.perf_counter() - started
    peak = peak_rss_bytes()
    rows = {role: len(data.indices(role)) for role in ("train", "val", "test", "unlabeled")}
    draws_unlabeled = method.uses("pel") or method.uses("ae")
    own_rows = rows["train"] + rows["val"] + rows["test"] + (rows["unlabeled"] if draws_unlabeled else 0)
    epoch_s = statistics.median(np.diff(stamps)) if len(stamps) > 1 else float("nan")
    eval_s = _eval_seconds_per_row(data, int(case["dims"]), device)
    per_epoch_eval = rows["val"] + (rows["test"] if config.eval_test_each_epoch else 0)
    train_s_per_row = (epoch_s - per_epoch_eval * eval_s) / rows["train"]
    flops = train_flops_per_row(method, int(case["dims"]), int(case["batch"]))
    epochs = int(result.final["epochs"])
    return {
        **case,
        "kind": method_kind(method),
        "rows": rows,
        "s_per_epoch": epoch_s,
        "epochs": epochs,
        "best_epoch": int(result.final["best_epoch"]),
        "early_stopped": epochs < config.max_epochs,
        "stage1_epochs": int(result.stage1["final"]["epochs"]) if result.stage1 else None,
        "s_per_trial": trial_s,
        "test_ua": float(result.final["test_ua"]),
        "val_ua": float(result.final["val_ua"]),
        "rss_before_trial": before,
        "peak_rss": peak,
        "trial_peak_bytes": peak - before,
        "own_data_bytes": own_rows * int(case["dims"]) * 4,
        "table_bytes": int(data.x.nbytes),
        "train_flops_per_s": flops / train_s_per_row,
        "eval_flops_per_s": eval_flops_per_row(int(case["dims"])) / eval_s,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated() if device.startswith("cuda") else None,
    }


def _class_weights(labels: torch.Tensor) -> torch.Tensor:
    counts = torch.bincount(labels, minlength=NUM_CLASSES).float().clamp_min(1)
    weights = counts.sum() / counts
    return weights / weights.mean()


def bare_epoch_seconds(
    x: torch.Tensor,
    labels: torch.Tensor,
    train: slice,
    val: slice,
    unlabeled: slice,
    val_corpus: np.ndarray,
    ae: bool,
    batch: int,
    epochs: int,
) -> list[float]:
    """Seconds of each epoch of a bare loop: F (+ H and M' = 32 unlabeled rows with AE (12) and PEL (13), label
    smoothing 0.1, corpus weights), Adam 2e-4, minibatches of ``batch``, then F's UA per corpus on the
    validation rows (the per-epoch evaluation), from which the corpus weights are recomputed."""
    torch.manual_seed(0)
    generator, device = torch.Generator().manual_seed(0), x.device
    classifier = EmotionClassifier(x.shape[1]).to(device)
    decoder = Decoder(classifier.encoding_dim, x.shape[1]).to(device) if ae else None
    params = [*classifier.parameters(), *(decoder.parameters() if decoder is not None else ())]
    optimizer = torch.optim.Adam(params, lr=2e-4)
    x_train, y_train, x_unlabeled = x[train], labels[train], x[unlabeled]
    weights = _class_weights(y_train)
    sample_weight = torch.ones(len(y_train), device=device)
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        classifier.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        for begin in range(0, len(order), batch):
            rows = order[begin : begin + batch]
            xb, yb = x_train[rows], y_train[rows]
            out = classifier(xb)
            per_row = F.cross_entropy(
                out.logits, yb, weight=weights, reduction="none", label_smoothing=0.1 if ae else 0.0
            )
            loss = (per_row * sample_weight[rows]).mean()
            if decoder is not None:
                xu = x_unlabeled[torch.randint(len(x_unlabeled), (32,), generator=generator).to(device)]
                out_u = classifier(xu)
                rebuilt = decoder(torch.cat([out.encoding, out_u.encoding]))
                loss = loss + 0.01 * (torch.cat([xb, xu]) - rebuilt).pow(2).sum(1).mean()
                loss = loss - 1e-4 * F.log_softmax(out_u.logits, dim=1).sum() / 32
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        predicted = predict_logits(classifier, x[val], 8192).argmax(1).cpu().numpy()
        truth = labels[val].cpu().numpy()
        uas = [unweighted_accuracy(truth[val_corpus == c], predicted[val_corpus == c]) for c in sorted(set(val_corpus))]
        if ae:  # CWW (6) needs the training rows' corpora; the weights' shape is what matters here
            sample_weight = torch.full((len(y_train),), float(np.mean(uas)), device=device)
        times.append(time.perf_counter() - started)
    return times


def throughput_case(case: dict[str, Any]) -> dict[str, Any]:
    """Trainer vs bare loop, ``case["repeats"]`` times each, in alternating order (``case``: folder, dims, method,
    batch, epochs, threads, device); samples/s from the fastest epoch of each (least disturbed by other load)."""
    torch.set_num_threads(int(case["threads"]))
    device = str(case.get("device", "cpu"))
    method = get_method(case["method"])
    data = trial_data(Path(case["folder"]), int(case["dims"]))
    prepared = prepare(data, device)
    blocks, ae = prepared.blocks, method.uses("ae")
    val_corpus = data.corpus[prepared.roles["val"]]
    epochs, batch = int(case["epochs"]), int(case["batch"])
    trainer, bare = [], []

    def run_bare() -> None:
        bare.extend(
            bare_epoch_seconds(
                prepared.x,
                prepared.labels,
                blocks["train"],
                blocks["val"],
                blocks["unlabeled"],
                val_corpus,
                ae,
                batch,
                epochs,
            )[1:]
        )

    def run_trainer() -> None:
        stamps: list[float] = []
        run_trial(
            data,
            method,
            {"batch_size": batch},
            seed=0,
            config=TrainConfig(max_epochs=epochs, patience=epochs + 1, device=device),
            on_epoch=lambda record: stamps.append(time.perf_counter()),
        )
        trainer.extend(np.diff(stamps))

    for repeat in range(int(case["repeats"])):  # alternating which goes first: the second runs on a used heap
        for run in (run_bare, run_trainer) if repeat % 2 == 0 else (run_trainer, run_bare):
            run()
    rows = len(prepared.roles["train"])
    return {
        **case,
        "train_rows": rows,
        "trainer_samples_per_s": rows / min(trainer),
        "bare_samples_per_s": rows / min(bare),
        "ratio": min(bare) / min(trainer),
        "trainer_epoch_s": trainer,
        "bare_epoch_s": bare,
    }
