"""Run a sweep spec on Ray Tune: Tuners, samplers and the scheduling of jobs on the cluster.

A job (feature set, protocol, method, held-out corpus; :meth:`rdlr.spec.core.SweepSpec.jobs`) that searches part of
its method's hyperparameter sets (Section 3.2) has a Tuner of its own, with a seeded Optuna sampler that suggests only
configurations not yet tried (:mod:`rdlr.sweep.sampling`), so it runs ``configs`` distinct ones. The jobs that run
their whole grid need no searcher: those of a feature set and normalisation run as one Tuner, a grid group
(:mod:`rdlr.sweep.groups`), whose trials reuse their workers and start costliest first. Tuners are built by
:mod:`rdlr.sweep.tuners` and started longest first (:mod:`rdlr.sweep.order`). Where the sweep keeps its files and
results: :mod:`rdlr.sweep.files`; what a trial asks Ray for: :mod:`rdlr.sweep.resources`.

Design choices:

* **One trial = one configuration × every seed** (:mod:`rdlr.sweep.trial`): the seeds train one after the other
  in one worker, on rows split and z-normalised once per worker (:mod:`rdlr.sweep.worker_rows`), each writing
  its own row of the results table as soon as it is done; Optuna is told the mean validation UA over the seeds.
  A Tune trial costs Ray a second or two of scheduling, actor and result bookkeeping, so a trial per seed would
  spend most of a GPU sweep's time on overhead; retries and resume still work per seed (a trial run again skips
  the seeds that have rows).
* **Concurrency**: Tuners run in daemon threads (``Tuner.fit`` is blocking and the controllers mostly wait on
  Ray). A searched job's Tuner runs at most 2 trials at once, so Optuna still learns from finished
  configurations; a grid group's runs one per slot. The number of Tuners running at once follows the cluster's
  trial slots (enough to keep every slot busy plus one Tuner in reserve): on a fixed cluster re-counted every few
  seconds from the nodes alive, under an autoscaler (:mod:`rdlr.cluster.capacity`) from every node it may
  launch, so that the pending trials make it start them. The same code keeps 2 CPUs or a 100-CPU cluster busy;
  ``resources.parallel_jobs`` fixes the number instead.
* **Features** go to the trials through the object store once per feature set (``tune.with_parameters``).
* **Results**: each finished trial writes its row to ``<storage>/<spec_id>/trials/<key>.json`` (from the trial,
  so it survives a driver crash) and the driver gathers them into ``<storage>/<spec_id>/results.csv``. Before
  training, a trial whose row already exists reuses it, so a re-run never recomputes a finished (configuration,
  seed), even when a duplicate configuration is suggested or Tune's own state is older than the rows.
* **Resume**: re-running restores each searched job's Tuner (``Tuner.restore(..., resume_errored=True)``);
  finished trials are kept, unfinished and errored ones run again from their start (a trial takes minutes, so
  trials keep no model checkpoints); a grid group starts a fresh Tuner over the points still missing rows. Failed
  trials are retried (``FailureConfig``). A Tune state torn by a full disk is set aside and the job rebuilt from
  its rows (:mod:`rdlr.sweep.recovery`); one sweep at a time writes a spec's folder (a
  :class:`rdlr.io.storage.FolderLock`).
* **Stage-1 results** of LR (10) / self-KD (the stage-1 model's logits and metrics, not the model) are cached under
  ``<storage>/<spec_id>/stage1`` (:mod:`rdlr.sweep.stage1_mirror`) and reused by every trial that needs them.

The worker side of a trial is :mod:`rdlr.sweep.trial`; the rows are gathered by :mod:`rdlr.sweep.collector`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
import pyarrow.fs as pafs

from rdlr.cluster.capacity import ClusterCapacity, planning_nodes
from rdlr.cluster.session import start_ray
from rdlr.io.storage import FolderLock
from rdlr.io.tracking import mlflow_experiment
from rdlr.spec.core import SweepSpec
from rdlr.spec.jobs import Job
from rdlr.sweep.collector import Log, ResultSink, close_sink, open_sink
from rdlr.sweep.cost import load_figures
from rdlr.sweep.efficiency import SweepRun, record_run
from rdlr.sweep.files import ROWS_DIR, SPEC_FILE, SweepError, SweepFiles
from rdlr.sweep.groups import GridGroup, split_grid_jobs
from rdlr.sweep.order import start_order
from rdlr.sweep.plan import SweepPlan, build_plan, done_models
from rdlr.sweep.recovery import SweepStorageError, describe_fault, job_rows, set_aside, storage_fault
from rdlr.sweep.resources import TrialResources, plan_resources, trial_slots, trials_per_job, tuners_at_once
from rdlr.sweep.trial import job_of
from rdlr.sweep.tuners import Tuners, register_trainables

HEARTBEAT_S = 60.0
SLOTS_POLL_S = 5.0


@dataclass
class JobOutcome:
    """What one job's Tuner did: its trials, errored trials, the job's own failure, whether it was restored."""

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
    run: SweepRun | None = None  # this run's efficiency and core-minutes (rdlr.sweep.efficiency)

    @property
    def ok(self) -> bool:
        """No failed trial and no failed job."""
        return not self.errors and all(j.failure is None and j.errors == 0 for j in self.jobs)


class _Sweep:
    """Runs the grid groups and the searched jobs of one spec as concurrent Tuners."""

    def __init__(self, spec: SweepSpec, tuners: Tuners, resources: TrialResources, capacity: ClusterCapacity | None):
        self.spec, self.tuners, self.resources, self.capacity = spec, tuners, resources, capacity
        self.sink, self.log = tuners.sink, tuners.log
        self.outcomes: list[JobOutcome] = []
        self._lock = threading.Lock()

    def run_job(self, job: Job) -> None:
        """Fit the searched job's Tuner (in a thread of :meth:`run`) and record its outcome."""
        outcome = JobOutcome(job)
        with self._recording([outcome]):
            tuner, outcome.restored = self.tuners.for_job(job)
            grid = tuner.fit()
            if outcome.restored and not grid.errors and self.rows_missing(job):
                grid = self.tuners.afresh(job).fit()
            outcome.trials, outcome.errors = len(grid), len(grid.errors)

    def run_group(self, group: GridGroup, slots: int) -> None:
        """Fit a grid group's Tuner (in a thread of :meth:`run`) and record the outcome of each of its jobs."""
        outcomes = {job.name: JobOutcome(job) for job in group.jobs}
        with self._recording(list(outcomes.values())):
            grid = self.tuners.for_group(group, slots).fit()
            for result in grid:
                outcome = outcomes[str(job_of(result.config))]
                outcome.trials += 1
                outcome.errors += result.error is not None

    @contextlib.contextmanager
    def _recording(self, outcomes: list[JobOutcome]) -> Iterator[None]:
        """Records ``outcomes`` when the Tuner is done; a failed Tuner fails its jobs without stopping the others
        (reported at the end), a full or failing disk stops the whole sweep (:func:`run_sweep` reports it)."""
        try:
            yield
        except Exception as error:
            fault = storage_fault(error)
            if fault is not None:
                self.sink.fail(fault)
            else:
                for outcome in outcomes:
                    outcome.failure = f"{type(error).__name__}: {error}"
                    self.log(f"job {outcome.job.name} FAILED: {outcome.failure}")
        with self._lock:
            self.outcomes.extend(outcomes)

    def rows_missing(self, job: Job) -> bool:
        """Whether ``job`` has fewer rows than configurations × seeds."""
        return len(job_rows(self.sink.rows.values(), job)) < job.configs * len(self.spec.seeds)

    def concurrency(self, unit: GridGroup | Job, slots: int) -> int:
        """Trials a group's or a searched job's Tuner runs at once."""
        return unit.concurrency(slots) if isinstance(unit, GridGroup) else trials_per_job(unit)

    def start(self, unit: GridGroup | Job, slots: int) -> threading.Thread:
        """A thread fitting the Tuner of ``unit`` (``Tuner.fit`` blocks; the controllers mostly wait on Ray)."""
        if isinstance(unit, GridGroup):
            target, args = self.run_group, (unit, slots)
        else:
            target, args = self.run_job, (unit,)
        thread = threading.Thread(target=target, args=args, name=f"tuner-{unit.name}", daemon=True)
        thread.start()
        return thread

    def run(self, units: list[GridGroup | Job]) -> None:
        """Start Tuners while the cluster has slots for them (:func:`rdlr.sweep.resources.tuners_at_once`) until
        every one is done; a progress line every :data:`HEARTBEAT_S` seconds."""
        pending: deque[GridGroup | Job] = deque(units)
        running: dict[str, tuple[GridGroup | Job, threading.Thread]] = {}
        fixed = self.spec.resources.parallel_jobs
        started = last_beat = time.monotonic()
        sink = self.sink
        slots, polled = self.resources.slots, started
        while pending or running:
            running = {name: item for name, item in running.items() if item[1].is_alive()}
            if sink.fault is not None:  # the storage failed: start no more Tuners, let the running ones stop
                pending.clear()
            if pending:
                if self.capacity is None and time.monotonic() - polled > SLOTS_POLL_S:  # nodes come and go
                    slots = trial_slots(
                        planning_nodes(None), self.resources.cpus, self.resources.gpus, self.resources.custom
                    )
                    polled = time.monotonic()
                order = [unit for unit, _ in running.values()] + list(pending)
                target = tuners_at_once(slots, [self.concurrency(unit, slots) for unit in order], fixed)
                while pending and len(running) < target:
                    unit = pending.popleft()
                    running[unit.name] = (unit, self.start(unit, slots))
            if time.monotonic() - last_beat > HEARTBEAT_S:
                last_beat = time.monotonic()
                self.log(
                    f"... {len(sink.rows)}/{sink.planned} trials done, {len(running)} Tuners running, "
                    f"{len(pending)} waiting, {time.monotonic() - started:.0f}s elapsed"
                )
            time.sleep(0.5)


