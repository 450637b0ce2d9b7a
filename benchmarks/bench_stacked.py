"""Stacked copies vs separate trials: samples/s of K seeds of one job trained as one batched network
(support/stacked_copies.py, both formulations: vmap and bmm) against the same K trials trained one after
another by the trainer's own epoch (rdlr.train.loop), at paper scale (17,000 training rows, the out-of-corpus
trial). The figures of issue 11 (H200) and why the trainer does not stack copies: support/stacked_copies.py's docstring.

Cases: D ∈ {1582, 2862} · M ∈ {1024, 4096} · CE (method ``ce``: CE + class weights) and CE + AE (method ``ae``:
+ AE (12) on M' = 32 unlabeled rows per step) · K ∈ {1, 4, 8, 16} (and 32 on CUDA). Each measurement is 1 warm-up
epoch then ``--epochs`` timed epochs (2), dropout on as in training. Separate trials run one at a time, so their
samples/s does not depend on K: it is measured once per (D, M, loss) on ``--separate-copies`` trials (2). Also
reported: the peak GPU memory of each stacked case (torch.cuda.max_memory_allocated), and the equality check —
with dropout off, K = 4 stacked copies against 4 separate trials after one epoch (max |Δ| of weights and logits).

    PYTHONPATH=$PWD python3 benchmarks/bench_stacked.py --device cuda --out $OUT/stacked.json   # < 3 min on an H100
    PYTHONPATH=$PWD python3 benchmarks/bench_stacked.py --quick --device cpu                   # < 1 min on 2 cores

Needs only torch, numpy and the rdlr package (rdlr.train imports pandas and pyarrow, nothing else outside them).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from support.stacked_copies import FORMULATIONS, StackedNetworks, StackedTraining, init_copies, train_epoch  # noqa: E402

from rdlr.methods import get_method  # noqa: E402
from rdlr.models.folder import write_atomically  # noqa: E402
from rdlr.train import PreparedRows, TrainConfig, TrialData  # noqa: E402
from rdlr.train.loop import _build_training, _train_epoch, _Training  # noqa: E402

MIB = 1024**2
LOSSES = {"ce": "ce", "ce+ae": "ae"}  # loss name -> method id (both with the class weights of (5), as in Table 2)


def plan(quick: bool, device: str) -> dict[str, Any]:
    if quick:
        return {"dims": (1582,), "batches": (128,), "copies": (1, 4), "train_rows": 256, "unlabeled_rows": 128}
    copies = (1, 4, 8, 16, 32) if device == "cuda" else (1, 4, 8, 16)
    return {
        "dims": (1582, 2862),
        "batches": (1024, 4096),
        "copies": copies,
        "train_rows": 17_000,
        "unlabeled_rows": 4_000,
    }


def synthetic_data(dim: int, train_rows: int, unlabeled_rows: int) -> TrialData:
    """Random features with 4 balanced-ish classes; 64 validation rows (a trial needs some) and unlabeled rows."""
    rng = np.random.default_rng(dim)
    roles = np.array(["train"] * train_rows + ["val"] * 64 + ["unlabeled"] * unlabeled_rows)
    labels = np.where(roles == "unlabeled", -1, rng.integers(4, size=len(roles)))
    x = rng.standard_normal((len(roles), dim), dtype=np.float32)
    return TrialData(x=x, labels=labels, corpus=np.array(["A"] * len(roles)), roles=roles)


def _synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _separate_runs(
    data: TrialData, method_id: str, hparams: dict[str, Any], seeds: range, device: str
) -> list[tuple[_Training, torch.Generator]]:
    """One trial per seed as rdlr.train.run_trial builds it: seeded init, its own data copy, Adam, generator."""
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        run = _build_training(PreparedRows(data), get_method(method_id), hparams, TrainConfig(device=device), None)
        runs.append((run, torch.Generator().manual_seed(seed)))
    return runs


def _stacked_run(
    template: _Training,
    method_id: str,
    hparams: dict[str, Any],
    copies: int,
    formulation: str,
    device: str,
    dtype: torch.dtype | None = None,
) -> StackedTraining:
    """K = ``copies`` stacked copies (seeds 0..K-1) on ``template``'s rows, targets and class weights; dropout on,
    or (``dtype`` given) off with the networks in ``dtype``."""
    method = get_method(method_id)
    objectives = [
        objective.to(device) for objective in init_copies(method, hparams, template.prepared.x.shape[1], range(copies))
    ]
    if dtype is not None:
        for objective in objectives:
            _dropout_off(objective.to(dtype))
    decoders = [objective.decoder for objective in objectives] if method.uses("ae") else None
    networks = StackedNetworks([objective.classifier for objective in objectives], decoders, formulation)
    return StackedTraining(
        networks=networks,
        optimizer=torch.optim.Adam(networks.parameters(), lr=TrainConfig().lr),
        x=template.prepared.x,
        train_rows=template.prepared.train,
        targets=template.train_targets,
        generators=[torch.Generator().manual_seed(seed) for seed in range(copies)],
        batch_size=int(hparams["batch_size"]),
        class_weights=template.class_weights,
        lambda_ae=float(hparams["lambda_ae"]) if method.uses("ae") else None,
        unlabeled_rows=template.prepared.unlabeled,
        unlabeled_batch_size=int(hparams["unlabeled_batch_size"]),
    )


def _dropout_off(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.Dropout):
            child.p = 0.0


def _timed_epochs(epoch: Callable[[], Any], epochs: int, device: str) -> float:
    """Seconds for ``epochs`` epochs after one warm-up epoch."""
    synchronize = _synchronizer(device)
    epoch()
    synchronize()
    started = time.perf_counter()
    for _ in range(epochs):
        epoch()
    synchronize()
    return time.perf_counter() - started


def measure_separate(runs: list[tuple[_Training, torch.Generator]], epochs: int, device: str) -> float:
    """Training rows per second of the trials run one after another (each: warm-up epoch, then timed epochs)."""
    seconds = sum(
        _timed_epochs(lambda run=run, generator=generator: _train_epoch(run, generator, device), epochs, device)
        for run, generator in runs
    )
    return len(runs) * epochs * len(runs[0][0].prepared.train) / seconds


def measure_stacked(
    template: _Training,
    method_id: str,
    hparams: dict[str, Any],
    copies: int,
    formulation: str,
    epochs: int,
    device: str,
) -> dict[str, Any]:
    """Samples/s (summed over copies) and peak GPU memory of K stacked copies; ``oom`` when they do not fit."""
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        stacked = _stacked_run(template, method_id, hparams, copies, formulation, device)
        seconds = _timed_epochs(partial(train_epoch, stacked), epochs, device)
    except torch.cuda.OutOfMemoryError:
        return {"samples_per_s": None, "oom": True}
    result: dict[str, Any] = {
        "samples_per_s": copies * epochs * len(template.prepared.train) / seconds,
        "seconds": seconds,
    }
    if device == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated() / MIB
    return result


def _as_dtype(run: _Training, dtype: torch.dtype) -> None:
    """``run``'s networks, rows and targets in ``dtype``, dropout off, with a fresh Adam."""
    _dropout_off(run.objective.to(dtype))
    run.prepared.x, run.train_targets = run.prepared.x.to(dtype), run.train_targets.to(dtype)
    run.optimizer = torch.optim.Adam(run.objective.param_groups(TrainConfig().lr))


