"""The worker side of a sweep: one Tune trial = one configuration of one job, trained once per seed in a Ray worker
(a grid group's last trials: one seed each, :mod:`rdlr.sweep.groups`).

A trial reads its job's constants and its hyperparameters from the Tune config (:func:`split_config`) and trains
the spec's seeds one after the other on rows split and prepared once per worker (:mod:`rdlr.sweep.worker_rows`):
for each seed it reuses the row of an earlier execution when there is one, else trains with
:func:`rdlr.train.run_trial` (reporting every epoch to Tune) and writes the seed's results row
(:mod:`rdlr.sweep.files`) as soon as it is done, so a trial stopped after some seeds trains only the others when it
runs again. Its final result carries the rows and the mean validation UA over the seeds (what Optuna is told),
and the driver's collector (:mod:`rdlr.sweep.collector`) gathers the rows.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import ray
from ray import tune

from rdlr.labels import DEFAULT, LabelSet
from rdlr.methods import get_method
from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.results import CELL_KEYS, NORMALIZATION, SPEAKER_COUNT_COLUMNS, config_id, trial_key
from rdlr.sweep.files import SweepFiles
from rdlr.sweep.stage1_mirror import stage1_cache
from rdlr.sweep.worker_rows import SplitKey, split_rows
from rdlr.train import PreparedRows, TrainConfig, TrialData, run_trial

if TYPE_CHECKING:
    from rdlr.spec.jobs import Job

JOB_CONSTANTS: tuple[str, ...] = tuple(k for k in CELL_KEYS if k != "features")  # fixed per Tuner, in its config
REPEATER_INDEX = "__trial_index__"  # in the configs of sweeps started with one seed per trial (before issue 19)
GROUP_POINT, POINT_JOB, POINT_CONFIG = "point", "job", "config"  # a grid group's trial config (rdlr.sweep.groups)
POINT_SEEDS = "seeds"  # the seeds a grid group's point trains: those without rows (its last trials: one each)


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a trainable shares, sent once with the features; ``table_id`` names the feature table's
    object in Ray's object store (the key of the worker's prepared rows); ``labels`` the spec's class set (the
    table's labels are already its classes: :func:`rdlr.sweep.inputs.load_tables`); ``normalization`` the inputs'
    z-normalisation (:mod:`rdlr.normalization`; one trainable per feature set and normalisation)."""

    spec_id: str
    features: str
    seeds: tuple[int, ...]
    split_seed: int
    training: dict[str, Any]
    device: str
    cpus: float
    storage: str
    table_id: str
    labels: LabelSet = DEFAULT
    normalization: str = DEFAULT_NORMALIZATION


def job_constants(job: Job) -> dict[str, str]:
    """The job's constants (:data:`JOB_CONSTANTS`): merged into every config of its own Tuner, and part of each
    point of a grid group's."""
    return {key: getattr(job, key) for key in JOB_CONSTANTS}