class _UnreportedTrialsFilter(logging.Filter):
    """Drops the warning "Failed to fetch metrics for N trial(s): ... result.json ... not found" that Tune logs when
    a Tuner is restored: it lists the trials that had not reported yet when the sweep stopped, which the resumed
    sweep simply runs again (their rows are what counts, and trials with a row are never run again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to fetch metrics")


_UNREPORTED_TRIALS = _UnreportedTrialsFilter()


def _quiet_tune() -> None:
    """Silence Tune's console reporter, Optuna's per-trial logs and Tune's warnings about the unreported trials of
    a resumed sweep (this process only)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter honours verbose=0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    logging.getLogger("ray.tune.search.optuna.optuna_search").setLevel(logging.ERROR)  # "Study.stop" after a grid
    logging.getLogger("ray.tune.utils.util").setLevel(logging.ERROR)  # "... may be a performance bottleneck"
    logging.getLogger("ray.tune.analysis.experiment_analysis").addFilter(_UNREPORTED_TRIALS)


def run_sweep(
    spec: SweepSpec,
    tables: Mapping[str, tuple[Any, pd.DataFrame]],
    storage: str | os.PathLike[str],
    *,
    log: Log = print,
    adapt_resources: bool = True,
    resolved: Mapping[str, Any] | None = None,
    quiet: bool = True,
    capacity: ClusterCapacity | None = None,
    plan: SweepPlan | None = None,
) -> SweepOutcome:
    """Run (or resume) every job of ``spec`` on Ray: the instance this process is connected to, else the cluster
    of ``RAY_ADDRESS``, else a private local one (:func:`rdlr.cluster.session.start_ray`).

    ``tables`` maps each of ``spec.features`` to ``(x, meta)``: the feature matrix (an array, or the ``ObjectRef``
    of one already in the object store: :func:`rdlr.sweep.inputs.load_tables`) and its manifest columns
    (``corpus``, ``label``, ``speaker``, ...), covering the labeled corpora and the unlabeled one.
    Results go to ``<storage>/<spec.id>/results.csv``; ``resolved`` (data root, feature store, ...) is saved with
    the spec in ``spec.yaml``. Ctrl+C stops the sweep; re-running the same call resumes it. ``quiet`` replaces
    Tune's per-Tuner console output (interleaved across concurrent Tuners) with one line per finished trial;
    Tune's loggers (result.json, progress.csv, TensorBoard events) still write under ``<storage>/<spec.id>/tune``;
    with ``spec.tracking.mlflow``, each trial is also an MLflow run (:mod:`rdlr.sweep.mlflow_logger`).
    ``capacity``: the node types an autoscaler may launch (:mod:`rdlr.cluster.capacity`); trials are planned for
    them rather than for the nodes alive now, so they ask for the spec's resources and GPU nodes start on demand.
    One sweep at a time writes ``<storage>/<spec.id>``: it holds the folder's writer lock
    (:class:`rdlr.io.storage.FolderLock`), and a second one is refused with :class:`rdlr.io.storage.LockHeldError`
    naming the holder. A full or failing disk ends the sweep with :class:`rdlr.sweep.recovery.SweepStorageError`
    (one line: the path, the cause), the finished rows kept.
    """
    _check_tables(spec, tables)
    files = SweepFiles(storage, spec.id, spec.label_set().classes)
    try:
        with FolderLock(files.dir.fs, files.dir.root, "rdlr sweep", what="sweep storage"):  # one writer per spec
            return _run_locked(spec, tables, files, log, adapt_resources, resolved, quiet, capacity, plan)
    except OSError as error:
        fault = storage_fault(error)
        if fault is None:
            raise
        raise SweepStorageError(_stopped_line(spec, files, fault)) from None


