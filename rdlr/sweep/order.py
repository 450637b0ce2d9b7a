"""Longest work first: the order in which a sweep starts its Tuners, from the plan's projected costs
(:mod:`rdlr.sweep.plan`).

A sweep that starts its longest work last ends with one long trial running while the other slots wait: the demo's
two-stage RDLR + CWW + † trials, last in table order, left 120 of 898 slot-seconds idle (efficiency 0.87). Started
longest first (the classic LPT rule of scheduling), the last trials to start are the shortest, and the slots finish
close together.

* **Grid groups** (:mod:`rdlr.sweep.groups`) order their own trials costliest first (:func:`grid_costs`: a model's
  cost depends on its minibatch, and of configurations sharing a stage-1 model (LR (10) and self-KD, differing only
  in γ) the first trains it).
* **Tuners** (a group's, or a searched job's with at most :func:`rdlr.sweep.resources.trials_per_job` trials at once)
  start in the order of their critical path: a searched job's rounds of trials still to run (configurations left /
  trials at once) × the cost of one trial (seeds × the projected cost of one model, stage 1 included), a group's
  longest trial or its total over its slots, whichever is longer; ties keep the table order. A searched job keeps
  its searcher's order: choosing the costliest configurations first would change which ones are searched.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rdlr.methods import get_method
from rdlr.spec.jobs import Job
from rdlr.sweep.epochs import job_key
from rdlr.sweep.plan import JobPlan, SweepPlan, config_cost
from rdlr.sweep.resources import trials_per_job
from rdlr.train.config import TrainConfig

if TYPE_CHECKING:
    from rdlr.sweep.groups import GridGroup

GridCosts = Mapping[tuple[Any, ...], tuple[float, tuple[Any, ...], float]]  # per configuration: see grid_costs


def _sort_key(item: JobPlan, seeds: int) -> tuple[int, float, float]:
    """(nothing left?, −critical path, −total cost left) of one job: its rounds of trials (configurations left /
    trials at once) × the models of a trial, at most the models left (a configuration resumed after some seeds
    trains only the others), × the cost of one model."""
    if item.left == 0:
        return (1, 0.0, 0.0)
    configs_left = math.ceil(item.left / seeds)
    rounds = math.ceil(configs_left / trials_per_job(item.job))
    return (0, -min(rounds * seeds, item.left) * item.cost.cpu_s, -item.cpu_s)


def longest_first(jobs: Sequence[Job], plan: SweepPlan) -> list[Job]:
    """``jobs`` in the order of their critical path, longest first (see the module docstring)."""
    items = {job_key(item.job): item for item in plan.jobs}
    seeds = len(plan.spec.seeds)
    ranked = sorted(range(len(jobs)), key=lambda i: (*_sort_key(items[job_key(jobs[i])], seeds), i))
    return [jobs[i] for i in ranked]


def start_order(groups: Sequence[GridGroup], jobs: Sequence[Job], plan: SweepPlan, slots: int) -> list[GridGroup | Job]:
    """The grid groups and the searched jobs in the order to start their Tuners: the longest critical path first
    (a group's: its longest trial, or its total cost over the slots it runs on, whichever is longer; a job's as in
    :func:`longest_first`); ties keep the groups first and the jobs in their order."""
    items = {job_key(item.job): item for item in plan.jobs}
    seeds = len(plan.spec.seeds)
    units: list[tuple[tuple[int, float, float], GridGroup | Job]] = [
        ((0, -max(max(g.costs), g.cpu_s / g.concurrency(slots)), -g.cpu_s), g) for g in groups
    ]
    units += [(_sort_key(items[job_key(job)], seeds), job) for job in jobs]
    ranked = sorted(range(len(units)), key=lambda i: (*units[i][0], i))
    return [units[i][1] for i in ranked]


def runs_whole_grid(job: Job) -> bool:
    """Whether ``job`` runs every configuration of its grid (then their order is free to choose)."""
    return job.sampler == "grid" and job.configs >= job.grid_size


def grid_costs(plan: SweepPlan, job: Job) -> GridCosts:
    """For each configuration of ``job``'s grid (its values in the order of the sorted hyperparameter names, as
    Optuna's grid sampler holds them): (the projected seconds of its models without stage 1, the values of the
    hyperparameters its stage-1 model uses (empty for a one-stage method), the seconds of that stage-1 model)."""
    item = next(i for i in plan.jobs if job_key(i.job) == job_key(job))
    method = get_method(job.method)
    names = sorted(job.space)
    used = method.stage1(TrainConfig(**plan.spec.training).lr_stage1).hparam_names() if method.two_stage else []
    per_batch = {
        batch: config_cost(plan.spec, job, item.rows, item.dims, plan.figures, plan.epochs, int(batch))
        for batch in job.space["batch_size"]
    }
    costs = {}
    for point in itertools.product(*(job.space[name] for name in names)):
        values = dict(zip(names, point, strict=True))
        cost = per_batch[values["batch_size"]]
        group = tuple(values[name] for name in names if name in used)
        costs[point] = (cost.cpu_s - cost.stage1_s, group, cost.stage1_s)
    return costs