def point_of(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """A trial's job constants and hyperparameters: its Tune config (a job's own Tuner) or the point it holds (a
    grid group's Tuner, :mod:`rdlr.sweep.groups`)."""
    return config[GROUP_POINT][POINT_CONFIG] if GROUP_POINT in config else config


def seeds_of(config: Mapping[str, Any], seeds: Sequence[int]) -> tuple[int, ...]:
    """The seeds a trial trains: a job's own Tuner, the spec's ``seeds``; a grid group's, those its point names (the
    seeds without rows; its last trials train one each: :mod:`rdlr.sweep.groups`)."""
    return tuple(config[GROUP_POINT][POINT_SEEDS] if GROUP_POINT in config else seeds)


def job_of(config: Mapping[str, Any]) -> str | None:
    """The job name a grid group's trial config holds (``None`` for a job's own Tuner)."""
    return config[GROUP_POINT][POINT_JOB] if GROUP_POINT in config else None


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(job constants, searched hyperparameters) of a Tune config or a group's point."""
    config = point_of(config)
    constants = {key: config[key] for key in JOB_CONSTANTS}
    hparams = {k: v for k, v in sorted(config.items()) if k not in JOB_CONSTANTS and k != REPEATER_INDEX}
    return constants, hparams


def run_configuration(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
    """Tune trainable body: one configuration, every seed; reports each epoch and, at the end, every seed's row
    and the trial's own wall and CPU seconds (what the sweep's efficiency line sums) and start time."""
    started_at, wall_started, cpu_started = time.time(), time.perf_counter(), time.process_time()
    constants, hparams = split_config(config)
    cid = config_id(hparams)
    files = SweepFiles(context.storage, context.spec_id)
    trial_id = tune.get_context().get_trial_id()
    rows: list[dict[str, Any]] = []
    prepared: PreparedRows | None = None
    for seed in seeds_of(config, context.seeds):
        key = trial_key(
            {
                "spec_id": context.spec_id,
                "features": context.features,
                NORMALIZATION: context.normalization,
                **constants,
                "config_id": cid,
                "seed": seed,
            }
        )
        row = files.read_row(key)
        if row is None:
            files.record_attempt(
                key,
                {
                    "row_key": key,
                    "trial_id": trial_id,
                    **constants,
                    "seed": seed,
                    "hparams": hparams,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started": time.time(),
                },
            )
            prepared = prepared or worker_rows(x, meta, context, constants)
            row = train_seed(prepared, context, constants, hparams, seed, files, trial_id)
            files.write_row(key, row)
        rows.append(row)
    timing = {
        "trial_wall_s": time.perf_counter() - wall_started,
        "trial_cpu_s": time.process_time() - cpu_started,
        "trial_started": started_at,
    }
    tune.report({**final_report(rows), **timing})


def worker_rows(x: np.ndarray, meta: pd.DataFrame, context: TrialContext, constants: Mapping[str, str]) -> PreparedRows:
    """The job's rows, split by its protocol (Section 3.1), normalised as the context says and prepared once per
    worker process (:func:`rdlr.sweep.worker_rows.split_rows`); sets the worker's torch threads."""
    import torch

    torch.set_num_threads(max(1, int(context.cpus)))
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    pod_test = train_config(context).pod_test
    key = SplitKey(
        context.table_id,
        constants["protocol"],
        constants["held_out"],
        context.split_seed,
        pod_test,
        context.normalization,
    )
    return split_rows(x, meta, key, context.labels)


def train_config(context: TrialContext) -> TrainConfig:
    """The spec's training protocol on the trial's device."""
    return TrainConfig(**context.training, device=context.device)


def train_seed(
    prepared: PreparedRows,
    context: TrialContext,
    constants: Mapping[str, str],
    hparams: Mapping[str, Any],
    seed: int,
    files: SweepFiles,
    trial_id: str,
) -> dict[str, Any]:
    """Train one seed of the configuration and return its results row."""
    method = get_method(constants["method"])
    cpu_started = time.process_time()  # this process runs one trial at a time (reused actors included)
    with stage1_cache(files, method.two_stage) as cache_dir:
        result = run_trial(
            prepared,
            method,
            hparams,
            seed,
            config=train_config(context),
            cache_dir=cache_dir,
            on_epoch=lambda record: _report_epoch(record, seed),
        )
    final = result.final
    return {
        "spec_id": context.spec_id,
        **constants,
        "features": context.features,
        NORMALIZATION: context.normalization,
        "seed": seed,
        "config_id": config_id(hparams),
        "hparams": json.dumps(dict(hparams), sort_keys=True),
        **metric_columns(final),
        "test_wa": float(final["test_wa"]) if "test_wa" in final else None,
        "confusion": json.dumps(final.get("confusion")),
        "epochs": int(final["epochs"]),
        "best_epoch": int(final["best_epoch"]),
        "stage1_epochs": int(result.stage1["final"]["epochs"]) if result.stage1 else None,
        "train_rows": int((prepared.data.roles == "train").sum()),
        "wall_time_s": round(float(result.wall_time_s), 3),
        "cpu_time_s": round(time.process_time() - cpu_started, 3),
        **speaker_counts(prepared.data),
        "trial_id": trial_id,
        "node": ray.get_runtime_context().get_node_id(),
        "host": socket.gethostname(),
    }


def speaker_counts(data: TrialData) -> dict[str, int]:
    """Under per-speaker normalisation, the row's :data:`rdlr.results.SPEAKER_COUNT_COLUMNS` over the rows the
    trial uses (every role but ``unused``): speakers with statistics of their own, speakers below the minimum,
    utterances on their corpus' statistics. Nothing under the other normalisations."""
    if data.normalization != "speaker":
        return {}
    groups = data.used_groups()
    counts = (groups.speakers, groups.fallback_speakers, groups.fallback_rows)
    return dict(zip(SPEAKER_COUNT_COLUMNS, counts, strict=True))


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


def _report_epoch(record: dict[str, Any], seed: int) -> None:
    """One epoch's numbers of one seed to Tune (per-epoch curves in result.json, progress.csv and TensorBoard)."""
    numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    tune.report({**numbers, "seed": seed})


def final_report(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A trial's last Tune result: the mean validation UA over its seeds (what drives the search) and the seeds'
    rows as JSON."""
    return {
        "val_ua": statistics.fmean(float(row["val_ua"]) for row in rows),
        "seeds": len(rows),
        "rows": json.dumps([dict(row) for row in rows], sort_keys=True),
    }


def trainable_for(features: str, spec_id: str, normalization: str = DEFAULT_NORMALIZATION) -> Callable[..., None]:
    """A function trainable with a stable, per-(spec, feature set, normalisation) name (Tune registers trainables
    by name; the paper's normalisation adds nothing to it, as before normalisations existed)."""

    def trainable(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
        run_configuration(config, x, meta, context)

    suffix = "" if normalization == DEFAULT_NORMALIZATION else f"_norm_{normalization}"
    name = "rdlr_" + "".join(c if c.isalnum() else "_" for c in f"{spec_id}_{features}{suffix}")
    trainable.__name__ = trainable.__qualname__ = name
    return trainable