def _run_locked(
    spec: SweepSpec,
    tables: Mapping[str, tuple[Any, pd.DataFrame]],
    files: SweepFiles,
    log: Log,
    adapt_resources: bool,
    resolved: Mapping[str, Any] | None,
    quiet: bool,
    capacity: ClusterCapacity | None,
    plan: SweepPlan | None,
) -> SweepOutcome:
    """:func:`run_sweep` while it holds the sweep's writer lock."""
    import ray

    if not ray.is_initialized():
        start_ray()
    if quiet:
        _quiet_tune()
    started = time.monotonic()
    resources = plan_resources(spec.resources, planning_nodes(capacity), adapt=adapt_resources)
    for note in resources.notes:
        log(f"resources: {note}")
    if capacity is not None:
        log(f"autoscaling cluster: trials planned for {capacity.describe()}")
    files.check_and_save_spec(spec, _run_info(resolved, files, resources, capacity))
    if spec.tracking is not None and spec.tracking.mlflow:
        mlflow_experiment(spec.tracking.mlflow, spec.id)  # once, before the Tuners' callbacks look for it
        log(f"MLflow: one run per trial in experiment {spec.id!r} at {spec.tracking.mlflow}")
    table_order = spec.jobs()
    sink_key = f"{files.dir.uri}"
    sink = ResultSink(files, spec.num_trials(), log)
    plan = plan or _packaged_plan(spec, tables, sink)
    groups, searched = split_grid_jobs(table_order, plan, sink.rows.values(), resources.slots)
    units = start_order(groups, searched, plan, resources.slots)
    open_sink(sink_key, sink)
    log(
        f"sweep {spec.id}: {len(table_order)} jobs, {sink.planned} trials planned ({sink.previous} already done), "
        f"{resources.cpus:g} CPU + {resources.gpus:g} GPU per trial, {resources.slots} at once; "
        f"storage {files.dir.uri}"
    )
    for group in groups:
        log(
            f"grid group {group.name}: {len(group.jobs)} jobs run their whole grid as one Tuner, {group.models} "
            f"trials left in {len(group.points)} Tune trials, costliest first (the last {group.single_seed_trials} "
            f"one seed each), {group.concurrency(resources.slots)} at once"
        )
    tuners = Tuners(spec, register_trainables(spec, tables, files, resources), files, sink_key, sink)
    sweep = _Sweep(spec, tuners, resources, capacity)
    loop_started, loop_started_at = time.monotonic(), time.time()
    try:
        sweep.run(units)
    except KeyboardInterrupt:
        sink.flush()
        log(
            f"interrupted: {len(sink.rows)} finished trials are saved in {files.results_uri}; "
            "re-run the same command to resume"
        )
        raise
    finally:
        close_sink(sink_key)
    run = SweepRun(
        sink.trials_timed,
        sink.trial_wall_s,
        sink.trial_cpu_s,
        time.monotonic() - loop_started,
        resources.slots,
        resources.cpus,
        plan.core_hours * 60,
        first_trial_s=sink.first_trial_after(loop_started_at),
    )
    sink.gather()
    sink.flush()
    if sink.fault is None:
        record_run(files.dir, run)
    if sink.fault is not None:
        _set_stopped_jobs_aside(spec, searched, sink, files)
        raise sink.fault
    recorded = {o.job.name for o in sweep.outcomes}
    sweep.outcomes += [JobOutcome(job) for job in table_order if job.name not in recorded]  # nothing left to run
    failed = [o for o in sweep.outcomes if o.failure]
    return SweepOutcome(
        spec_id=spec.id,
        results_uri=files.results_uri,
        spec_uri=f"{files.dir.uri}/{SPEC_FILE}",
        resources=resources,
        rows=len(sink.rows),
        new_rows=len(sink.rows) - sink.previous,
        planned=sink.planned,
        jobs=sorted(sweep.outcomes, key=lambda o: table_order.index(o.job)),
        errors=[*sink.errors, *(f"job {o.job.name}: {o.failure}" for o in failed)],
        wall_time_s=time.monotonic() - started,
        run=run,
    )