def equality_check(
    data: TrialData, method_id: str, hparams: dict[str, Any], device: str, dtype: torch.dtype
) -> dict[str, dict[str, float]]:
    """Dropout off, same initial weights and minibatch order, in ``dtype``: max |Δ| between K = 4 stacked copies and
    4 separate trials after one epoch, per formulation (weights of F and H, and F's logits on the training rows).

    In float32 a batched and a single matrix product may round differently, and Adam turns a gradient that is
    rounding noise into a step of ±lr: expect up to ~lr there; float64 shows the algorithm's equality."""
    runs = _separate_runs(data, method_id, hparams, range(4), device)
    for run, generator in runs:
        _as_dtype(run, dtype)
        _train_epoch(run, generator, device)
    template, report = runs[0][0], {}
    rows = template.prepared.x[template.prepared.train]
    for formulation in FORMULATIONS:
        stacked = _stacked_run(template, method_id, hparams, 4, formulation, device, dtype=dtype)
        train_epoch(stacked)
        weights, logits = 0.0, 0.0
        with torch.no_grad():
            stacked.networks.train(False)
            stacked_logits, _ = stacked.networks.classify(rows.expand(4, *rows.shape))
            for k, (run, _) in enumerate(runs):
                separate = {f"classifier.{n}": v for n, v in run.objective.classifier.state_dict().items()}
                if run.objective.decoder is not None:
                    separate.update({f"decoder.{n}": v for n, v in run.objective.decoder.state_dict().items()})
                weights = max(
                    weights, max(float((stacked.networks.params[n][k] - v).abs().max()) for n, v in separate.items())
                )
                separate_logits = run.objective.classifier.eval()(rows).logits
                logits = max(logits, float((stacked_logits[k] - separate_logits).abs().max()))
        report[formulation] = {"max_abs_weights": weights, "max_abs_logits": logits}
    return report


