"""What a sweep spec will run and what it will cost, worked out before Ray starts (``rdlr plan``; ``rdlr sweep`` and
``rdlr reproduce`` print the same plan before they start; the text is :mod:`rdlr.sweep.plan_text`'s).

The plan lists the jobs (one Tuner per feature set, protocol, method and held-out corpus), the configurations each
method searches and the trials they make, what one trial asks Ray for, the rows of each trial's roles (the splits
of Section 3.1 applied to the spec's data, or, before the data exists, to manifests shaped like the documented
corpora: :mod:`rdlr.corpora.shape`), and the projected cost from the rehearsal's rates (:mod:`rdlr.sweep.cost`).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rdlr.corpora.splits import assign_roles
from rdlr.features.is10 import IS10_DIM
from rdlr.features.registry import parse_feature_sets
from rdlr.features.wav2vec import W2V_DIM
from rdlr.methods import Method, get_method
from rdlr.spec.core import SpecError, SweepSpec
from rdlr.spec.jobs import Job
from rdlr.sweep.cost import Figures, TrialCost, TrialRows, method_kind, trial_cost
from rdlr.sweep.epochs import Epochs, JobKey, job_key, row_key
from rdlr.train.config import TrainConfig

# the widths of rdlr.features.registry's built-in sets (BERT's: bert-base-uncased, the paper's)
FEATURE_DIMS: dict[str, int] = {"is10": IS10_DIM, "w2v": W2V_DIM, "bert": 768}
ASSUMED_DIMS = 1024  # any other feature set (hf:<dir>, registered extractors) when no feature table says


@dataclass(frozen=True)
class JobPlan:
    """One job's models (configurations × seeds; ``done``: those with a results row already), its models' rows and
    input dimension, the projected cost of one of its models (the mean over the batch sizes it searches, stage 1
    included) and the stage-1 models its models still to train are expected to train (:func:`stage1_models`)."""

    job: Job
    trials: int
    rows: TrialRows
    dims: int
    cost: TrialCost
    done: int = 0
    stage1_models: float = 0.0

    @property
    def left(self) -> int:
        return max(0, self.trials - self.done)

    @property
    def cpu_s(self) -> float:
        """Seconds of what is left: each model's own training, plus its stage-1 models (counted once each)."""
        return self.left * (self.cost.cpu_s - self.cost.stage1_s) + self.stage1_models * self.cost.stage1_s

    @property
    def gpu_s(self) -> float:
        return self.left * (self.cost.gpu_s - self.cost.stage1_gpu_s) + self.stage1_models * self.cost.stage1_gpu_s


@dataclass(frozen=True)
class SweepPlan:
    """A spec's jobs with their rows and projected cost of what is left, where the rows and rates come from, and
    the dimensions of each feature set (``True`` beside the ones assumed)."""

    spec: SweepSpec
    jobs: tuple[JobPlan, ...]
    rows_source: str
    dims: dict[str, tuple[int, bool]]
    figures: Figures
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> class -> utterances
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> emotion left out -> utterances
    epochs: Epochs = field(default_factory=Epochs)

    @property
    def trials(self) -> int:
        return sum(job.trials for job in self.jobs)

    @property
    def left(self) -> int:
        return sum(job.left for job in self.jobs)

    @property
    def core_hours(self) -> float:
        """CPU core-hours of what is left: (model seconds + Ray's overhead per model) × the figures' threads per
        trial (core time is assumed to scale with CPUs; calibrated rates are per CPU-second, so this is CPU
        time)."""
        return self.core_hours_of(self.jobs)

    @property
    def trials_per_gpu(self) -> int:
        """Trials that share one GPU: 1 / ``resources.gpus_per_trial`` for a fraction, else 1."""
        gpus = self.spec.resources.gpus_per_trial
        return max(1, int(1 / gpus)) if 0 < gpus < 1 else 1

    @property
    def gpu_hours(self) -> float:
        """GPU-hours held: the trials' GPU seconds, divided by how much faster :attr:`trials_per_gpu` trials sharing
        a GPU get through them together (measured, else no gain), plus Ray's overhead per trial on its share."""
        return self.gpu_hours_of(self.jobs)

    def core_hours_of(self, jobs: Sequence[JobPlan]) -> float:
        """:attr:`core_hours` of ``jobs`` alone (some of the plan's)."""
        overhead = self.figures.ray_overhead_s
        return sum(job.cpu_s + job.left * overhead for job in jobs) * self.figures.threads / 3600

    def gpu_hours_of(self, jobs: Sequence[JobPlan]) -> float:
        """:attr:`gpu_hours` of ``jobs`` alone: their GPU work over the speed-up of :attr:`trials_per_gpu` trials
        sharing a GPU, plus Ray's overhead per trial (the trial holds its share of the GPU meanwhile)."""
        share = self.trials_per_gpu
        work = sum(job.gpu_s for job in jobs) / self.figures.gpu_speedup(share)
        return (work + sum(job.left for job in jobs) * self.figures.ray_overhead_s / share) / 3600