def _packaged_plan(spec: SweepSpec, tables: Mapping[str, tuple[Any, pd.DataFrame]], sink: ResultSink) -> SweepPlan:
    """The plan a sweep orders its jobs by when it was given none: the packaged figures' rates (relative costs are
    what the order needs), the estimated epochs, and what ``sink`` has not finished."""
    meta = next(iter(tables.values()))[1]
    dims = {features: table_shape(x)[1] for features, (x, _) in tables.items()}
    done = done_models(sink.rows.values(), spec.id)
    return build_plan(spec, meta, "the spec's feature tables", load_figures(), dims, done=done)


def _set_stopped_jobs_aside(spec: SweepSpec, jobs: list[Job], sink: ResultSink, files: SweepFiles) -> None:
    """After a storage fault: Tune counts the trials it stopped as finished, so a restored Tuner would never run
    their missing seeds. The Tune state of every job still missing rows is set aside (a rename, which a full disk
    allows), and the re-run starts those jobs afresh from their rows."""
    for job in jobs:
        path = f"{files.tune_root}/{job.name}"
        if (
            len(job_rows(sink.rows.values(), job)) < job.configs * len(spec.seeds)
            and files.dir.fs.get_file_info(path).type == pafs.FileType.Directory
        ):
            with contextlib.suppress(OSError):  # then the re-run restores it, and the fault was reported anyway
                set_aside(files.dir.fs, path, "stopped")


