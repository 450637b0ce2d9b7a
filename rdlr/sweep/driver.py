"""Run a sweep spec on Ray Tune: the only module that imports ``ray.tune``.

One Tuner per job (feature set, protocol, method, held-out corpus; :meth:`rdlr.sweep.spec.SweepSpec.jobs`), searching
the method's own hyperparameter sets (Section 3.2) with a seeded Optuna sampler. Where the sweep keeps its
files and results: :mod:`rdlr.sweep.files`; what a trial asks Ray for: :mod:`rdlr.sweep.resources`.

Design choices:

* **Seeds via** :class:`ray.tune.search.Repeater`: every configuration is run once per seed as its own Tune
  trial (``__trial_index__`` picks the seed), and Optuna is told the mean validation UA over the seeds. One trial =
  (features, method, held-out, hparams, seed) as in the design notes: the seeds of a configuration run in
  parallel, a failure costs one seed rather than five, retries and resume work per seed, and each trial writes
  exactly one row of the results table.
* **Concurrency**: jobs are independent Tuners, run in daemon threads (``Tuner.fit`` is blocking and the
  controllers mostly wait on Ray). Each Tuner runs at most 2 × seeds trials at once, so Optuna still learns from
  finished configurations; the number of Tuners running at once is recomputed every few seconds from the
  cluster's current trial slots (enough to keep every slot busy plus one job in reserve), so the same code keeps
  2 CPUs or an autoscaling 100-CPU cluster busy. ``resources.parallel_jobs`` fixes it instead.
* **Features** go to the trials through the object store once per feature set (``tune.with_parameters``).
* **Results**: each finished trial writes its row to ``<storage>/<spec_id>/trials/<key>.json`` (from the trial,
  so it survives a driver crash) and the driver gathers them into ``<storage>/<spec_id>/results.csv``. Before
  training, a trial whose row already exists reuses it, so a re-run never recomputes a finished (configuration,
  seed), even when a duplicate configuration is suggested or Tune's own state is older than the rows.
* **Resume**: re-running restores each job's Tuner (``Tuner.restore(..., resume_errored=True)``); finished trials
  are kept, unfinished and errored ones run again from their start (a trial takes minutes, so trials keep no
  model checkpoints). Failed trials are retried (``FailureConfig``).
* **Stage-1 models** of LR (10) / self-KD are cached under ``<storage>/<spec_id>/stage1`` (a node-local mirror
  synced with the storage when it is a URI such as ``s3://``) and reused by every trial that needs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import tempfile
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from ray import tune
from ray.tune.registry import register_trainable
from ray.tune.search import Repeater
from ray.tune.search.optuna import OptunaSearch

from rdlr.sweep.spec import Job, SweepSpec
from rdlr.sweep.resources import (
    TrialResources, cluster_nodes, jobs_at_once, plan_resources, trial_slots, trials_per_job,
)  # fmt: skip
from rdlr.results import config_id, trial_key
from rdlr.sweep.files import ROWS_DIR, SPEC_FILE, STAGE1_DIR, SweepError, SweepFiles

METRIC = "val_ua"
TRIAL_INDEX = "__trial_index__"
CONSTANT_KEYS: tuple[str, ...] = ("protocol", "method", "held_out")
FLUSH_EVERY_S = 10.0
HEARTBEAT_S = 60.0

Log = Callable[[str], None]


# ---- one trial (runs in a Ray worker) ----------------------------------------------------------------------------
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
    """(constants, searched hyperparameters, trial index) of a Tune config."""
    constants = {key: config[key] for key in CONSTANT_KEYS}
    hparams = {k: v for k, v in sorted(config.items()) if k not in CONSTANT_KEYS and k != TRIAL_INDEX}
    return constants, hparams, int(config.get(TRIAL_INDEX, 0))


def run_one_trial(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
    """Tune trainable body: one (configuration, seed); reports each epoch and the final row."""
    from rdlr.corpora import assign_roles
    from rdlr.methods import get_method
    from rdlr.train import TrainConfig, run_trial
    from rdlr.train.data import TrialData

    constants, hparams, index = split_config(config)
    seed = context.seeds[index]
    cid = config_id(hparams)
    key = trial_key({"spec_id": context.spec_id, "features": context.features, **constants, "config_id": cid,
                     "seed": seed})
    files = SweepFiles(context.storage, context.spec_id)
    existing = files.read_row(key)
    if existing is not None:
        tune.report(_final_report(existing, cached=True))
        return
    trial_id = tune.get_context().get_trial_id()
    files.record_attempt(key, {"row_key": key, "trial_id": trial_id, **constants, "seed": seed, "hparams": hparams,
                               "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
    import torch

    torch.set_num_threads(max(1, int(context.cpus)))
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    roles = assign_roles(meta, constants["protocol"], constants["held_out"], seed=context.split_seed)
    data = TrialData.from_table(x, meta, roles)
    method = get_method(constants["method"])
    train_config = TrainConfig(**context.training, device=context.device)

    def on_epoch(record: dict[str, Any]) -> None:
        tune.report({k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})

    cpu_started = time.process_time()  # this process runs one trial at a time (reused actors included)
    with _stage1_cache(files, method.two_stage) as cache_dir:
        result = run_trial(data, method, hparams, seed, config=train_config, cache_dir=cache_dir, on_epoch=on_epoch)
    final = result.final
    row = {
        "spec_id": context.spec_id, **constants, "features": context.features, "seed": seed, "config_id": cid,
        "hparams": json.dumps(hparams, sort_keys=True),
        **{k: float(v) for k, v in final.items() if k == "val_ua" or k.startswith(("val_ua/", "test_ua"))},
        "test_wa": float(final["test_wa"]) if "test_wa" in final else None,
        "confusion": json.dumps(final.get("confusion")),
        "epochs": int(final["epochs"]), "best_epoch": int(final["best_epoch"]),
        "wall_time_s": round(float(result.wall_time_s), 3),
        "cpu_time_s": round(time.process_time() - cpu_started, 3), "trial_id": trial_id,
    }  # fmt: skip
    files.write_row(key, row)
    tune.report(_final_report(row, cached=False))


def _final_report(row: Mapping[str, Any], cached: bool) -> dict[str, Any]:
    numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {**numbers, "row": json.dumps(dict(row), sort_keys=True), "cached": cached}


@contextmanager
def _stage1_cache(files: SweepFiles, needed: bool) -> Iterator[str | None]:
    """Stage-1 cache folder: under the storage path, or a node-local mirror of a remote one (pull, then push)."""
    if not needed:
        yield None
        return
    remote = files.dir.child(STAGE1_DIR)
    if remote.is_local:
        yield remote.root
        return
    digest = hashlib.sha1(remote.uri.encode()).hexdigest()[:12]
    local = Path(tempfile.gettempdir()) / "rdlr-stage1" / digest
    local.mkdir(parents=True, exist_ok=True)
    for name in set(remote.list()) - {p.name for p in local.iterdir()}:
        tmp = local / f".{name}.{uuid.uuid4().hex}.tmp"  # atomic: concurrent trials may read it at once
        tmp.write_bytes(remote.read(name))
        os.replace(tmp, local / name)
    before = {p.name for p in local.iterdir()}
    yield str(local)
    for path in local.iterdir():
        if path.name not in before and not path.name.endswith(".tmp"):
            remote.write(path.read_bytes(), path.name)


def _trainable_for(features: str, spec_id: str) -> Callable[..., None]:
    """A function trainable with a stable, per-(spec, feature set) name (Tune registers trainables by name)."""

    def trainable(config: dict[str, Any], x: np.ndarray, meta: pd.DataFrame, context: TrialContext) -> None:
        run_one_trial(config, x, meta, context)

    name = "rdlr_" + "".join(c if c.isalnum() else "_" for c in f"{spec_id}_{features}")
    trainable.__name__ = trainable.__qualname__ = name
    return trainable


def _trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


# ---- driver side -------------------------------------------------------------------------------------------------
_SINKS: dict[str, "ResultSink"] = {}


class ResultSink:
    """Gathers finished trials' rows (thread-safe), prints progress and keeps ``results.csv`` up to date."""

    def __init__(self, files: SweepFiles, planned: int, log: Log) -> None:
        self.files = files
        self.planned = planned
        self.log = log
        self.rows = files.load_rows()
        self.previous = len(self.rows)
        self.reused = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def add(self, job: str, result: Mapping[str, Any] | None) -> None:
        if not result or "row" not in result:
            return
        row = json.loads(result["row"])
        key = trial_key(row)
        with self._lock:
            new = key not in self.rows
            self.rows[key] = row
            if not new:
                self.reused += 1
                return
            done = len(self.rows)
        self.log(
            f"[{done}/{self.planned}] {row['features']} {row['protocol']} {row['method']} -> {row['held_out']} "
            f"seed {row['seed']} cfg {row['config_id']}: val UA {100 * row['val_ua']:.1f}%, "
            f"test UA {100 * row.get('test_ua', float('nan')):.1f}%, {row['epochs']} epochs, {row['wall_time_s']:.0f}s"
        )
        if time.monotonic() - self._flushed > FLUSH_EVERY_S:
            self.flush()

    def error(self, job: str, trial: Any, retry: bool) -> None:
        message = _error_text(trial)
        if retry:
            self.log(f"trial {trial.trial_id} of {job} failed, retrying: {message}")
            return
        with self._lock:
            self.errors.append(f"{job} trial {trial.trial_id}: {message}")
        self.log(f"trial {trial.trial_id} of {job} FAILED: {message}")

    def gather(self) -> None:
        """Add rows that trials wrote but no callback delivered (e.g. a Tuner restored from another path)."""
        for name in self.files.dir.list(ROWS_DIR):
            key = name.removesuffix(".json")
            if key not in self.rows:
                row = self.files.read_row(key)
                if row is not None:
                    with self._lock:
                        self.rows[key] = row

    def flush(self) -> None:
        with self._lock:
            rows = list(self.rows.values())
            self._flushed = time.monotonic()
        self.files.write_results(rows)


