"""What a sweep spec will run and what it will cost, worked out before Ray starts (``rdlr plan``; ``rdlr sweep`` and
``rdlr reproduce`` print the same plan before they start).

The plan lists the jobs (one Tuner per feature set, protocol, method and held-out corpus), the configurations each
method searches and the trials they make, what one trial asks Ray for, the rows of each trial's roles (the splits
of Section 3.1 applied to the spec's data, or, before the data exists, to manifests shaped like the documented
corpora: :mod:`rdlr.corpora.shape`), and the projected cost from the rehearsal's rates (:mod:`rdlr.sweep.cost`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rdlr.corpora.splits import assign_roles
from rdlr.features.is10 import IS10_DIM
from rdlr.features.registry import parse_feature_sets
from rdlr.features.wav2vec import W2V_DIM
from rdlr.methods import get_method
from rdlr.spec.core import Job, SpecError, SweepSpec
from rdlr.sweep.cost import ASSUMED_GPU, Figures, TrialCost, TrialRows, trial_cost
from rdlr.train.batches import few_steps_warning
from rdlr.train.config import TrainConfig

# the widths of rdlr.features.registry's built-in sets (BERT's: bert-base-uncased, the paper's)
FEATURE_DIMS: dict[str, int] = {"is10": IS10_DIM, "w2v": W2V_DIM, "bert": 768}
ASSUMED_DIMS = 1024  # any other feature set (hf:<dir>, registered extractors) when no feature table says
NODE_CPUS = 16  # the reference node of the wall-clock line


@dataclass(frozen=True)
class JobPlan:
    """One job's trials, its trials' rows and input dimension, and the projected cost of one of its trials (the
    mean over the batch sizes it searches)."""

    job: Job
    trials: int
    rows: TrialRows
    dims: int
    cost: TrialCost

    @property
    def cpu_s(self) -> float:
        return self.trials * self.cost.cpu_s

    @property
    def gpu_s(self) -> float:
        return self.trials * self.cost.gpu_s


@dataclass(frozen=True)
class SweepPlan:
    """A spec's jobs with their rows and projected cost, where the rows and rates come from, and the dimensions
    of each feature set (``True`` beside the ones assumed)."""

    spec: SweepSpec
    jobs: tuple[JobPlan, ...]
    rows_source: str
    dims: dict[str, tuple[int, bool]]
    figures: Figures
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> class -> utterances
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> emotion left out -> utterances

    @property
    def trials(self) -> int:
        return sum(job.trials for job in self.jobs)

    @property
    def core_hours(self) -> float:
        """CPU core-hours: (trial seconds + Ray's overhead per trial) × the figures' threads per trial (core time
        is assumed to scale with CPUs)."""
        return sum(_job_cpu_s(job, self.figures) for job in self.jobs) * self.figures.threads / 3600

    @property
    def trials_per_gpu(self) -> int:
        """Trials that share one GPU: 1 / ``resources.gpus_per_trial`` for a fraction, else 1."""
        gpus = self.spec.resources.gpus_per_trial
        return max(1, int(1 / gpus)) if 0 < gpus < 1 else 1

    @property
    def gpu_hours(self) -> float:
        """GPU-hours held: the trials' GPU seconds, divided by how much faster :attr:`trials_per_gpu` trials sharing
        a GPU get through them together (measured, else no gain), plus Ray's overhead per trial on its share."""
        return _gpu_s(self.jobs, self) / 3600


def _job_cpu_s(job: JobPlan, figures: Figures) -> float:
    return job.cpu_s + job.trials * figures.ray_overhead_s


def _gpu_s(jobs: Sequence[JobPlan], plan: SweepPlan) -> float:
    """GPU seconds held by ``jobs``' trials: their GPU work over the speed-up of :attr:`SweepPlan.trials_per_gpu`
    trials sharing a GPU, plus Ray's overhead per trial (the trial holds its share of the GPU meanwhile)."""
    share = plan.trials_per_gpu
    work = sum(job.gpu_s for job in jobs) / plan.figures.gpu_speedup(share)
    return work + sum(job.trials for job in jobs) * plan.figures.ray_overhead_s / share


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


def _mean_cost(job: Job, rows: TrialRows, dims: int, figures: Figures, training: Mapping[str, object]) -> TrialCost:
    method = get_method(job.method)
    costs = [trial_cost(method, rows, dims, int(batch), figures, dict(training)) for batch in job.space["batch_size"]]
    return TrialCost(
        statistics.fmean(c.cpu_s for c in costs),
        statistics.fmean(c.gpu_s for c in costs),
        costs[0].epochs,
        costs[0].epochs_measured,
        statistics.fmean(c.stage1_s for c in costs),
    )


def build_plan(
    spec: SweepSpec, meta: pd.DataFrame, rows_source: str, figures: Figures, known_dims: Mapping[str, int] | None = None
) -> SweepPlan:
    """The plan of ``spec`` on the manifest columns ``meta`` (every corpus of the spec; restricted to the spec's
    class set, :meth:`rdlr.labels.LabelSet.apply`); ``known_dims``: the feature tables' widths when they are
    loaded."""
    applied = spec.label_set().apply(meta)
    meta = applied.meta
    rows: dict[tuple[str, str], TrialRows] = {}
    dims = {features: feature_dims(features, known_dims) for features in spec.features}
    jobs = []
    for job in spec.jobs():
        key = (job.protocol, job.held_out)
        if key not in rows:
            rows[key] = trial_rows(
                meta, job.protocol, job.held_out, spec.data.split_seed, TrainConfig(**spec.training).pod_test
            )
        width = dims[job.features][0]
        cost = _mean_cost(job, rows[key], width, figures, spec.training)
        jobs.append(JobPlan(job, job.configs * len(spec.seeds), rows[key], width, cost))
    return SweepPlan(
        spec, tuple(jobs), rows_source, dims, figures, class_counts(meta, spec.label_set().classes), applied.left_out
    )


def class_counts(meta: pd.DataFrame, classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """Labeled utterances per corpus and class (``meta``'s labels are classes), every class listed."""
    labeled = meta[meta["label"] != ""]
    counts = labeled.groupby(["corpus", "label"]).size()
    return {
        str(corpus): {name: int(counts.get((corpus, name), 0)) for name in classes}
        for corpus in sorted(set(labeled["corpus"]))
    }


def _class_lines(plan: SweepPlan) -> list[str]:
    """Utterances per class of each corpus (zeros included) and the emotions the label map leaves out."""
    lines = [f"  utterances per class ({', '.join(plan.spec.label_set().classes)}) and corpus:"]
    for corpus, counts in plan.class_counts.items():
        left = plan.left_out.get(corpus, {})
        lines.append(
            f"    {corpus}: "
            + ", ".join(f"{name} {count:,}" for name, count in counts.items())
            + (f"; left out: {', '.join(f'{e} {n:,}' for e, n in left.items())}" if left else "")
        )
    return lines


def _method_lines(plan: SweepPlan) -> list[str]:
    """One line per (protocol, method): configurations per job, trials, projected core-hours and GPU-hours."""
    grouped: dict[tuple[str, str], list[JobPlan]] = {}
    for item in plan.jobs:
        grouped.setdefault((item.job.protocol, item.job.method), []).append(item)
    lines = [f"    {'protocol':<13} {'method':<24} {'configs':>7} {'trials':>6} {'core-h':>9} {'GPU-h':>7}  search"]
    for (protocol, method), items in grouped.items():
        job = items[0].job
        search = ("the whole grid" if job.sampler == "grid" else job.sampler) + f" of {job.grid_size}"
        cpu = sum(_job_cpu_s(i, plan.figures) for i in items) * plan.figures.threads / 3600
        gpu = _gpu_s(items, plan) / 3600
        lines.append(
            f"    {protocol:<13} {method:<24} {job.configs:>7} {sum(i.trials for i in items):>6,} "
            f"{cpu:>9,.1f} {gpu:>7,.2f}  {search}"
        )
    return lines


def _rows_lines(plan: SweepPlan) -> list[str]:
    lines, seen = [], set()
    for item in plan.jobs:
        key = (item.job.protocol, item.job.held_out)
        if key in seen:
            continue
        seen.add(key)
        r = item.rows
        lines.append(
            f"    {key[0]:<13} held out {key[1]:<10} {r.train:>7,} / {r.val:>6,} / {r.test:>6,} / {r.unlabeled:>6,}"
        )
    return lines


def batch_warnings(plan: SweepPlan) -> list[str]:
    """One warning per job whose searched M leaves fewer than ~4 steps per epoch on its training rows
    (:func:`rdlr.train.batches.few_steps_warning`); part of the plan that ``rdlr plan``, ``sweep`` and
    ``reproduce`` print."""
    warnings = (
        few_steps_warning(f"job {item.job.name}", item.rows.train, item.job.space["batch_size"]) for item in plan.jobs
    )
    return [line for line in warnings if line]


def core_time(core_hours: float) -> str:
    """``"1,234 core-hours"``, or ``"12 core-minutes"`` under one core-hour (a small spec is not "0 core-hours")."""
    if core_hours < 1:
        return f"{core_hours * 60:,.0f} core-minutes"
    return f"{core_hours:,.0f} core-hours"


def wall_time(hours: float) -> str:
    """``"about 3.2 days"``; ``"about 5.0 hours"`` under a day, ``"about 12 minutes"`` under an hour."""
    if hours >= 24:
        return f"about {hours / 24:,.1f} days"
    if hours >= 1:
        return f"about {hours:.1f} hours"
    minutes = max(1, round(hours * 60))
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


def plan_lines(plan: SweepPlan, node_cpus: int = NODE_CPUS) -> list[str]:
    """The plan as text lines (what ``rdlr plan`` prints), the small-minibatch warnings last."""
    spec, figures = plan.spec, plan.figures
    resources, training = spec.resources, TrainConfig(**spec.training)
    dims = ", ".join(
        f"{name} ({width} dims{', assumed' if assumed else ''})" for name, (width, assumed) in plan.dims.items()
    )
    epochs = {kind: figures.epochs(kind) for kind in ("plain", "ae")}
    epoch_text = "; ".join(
        f"{kind} {value:g} ({'measured' if measured else 'assumed'})" for kind, (value, measured) in epochs.items()
    )
    if figures.epochs_source:
        epoch_text += f" (from {figures.epochs_source})"
    at_once = max(1, int(node_cpus // resources.cpus_per_trial))
    return [
        f"plan {spec.id}: {len(plan.jobs)} jobs, {plan.trials:,} trials ({len(spec.seeds)} seeds each configuration)",
        f"  features: {dims}; held out: {', '.join(spec.held_out)}; unlabeled: {spec.unlabeled or 'none'}",
        f"  normalisation: {normalization_counts(plan)}",
        f"  each trial asks Ray for {resources.cpus_per_trial:g} CPU{'s' if resources.cpus_per_trial != 1 else ''}"
        + (f" + {resources.gpus_per_trial:g} GPU (where the cluster has GPUs)" if resources.gpus_per_trial else "")
        + f"; trains at most {training.max_epochs} epochs, early stop after {training.patience} without a better "
        "validation UA",
        "  configurations per job (one job per held-out corpus), trials and projected cost by method:",
        *_method_lines(plan),
        f"  rows per trial (train / val / test / unlabeled), from {plan.rows_source}:",
        *_rows_lines(plan),
        *_class_lines(plan),
        f"  projected {spec.id}: {plan.trials:,} trials, {core_time(plan.core_hours)} (CPU), "
        f"{plan.gpu_hours:,.1f} GPU-hours",
        f"  = {wall_time(plan.core_hours / node_cpus)} on one {node_cpus}-core node ({at_once} trials at once)",
        f"  assumptions: rates from {figures.source} ({figures.machine}, {figures.threads} threads per trial); "
        f"epochs per trial {epoch_text}; core-hours = trial time × threads (time scales with CPUs); "
        f"{gpu_assumption(figures, plan.trials_per_gpu)}; stage 1 of LR/self-KD counted in every "
        f"trial (an upper bound: trials differing only in γ share it); Ray overhead {figures.ray_overhead_s:.1f} s "
        "per trial (measured) included in core-hours and GPU-hours",
        *batch_warnings(plan),
    ]


def normalization_counts(plan: SweepPlan) -> str:
    """``"train (20 jobs, 60 trials), corpus (20 jobs, 60 trials)"``: the jobs and trials of each normalisation the
    spec runs (:mod:`rdlr.normalization`; each like a feature set)."""
    parts = []
    for name in plan.spec.normalization:
        items = [item for item in plan.jobs if item.job.normalization == name]
        parts.append(f"{name} ({len(items)} jobs, {sum(item.trials for item in items):,} trials)")
    return ", ".join(parts)


def gpu_assumption(figures: Figures, trials_per_gpu: int) -> str:
    """Where the GPU-hours come from, in words."""
    if not figures.gpu_measured:
        return (
            f"GPU rates assumed, not measured ({ASSUMED_GPU['train_flops_per_s'] / 1e12:g} TFLOP/s training, "
            f"{trials_per_gpu} trials per GPU without gain)"
        )
    return (
        f"GPU rates measured on {figures.gpu_machine}, {trials_per_gpu} trials sharing a GPU "
        f"{figures.gpu_speedup(trials_per_gpu):.1f}× as fast together as one alone"
    )


def print_plan(
    spec: SweepSpec,
    meta: pd.DataFrame,
    rows_source: str,
    known_dims: Mapping[str, int] | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Log the plan with the packaged figures (what ``rdlr sweep`` and ``rdlr reproduce`` show before starting); a
    one-line note instead when the figures cannot be read."""
    from rdlr.sweep.cost import FiguresError, load_figures

    try:
        figures = load_figures()
    except FiguresError as error:
        log(f"plan: no cost projection ({error})")
        return
    for line in plan_lines(build_plan(spec, meta, rows_source, figures, known_dims)):
        log(line)