def _stopped_line(spec: SweepSpec, files: SweepFiles, fault: OSError) -> str:
    """The one line that ends a sweep whose storage failed."""
    return (
        f"sweep {spec.id} stopped: cannot write {describe_fault(fault)}; the finished trials are kept in "
        f"{files.results_uri} (and {files.dir.uri}/{ROWS_DIR}); free space or fix the disk, then re-run the "
        "same command to resume"
    )


def _run_info(
    resolved: Mapping[str, Any] | None, files: SweepFiles, resources: TrialResources, capacity: ClusterCapacity | None
) -> dict[str, Any]:
    """What this run resolved, saved with the spec: paths, storage, versions, trial resources, the cluster."""
    import ray

    trial = {
        "cpus": resources.cpus,
        "gpus": resources.gpus,
        "device": resources.device,
        **({"custom": dict(resources.custom)} if resources.custom else {}),
    }
    cluster = capacity.describe() if capacity is not None else "the nodes alive at the start (fixed cluster)"
    return {
        **dict(resolved or {}),
        "storage": files.storage.uri,
        "ray": ray.__version__,
        "python": platform.python_version(),
        "trial_resources": trial,
        "cluster": cluster,
    }


def table_shape(x: Any) -> tuple[int, ...]:
    """Shape of a feature matrix given as an array or as the ``ObjectRef`` of one (read without a copy)."""
    import ray

    return tuple((ray.get(x) if isinstance(x, ray.ObjectRef) else x).shape)


def _check_tables(spec: SweepSpec, tables: Mapping[str, tuple[Any, pd.DataFrame]]) -> None:
    """Every feature set of the spec is given, with one metadata row per vector."""
    missing = [f for f in spec.features if f not in tables]
    if missing:
        raise SweepError(f"no features given for {missing}; the spec lists {list(spec.features)}")
    for features, (x, meta) in tables.items():
        rows = table_shape(x)[0]
        if rows != len(meta):
            raise SweepError(f"features {features!r}: {rows} vectors but {len(meta)} metadata rows")