def run_case(
    dim: int, batch: int, loss: str, settings: dict[str, Any], args: argparse.Namespace, data: TrialData
) -> list[dict[str, Any]]:
    """Every K and formulation for one (D, M, loss), against the separate trials' samples/s."""
    method_id = LOSSES[loss]
    hparams = get_method(method_id).resolve_hparams({"batch_size": batch})
    runs = _separate_runs(data, method_id, hparams, range(args.separate_copies), args.device)
    separate = measure_separate(runs, args.epochs, args.device)
    template = runs[0][0]
    del runs[1:]
    rows = []
    for copies in settings["copies"]:
        row = {"dim": dim, "batch": batch, "loss": loss, "copies": copies, "separate_samples_per_s": separate}
        for formulation in FORMULATIONS:
            result = measure_stacked(template, method_id, hparams, copies, formulation, args.epochs, args.device)
            row[formulation] = result
            rate = result["samples_per_s"]
            row[f"{formulation}_ratio"] = rate / separate if rate is not None else None
        rows.append(row)
        print(f"{_format_row(row)}  [{time.perf_counter() - args.started:.0f} s]", flush=True)
    return rows


def _format_row(row: dict[str, Any]) -> str:
    cells = [
        f"{row['loss']:>6} {row['dim']:>5} {row['batch']:>5} {row['copies']:>3}",
        f"{row['separate_samples_per_s']:>11.0f}",
    ]
    for formulation in FORMULATIONS:
        result, ratio = row[formulation], row[f"{formulation}_ratio"]
        cells.append("        OOM" if ratio is None else f"{result['samples_per_s']:>11.0f} {ratio:>6.2f}x")
        cells.append(f"{result['peak_mib']:>8.0f}" if "peak_mib" in result else "")
    return "  ".join(cells)


def _format_equality(report: dict[str, dict[str, float]]) -> str:
    return ", ".join(
        f"{formulation} weights {values['max_abs_weights']:.1e} logits {values['max_abs_logits']:.1e}"
        for formulation, values in report.items()
    )


HEADER = "  loss     D     M   K  separate/s       vmap/s  ratio  vmapMiB        bmm/s  ratio   bmmMiB"


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON whole or not at all (:func:`rdlr.models.folder.write_atomically`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="one D, one small M, K in (1, 4), few rows (CPU)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    parser.add_argument("--separate-copies", type=int, default=2, help="separate trials timed per case")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "stacked.json")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device; use --device cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    args.started = started = time.perf_counter()
    settings = plan(args.quick, args.device)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu"
    print(
        f"device {device_name}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{settings['train_rows']} training rows, {args.epochs} timed epochs",
        flush=True,
    )
    equality, rows = {}, []
    print(HEADER, flush=True)
    for dim in settings["dims"]:
        data = synthetic_data(dim, settings["train_rows"], settings["unlabeled_rows"])
        for batch in settings["batches"]:
            for loss in LOSSES:
                rows.extend(run_case(dim, batch, loss, settings, args, data))
                if loss not in equality:
                    hparams = get_method(LOSSES[loss]).resolve_hparams({"batch_size": batch})
                    equality[loss] = {"dim": dim, "batch": batch}
                    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
                        equality[loss][name] = equality_check(data, LOSSES[loss], hparams, args.device, dtype)
                        print(
                            f"equality {loss} {name} D={dim} M={batch} K=4 (dropout off, 1 epoch): "
                            f"{_format_equality(equality[loss][name])}",
                            flush=True,
                        )
    payload = {
        "device": device_name,
        "torch": torch.__version__,
        "settings": {**settings, "epochs": args.epochs, "separate_copies": args.separate_copies},
        "cases": rows,
        "equality": equality,
        "seconds": time.perf_counter() - started,
    }
    write_json(args.out, payload)
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
