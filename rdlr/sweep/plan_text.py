"""The plan as text (what ``rdlr plan`` prints, and ``rdlr sweep`` and ``rdlr reproduce`` before they start): the
jobs and trials, the configurations and projected cost by method, the rows of each trial's roles (Section 3.1's
splits), the utterances per class, the projected core-hours and GPU-hours with the wall clock on one node, the rates
and assumptions behind them, and the small-minibatch warnings. The numbers are :mod:`rdlr.sweep.plan`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from rdlr.spec.core import SweepSpec
from rdlr.sweep.cost import ASSUMED_GPU, Figures
from rdlr.sweep.epochs import BEST_EPOCH
from rdlr.sweep.plan import JobPlan, SweepPlan, make_plan
from rdlr.train.batches import few_steps_warning
from rdlr.train.config import TrainConfig

NODE_CPUS = 16  # the reference node of the wall-clock line


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
    lines = [
        f"    {'protocol':<13} {'method':<24} {'configs':>7} {'trials':>6} {'left':>6} {'core-h':>9} "
        f"{'GPU-h':>7}  search"
    ]
    for (protocol, method), items in grouped.items():
        job = items[0].job
        search = ("the whole grid" if job.sampler == "grid" else job.sampler) + f" of {job.grid_size}"
        cpu, gpu = plan.core_hours_of(items), plan.gpu_hours_of(items)
        lines.append(
            f"    {protocol:<13} {method:<24} {job.configs:>7} {sum(i.trials for i in items):>6,} "
            f"{sum(i.left for i in items):>6,} {cpu:>9,.1f} {gpu:>7,.2f}  {search}"
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


def plan_lines(plan: SweepPlan, node_cpus: int = NODE_CPUS, finished: str | None = None) -> list[str]:
    """The plan as text lines (what ``rdlr plan`` prints), the small-minibatch warnings last; ``finished``: where
    the finished models it leaves out were read."""
    spec, figures = plan.spec, plan.figures
    resources, training = spec.resources, TrainConfig(**spec.training)
    dims = ", ".join(
        f"{name} ({width} dims{', assumed' if assumed else ''})" for name, (width, assumed) in plan.dims.items()
    )
    at_once = max(1, int(node_cpus // resources.cpus_per_trial))
    done = plan.trials - plan.left
    left = f"; {done:,} finished in {finished}, {plan.left:,} left (projected: those)" if finished else ""
    return [
        f"plan {spec.id}: {len(plan.jobs)} jobs, {plan.trials:,} trials ({len(spec.seeds)} seeds each configuration)"
        + left,
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
        f"  projected {spec.id}: {plan.left:,} trials, {core_time(plan.core_hours)} (CPU), "
        f"{plan.gpu_hours:,.1f} GPU-hours",
        f"  = {wall_time(plan.core_hours / node_cpus)} on one {node_cpus}-core node ({at_once} trials at once)",
        f"  rates: {rates_text(figures)}",
        f"  assumptions: epochs per model {epochs_text(plan)}; core-hours = trial time × threads (time scales with "
        f"CPUs); {gpu_assumption(figures, plan.trials_per_gpu)}; stage 1 of LR/self-KD counted once per stage-1 "
        f"model a job trains (trials differing only in γ share it); Ray overhead {figures.ray_overhead_s:.1f} s per "
        "trial (measured) included in core-hours and GPU-hours",
        *batch_warnings(plan),
    ]


def rates_text(figures: Figures) -> str:
    """Which rates the plan used: where from, the machine (when the source does not name it) and the threads."""
    machine = "" if figures.machine in figures.source else f" ({figures.machine})"
    return f"{figures.source}{machine}, {figures.threads} thread{'s' if figures.threads != 1 else ''} per trial"


def epochs_text(plan: SweepPlan) -> str:
    """Where each job's epochs per model come from, grouped: ``"estimated 12 (20 jobs)"``, ``"same job 9-11"``."""
    grouped: dict[str, list[float]] = {}
    for item in plan.jobs:
        if item.left:
            grouped.setdefault(item.cost.epochs_source, []).append(item.cost.epochs)
    parts = []
    for source, values in grouped.items():
        low, high = min(values), max(values)
        span = f"{low:.3g}" if low == high else f"{low:.3g}-{high:.3g}"
        rule = f" (min(max_epochs, {BEST_EPOCH} + patience): rdlr.sweep.epochs)" if source == "estimated" else ""
        parts.append(f"{source} {span} ({len(values)} job{'s' if len(values) != 1 else ''}){rule}")
    return "; ".join(parts) or "none (nothing left)"


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
    storage: str | None = None,
) -> SweepPlan | None:
    """Log the plan (:func:`rdlr.sweep.plan.make_plan`: this machine's rates, what ``storage`` has not finished)
    that ``rdlr sweep`` and ``rdlr reproduce`` show before starting, and return it; a one-line note and ``None`` when
    the rates cannot be had."""
    from rdlr.sweep.cost import FiguresError

    try:
        plan = make_plan(spec, meta, rows_source, known_dims, storage, log=log)
    except FiguresError as error:
        log(f"plan: no cost projection ({error})")
        return None
    for line in plan_lines(plan, finished=f"{storage}/{spec.id}" if storage else None):
        log(line)
    return plan