def _error_text(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    try:
        if path and os.path.isfile(path):
            lines = [line for line in Path(path).read_text().strip().splitlines() if line.strip()]
            return lines[-1][:300] if lines else "unknown error"
    except OSError:
        pass
    return "see the trial's error.txt under the storage path"


class _SinkCallback(tune.Callback):
    """Forwards finished and failed trials to the sweep's :class:`ResultSink`, looked up by a stable key so that
    the callback pickled into a Tuner's state still works when the Tuner is restored by a later run."""

    def __init__(self, sink_key: str, job: str) -> None:
        self.sink_key = sink_key
        self.job = job

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.add(self.job, trial.last_result)

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.error(self.job, trial, retry=True)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        sink = _SINKS.get(self.sink_key)
        if sink is not None:
            sink.error(self.job, trial, retry=False)


def make_sampler(kind: str, seed: int, space: Mapping[str, list[Any]]) -> optuna.samplers.BaseSampler:
    """The seeded Optuna sampler of a job (``grid`` visits the grid in a seeded random order)."""
    if kind == "grid":
        return optuna.samplers.GridSampler({k: list(v) for k, v in space.items()}, seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise SweepError(f"unknown sampler {kind!r}; valid: grid, random, tpe")


@dataclass
class JobOutcome:
    job: Job
    trials: int = 0
    errors: int = 0
    failure: str | None = None
    restored: bool = False


@dataclass
class SweepOutcome:
    """What a sweep did: where the results are, how many trials, which jobs failed."""

    spec_id: str
    results_uri: str
    spec_uri: str
    resources: TrialResources
    rows: int
    new_rows: int
    planned: int
    jobs: list[JobOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and all(j.failure is None and j.errors == 0 for j in self.jobs)


class _Sweep:
    """Runs the jobs of one spec as concurrent Tuners."""

    def __init__(self, spec: SweepSpec, tables: Mapping[str, tuple[np.ndarray, pd.DataFrame]], files: SweepFiles,
                 resources: TrialResources, sink_key: str, log: Log) -> None:
        self.spec, self.files, self.resources, self.sink_key, self.log = spec, files, resources, sink_key, log
        self.trainables = {}
        for features in spec.features:
            x, meta = tables[features]
            context = TrialContext(spec.id, features, tuple(spec.seeds), spec.data.split_seed, dict(spec.training),
                                   resources.device, resources.cpus, files.storage.uri)
            function = _trainable_for(features, spec.id)
            trainable = tune.with_resources(tune.with_parameters(function, x=x, meta=meta, context=context),
                                            resources.as_tune())
            # Registered once, here: Tuners started in threads get the name, because Tune's registry is not
            # thread-safe (concurrent registrations fail with "dictionary changed size during iteration").
            register_trainable(function.__name__, trainable)
            self.trainables[features] = function.__name__
        self.outcomes: list[JobOutcome] = []
        self._lock = threading.Lock()

    def tuner(self, job: Job) -> tuple[tune.Tuner, bool]:
        trainable = self.trainables[job.features]
        constants = {"protocol": job.protocol, "method": job.method, "held_out": job.held_out}
        path = f"{self.files.tune_root}/{job.name}"
        if tune.Tuner.can_restore(path):
            return tune.Tuner.restore(path, trainable=trainable, resume_errored=True, param_space=constants), True
        seeds = len(self.spec.seeds)
        space = {k: optuna.distributions.CategoricalDistribution(list(v)) for k, v in job.space.items()}
        searcher = OptunaSearch(space=space, metric=METRIC, mode="max",
                                sampler=make_sampler(job.sampler, self.spec.search.sampler_seed, job.space))
        tune_config = tune.TuneConfig(
            search_alg=Repeater(searcher, repeat=seeds), num_samples=job.configs * seeds,
            max_concurrent_trials=trials_per_job(job, seeds), reuse_actors=True,
            trial_dirname_creator=_trial_dirname,
        )  # fmt: skip
        run_config = tune.RunConfig(
            name=job.name, storage_path=self.files.tune_root, verbose=0,
            failure_config=tune.FailureConfig(max_failures=self.spec.resources.max_failures),
            callbacks=[_SinkCallback(self.sink_key, job.name)],
        )  # fmt: skip
        return tune.Tuner(trainable, param_space=constants, tune_config=tune_config, run_config=run_config), False

    def run_job(self, job: Job) -> None:
        outcome = JobOutcome(job)
        try:
            tuner, outcome.restored = self.tuner(job)
            grid = tuner.fit()
            outcome.trials, outcome.errors = len(grid), len(grid.errors)
        except Exception as error:  # a broken job must not stop the others; reported at the end
            outcome.failure = f"{type(error).__name__}: {error}"
            self.log(f"job {job.name} FAILED: {outcome.failure}")
        with self._lock:
            self.outcomes.append(outcome)

    def run(self, jobs: list[Job]) -> None:
        pending, running = deque(jobs), {}
        seeds = len(self.spec.seeds)
        fixed = self.spec.resources.parallel_jobs
        started = last_beat = time.monotonic()
        sink = _SINKS[self.sink_key]
        slots, polled = self.resources.slots, started
        while pending or running:
            for name, thread in list(running.items()):
                if not thread.is_alive():
                    del running[name]
            if pending:
                if time.monotonic() - polled > 5.0:  # nodes come and go (autoscaler): re-count the slots
                    slots = trial_slots(cluster_nodes(), self.resources.cpus, self.resources.gpus)
                    polled = time.monotonic()
                target = jobs_at_once(slots, trials_per_job(pending[0], seeds), len(pending) + len(running), fixed)
                while pending and len(running) < target:
                    job = pending.popleft()
                    thread = threading.Thread(target=self.run_job, args=(job,), name=f"tuner-{job.name}", daemon=True)
                    thread.start()
                    running[job.name] = thread
            if time.monotonic() - last_beat > HEARTBEAT_S:
                last_beat = time.monotonic()
                self.log(f"... {len(sink.rows)}/{sink.planned} trials done, {len(running)} jobs running, "
                         f"{len(pending)} waiting, {time.monotonic() - started:.0f}s elapsed")
            time.sleep(0.5)


def _quiet_tune() -> None:
    """Silence Tune's console reporter and Optuna's per-trial logs (this process only)."""
    import logging

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter honours verbose=0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    logging.getLogger("ray.tune.search.optuna.optuna_search").setLevel(logging.ERROR)  # "Study.stop" after a grid
    logging.getLogger("ray.tune.utils.util").setLevel(logging.ERROR)  # "... may be a performance bottleneck"


def run_sweep(
    spec: SweepSpec,
    tables: Mapping[str, tuple[np.ndarray, pd.DataFrame]],
    storage: str | os.PathLike[str],
    *,
    log: Log = print,
    adapt_resources: bool = True,
    resolved: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> SweepOutcome:
    """Run (or resume) every job of ``spec`` on the connected Ray cluster (a local one is started if none).

    ``tables`` maps each of ``spec.features`` to ``(x, meta)``: the feature matrix and its manifest columns
    (``corpus``, ``label``, ``speaker``, ...), covering the labeled corpora and the unlabeled one.
    Results go to ``<storage>/<spec.id>/results.csv``; ``resolved`` (data root, feature store, ...) is saved with
    the spec in ``spec.yaml``. Ctrl+C stops the sweep; re-running the same call resumes it. ``quiet`` replaces
    Tune's per-Tuner console output (interleaved across concurrent Tuners) with one line per finished trial;
    Tune's loggers (result.json, progress.csv, TensorBoard events) still write under ``<storage>/<spec.id>/tune``.
    """
    import ray

    missing = [f for f in spec.features if f not in tables]
    if missing:
        raise SweepError(f"no features given for {missing}; the spec lists {list(spec.features)}")
    for features, (x, meta) in tables.items():
        if len(x) != len(meta):
            raise SweepError(f"features {features!r}: {len(x)} vectors but {len(meta)} metadata rows")
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    if quiet:
        _quiet_tune()
    started = time.monotonic()
    files = SweepFiles(storage, spec.id)
    resources = plan_resources(spec.resources, cluster_nodes(), adapt=adapt_resources)
    for note in resources.notes:
        log(f"resources: {note}")
    info = {
        **dict(resolved or {}), "storage": files.storage.uri, "ray": ray.__version__, "python": platform.python_version(),
        "trial_resources": {"cpus": resources.cpus, "gpus": resources.gpus, "device": resources.device},
    }  # fmt: skip
    files.check_and_save_spec(spec, info)
    jobs = spec.jobs()
    sink_key = f"{files.dir.uri}"
    sink = ResultSink(files, spec.num_trials(), log)
    _SINKS[sink_key] = sink
    log(f"sweep {spec.id}: {len(jobs)} jobs, {sink.planned} trials planned ({sink.previous} already done), "
        f"{resources.cpus:g} CPU + {resources.gpus:g} GPU per trial, {resources.slots} at once; "
        f"storage {files.dir.uri}")
    sweep = _Sweep(spec, tables, files, resources, sink_key, log)
    try:
        sweep.run(jobs)
    except KeyboardInterrupt:
        sink.flush()
        log(f"interrupted: {len(sink.rows)} finished trials are saved in {files.results_uri}; "
            "re-run the same command to resume")
        raise
    finally:
        _SINKS.pop(sink_key, None)
    sink.gather()
    sink.flush()
    failed = [o for o in sweep.outcomes if o.failure]
    outcome = SweepOutcome(
        spec_id=spec.id, results_uri=files.results_uri, spec_uri=f"{files.dir.uri}/{SPEC_FILE}", resources=resources,
        rows=len(sink.rows), new_rows=len(sink.rows) - sink.previous, planned=sink.planned,
        jobs=sorted(sweep.outcomes, key=lambda o: jobs.index(o.job)),
        errors=[*sink.errors, *(f"job {o.job.name}: {o.failure}" for o in failed)],
        wall_time_s=time.monotonic() - started,
    )  # fmt: skip
    return outcome