def stage1_models(job: Job, method: Method, training: Mapping[str, object], configs: int, seeds: int) -> float:
    """Stage-1 models that ``configs`` configurations of ``job`` train (each once per seed; none for a one-stage
    method): configurations that differ only in what stage 1 does not use (LR's γ) share theirs through the cache.
    A job searching its whole grid trains one per group of its grid sharing a stage 1 (S groups); one that samples
    n of its G configurations, S × (1 − C(G − G/S, n) / C(G, n)) on average (each group is missed when all n come
    from the other groups)."""
    if not method.two_stage or configs <= 0:
        return 0.0
    used = method.stage1(str(training.get("lr_stage1", TrainConfig.lr_stage1))).hparam_names()
    groups = math.prod(len(values) for name, values in job.space.items() if name in used)
    grid = job.grid_size
    configs = min(configs, grid)
    missed = math.comb(grid - grid // groups, configs) / math.comb(grid, configs)
    return groups * (1 - missed) * seeds


def done_models(rows: Iterable[Mapping[str, object]], spec_id: str) -> dict[JobKey, int]:
    """Finished models (results rows) of ``spec_id`` per job (:func:`rdlr.sweep.epochs.row_key`)."""
    counts: Counter[JobKey] = Counter()
    for row in rows:
        if str(row.get("spec_id", spec_id)) == spec_id:
            counts[row_key(row)] += 1
    return dict(counts)


def feature_dims(features: str, known: Mapping[str, int] | None = None) -> tuple[int, bool]:
    """(input dimension, assumed?) of a feature set: ``known[features]`` (its table's width) when given, else the
    built-in widths (:data:`ASSUMED_DIMS` for the others)."""
    if known is not None and features in known:
        return int(known[features]), False
    parts = parse_feature_sets(features)
    return sum(FEATURE_DIMS.get(part, ASSUMED_DIMS) for part in parts), any(p not in FEATURE_DIMS for p in parts)


def planning_manifest(
    spec: SweepSpec, data_root: Path | None, log: Callable[[str], None] = lambda line: None
) -> tuple[pd.DataFrame, str]:
    """(manifest columns, where they come from): the spec's corpora read from ``data_root`` when given, else
    manifests shaped like the demo corpora or like the documented corpora (:mod:`rdlr.corpora.shape`)."""
    from rdlr.corpora.shape import ShapeError, demo_manifest, shaped_manifest

    if spec.data.source == "demo":
        return demo_manifest(), "the demo corpora's sizes (rdlr.corpora.demo.DemoConfig)"
    if data_root is not None:
        from rdlr.sweep.inputs import prepare_manifest

        return prepare_manifest(spec, data_root, log=log), f"the corpora under {data_root}"
    if spec.data.source != "real":
        raise SpecError("data.manifests: the plan reads the manifests for the trials' sizes; give --data-root")
    try:
        frames = [
            shaped_manifest(source.loader, name, labels=spec.label_set()) for name, source in spec.data.corpora.items()
        ]
    except ShapeError as error:
        raise SpecError(f"data.corpora: {error}") from None
    return pd.concat(frames, ignore_index=True), "the documented corpus sizes (paper Table 1, Section 3.1)"


def trial_rows(meta: pd.DataFrame, protocol: str, held_out: str, split_seed: int, pod_test: str = "all") -> TrialRows:
    """The rows of each role of a trial (Section 3.1 splits of ``meta``, as the sweep's trials split them)."""
    counts = assign_roles(meta, protocol, held_out, seed=split_seed, pod_test=pod_test).value_counts()
    return TrialRows(*(int(counts.get(role, 0)) for role in ("train", "val", "test", "unlabeled")))


def config_cost(
    spec: SweepSpec, job: Job, rows: TrialRows, dims: int, figures: Figures, epochs: Epochs, batch: int
) -> TrialCost:
    """Projected cost of one model of ``job`` at minibatch ``batch``, stage 1 included, with the epochs of
    ``epochs``."""
    method = get_method(job.method)
    training = TrainConfig(**spec.training)
    key = job_key(job)
    model, source = epochs(spec.id, key, method_kind(method), rows.train, batch, training)
    stage1 = model
    if method.two_stage:
        stage1_method = method.stage1(training.lr_stage1)
        stage1, _ = epochs(spec.id, key, method_kind(stage1_method), rows.train, batch, training, stage1=True)
    return trial_cost(method, rows, dims, batch, figures, dict(spec.training), (model, stage1), source)


def _mean_cost(spec: SweepSpec, job: Job, rows: TrialRows, dims: int, figures: Figures, epochs: Epochs) -> TrialCost:
    costs = [config_cost(spec, job, rows, dims, figures, epochs, int(batch)) for batch in job.space["batch_size"]]
    return TrialCost(
        statistics.fmean(c.cpu_s for c in costs),
        statistics.fmean(c.gpu_s for c in costs),
        statistics.fmean(c.epochs for c in costs),
        costs[0].epochs_source,
        statistics.fmean(c.stage1_s for c in costs),
        statistics.fmean(c.stage1_gpu_s for c in costs),
    )


def build_plan(
    spec: SweepSpec,
    meta: pd.DataFrame,
    rows_source: str,
    figures: Figures,
    known_dims: Mapping[str, int] | None = None,
    epochs: Epochs | None = None,
    done: Mapping[JobKey, int] | None = None,
) -> SweepPlan:
    """The plan of ``spec`` on the manifest columns ``meta`` (every corpus of the spec; restricted to the spec's
    class set, :meth:`rdlr.labels.LabelSet.apply`); ``known_dims``: the feature tables' widths when they are
    loaded; ``epochs``: per model (default: estimated); ``done``: finished models per job (:func:`done_models`),
    which the projection leaves out."""
    applied = spec.label_set().apply(meta)
    meta = applied.meta
    rows: dict[tuple[str, str], TrialRows] = {}
    dims = {features: feature_dims(features, known_dims) for features in spec.features}
    epochs = epochs or Epochs()
    done = done or {}
    seeds = len(spec.seeds)
    jobs = []
    for job in spec.jobs():
        key = (job.protocol, job.held_out)
        if key not in rows:
            rows[key] = trial_rows(
                meta, job.protocol, job.held_out, spec.data.split_seed, TrainConfig(**spec.training).pod_test
            )
        width = dims[job.features][0]
        cost = _mean_cost(spec, job, rows[key], width, figures, epochs)
        models = job.configs * seeds
        finished = min(models, done.get(job_key(job), 0))
        configs_left = math.ceil((models - finished) / seeds)
        stage1 = stage1_models(job, get_method(job.method), spec.training, configs_left, seeds)
        jobs.append(JobPlan(job, models, rows[key], width, cost, finished, stage1))
    return SweepPlan(
        spec,
        tuple(jobs),
        rows_source,
        dims,
        figures,
        class_counts(meta, spec.label_set().classes),
        applied.left_out,
        epochs,
    )


def class_counts(meta: pd.DataFrame, classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """Labeled utterances per corpus and class (``meta``'s labels are classes), every class listed."""
    labeled = meta[meta["label"] != ""]
    counts = labeled.groupby(["corpus", "label"]).size()
    return {
        str(corpus): {name: int(counts.get((corpus, name), 0)) for name in classes}
        for corpus in sorted(set(labeled["corpus"]))
    }


def plan_figures(
    spec: SweepSpec,
    dims: Mapping[str, tuple[int, bool]],
    rates: str | Path | None = None,
    recalibrate: bool = False,
    log: Callable[[str], None] = print,
) -> Figures:
    """The rates of the plan: this machine's, calibrated for the spec's kinds of method, input dimensions and
    minibatches at its threads per trial, and on its GPU too when it has one and the spec asks for GPUs
    (:mod:`rdlr.sweep.calibrate`; ``recalibrate``: measured again); with ``rates``, that figures file's (another
    machine's node type)."""
    from rdlr.sweep.calibrate import Case, calibrate, calibration_threads, gpu_here, probe_batch
    from rdlr.sweep.cost import load_figures

    if rates is not None:
        return load_figures(rates)
    threads = calibration_threads(spec.resources.cpus_per_trial)
    lr_stage1 = TrainConfig(**spec.training).lr_stage1
    cases = []
    for job in spec.jobs():
        method = get_method(job.method)
        methods = (method, method.stage1(lr_stage1)) if method.two_stage else (method,)
        width = dims[job.features][0]
        cases += [
            Case(method_kind(m), width, probe_batch(int(b)), threads) for m in methods for b in job.space["batch_size"]
        ]
    if spec.resources.gpus_per_trial > 0 and gpu_here():  # the GPU-hours from this machine's GPU too
        cases += [dataclasses.replace(case, device="cuda") for case in cases]
    return calibrate(cases, refresh=recalibrate, log=log).figures(threads, load_figures())


def make_plan(
    spec: SweepSpec,
    meta: pd.DataFrame,
    rows_source: str,
    known_dims: Mapping[str, int] | None = None,
    storage: str | None = None,
    rates: str | Path | None = None,
    recalibrate: bool = False,
    log: Callable[[str], None] = print,
) -> SweepPlan:
    """The plan with :func:`plan_figures`' rates, the epochs of the finished sweeps under ``storage``
    (:mod:`rdlr.sweep.epochs`) and only what ``<storage>/<spec id>`` has not finished yet."""
    from rdlr.sweep.epochs import finished_models
    from rdlr.sweep.files import SweepFiles

    dims = {features: feature_dims(features, known_dims) for features in spec.features}
    figures = plan_figures(spec, dims, rates, recalibrate, log)
    done = done_models(SweepFiles(storage, spec.id).load_rows().values(), spec.id) if storage else {}
    epochs = Epochs(finished_models(storage, log))
    return build_plan(spec, meta, rows_source, figures, known_dims, epochs, done)
