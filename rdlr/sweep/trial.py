"""The worker side of a sweep: one Tune trial = one (configuration, seed) of one job, run in a Ray worker.

A trial reads its job's constants and its hyperparameters from the Tune config (:func:`split_config`), reuses the
row of an earlier execution when there is one, else trains with :func:`rdlr.train.run_trial` (reporting every
epoch to Tune), writes its results row (:mod:`rdlr.sweep.files`) and reports it as its final result, which the
driver's collector (:mod:`rdlr.sweep.collector`) gathers.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import ray
from ray import tune

from rdlr.methods import Method, get_method
from rdlr.results import GROUP_KEYS, config_id, trial_key
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.sweep.files import SweepFiles
from rdlr.sweep.stage1_mirror import stage1_cache

TRIAL_INDEX = "__trial_index__"  # set by ray.tune.search.Repeater: which seed of the configuration
JOB_CONSTANTS: tuple[str, ...] = tuple(k for k in GROUP_KEYS if k != "features")  # fixed per Tuner, in its config


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a sweep shares, sent once with the features."""

    spec_id: str
    features: str
    seeds: tuple[int, ...]
    split_seed: int
    training: dict[str, Any]
    device: str
    cpus: float
    storage: str


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any], int]:
    """(job constants, searched hyperparameters, trial index) of a Tune config."""
    constants = {key: config[key] for key in JOB_CONSTANTS}
    hparams = {k: v for k, v in sorted(config.items()) if k not in JOB_CONSTANTS and k != TRIAL_INDEX}
    return constants, hparams, int(config.get(TRIAL_INDEX, 0))


def run_one_trial(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
    """Tune trainable body: one (configuration, seed); reports each epoch and the final row."""
    constants, hparams, index = split_config(config)
    seed = context.seeds[index]
    cid = config_id(hparams)
    key = trial_key({"spec_id": context.spec_id, "features": context.features, **constants, "config_id": cid,
                     "seed": seed})
    files = SweepFiles(context.storage, context.spec_id)
    existing = files.read_row(key)
    if existing is not None:
        tune.report(final_report(existing, cached=True))
        return
    trial_id = tune.get_context().get_trial_id()
    files.record_attempt(key, {"row_key": key, "trial_id": trial_id, **constants, "seed": seed, "hparams": hparams,
                               "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
    data, method, train_config = _prepare(x, meta, context, constants)
    cpu_started = time.process_time()  # this process runs one trial at a time (reused actors included)
    with stage1_cache(files, method.two_stage) as cache_dir:
        result = run_trial(data, method, hparams, seed, config=train_config, cache_dir=cache_dir,
                           on_epoch=_report_epoch)
    final = result.final
    row = {
        "spec_id": context.spec_id, **constants, "features": context.features, "seed": seed, "config_id": cid,
        "hparams": json.dumps(hparams, sort_keys=True),
        **metric_columns(final),
        "test_wa": float(final["test_wa"]) if "test_wa" in final else None,
        "confusion": json.dumps(final.get("confusion")),
        "epochs": int(final["epochs"]), "best_epoch": int(final["best_epoch"]),
        "wall_time_s": round(float(result.wall_time_s), 3),
        "cpu_time_s": round(time.process_time() - cpu_started, 3), "trial_id": trial_id,
        "node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
    }  # fmt: skip
    files.write_row(key, row)
    tune.report(final_report(row, cached=False))


def _prepare(x: np.ndarray, meta: pd.DataFrame, context: TrialContext,
             constants: Mapping[str, str]) -> tuple[TrialData, Method, TrainConfig]:
    """(trial data split by the job's protocol (Section 3.1), method, training config) of a trial."""
    import torch

    from rdlr.corpora import assign_roles

    torch.set_num_threads(max(1, int(context.cpus)))
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    config = TrainConfig(**context.training, device=context.device)
    roles = assign_roles(meta, constants["protocol"], constants["held_out"], seed=context.split_seed,
                         pod_test=config.pod_test)
    data = TrialData.from_table(x, meta, roles)
    return data, get_method(constants["method"]), config


def metric_columns(final: Mapping[str, Any]) -> dict[str, float | None]:
    """A trial's metrics for its results row: UA (overall and per corpus), macro-F1 and per-class recall of the
    validation and test rows (``None`` for a class without rows there)."""
    names = ("val_ua", "val_f1", "test_ua", "test_f1")
    prefixes = ("val_ua/", "test_ua/", "val_recall/", "test_recall/")
    columns = {}
    for key, value in final.items():
        if key in names or key.startswith(prefixes):
            columns[key] = None if math.isnan(float(value)) else float(value)
    return columns


def _report_epoch(record: dict[str, Any]) -> None:
    """One epoch's numbers to Tune (per-epoch curves in result.json, progress.csv and TensorBoard)."""
    tune.report({k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})


def final_report(row: Mapping[str, Any], cached: bool) -> dict[str, Any]:
    """A trial's last Tune result: the row's numbers (``val_ua`` drives the search), the row as JSON, ``cached``."""
    numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {**numbers, "row": json.dumps(dict(row), sort_keys=True), "cached": cached}


def trainable_for(features: str, spec_id: str) -> Callable[..., None]:
    """A function trainable with a stable, per-(spec, feature set) name (Tune registers trainables by name)."""

    def trainable(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
        run_one_trial(config, x, meta, context)

    name = "rdlr_" + "".join(c if c.isalnum() else "_" for c in f"{spec_id}_{features}")
    trainable.__name__ = trainable.__qualname__ = name
    return trainable
