"""Whole grids run together: the jobs of a feature set and normalisation that run every configuration of their grid
share one Tuner, its trials costliest first.

A Tuner per job pays, for every job, a Tuner's start and a new trial worker (its own process, importing torch and
the features): 5 to 9 s on 2 cores, as long as a demo model's training, and the demo runs 20 one-trial jobs. A job
that runs its whole grid needs no searcher (every configuration runs whatever the results), so these jobs' trials
(one per configuration: :mod:`rdlr.sweep.trial`) go into one Tuner as a list of points, each a job's constants and
one configuration, in the order of their projected cost (:func:`rdlr.sweep.order.grid_costs`, the plan's cost
model). The group's trials reuse their workers (``reuse_actors``), and its slots start the next point as soon as
one ends, so the longest trials start first and the shortest end the sweep (the LPT rule of scheduling).

A group is not restored from Tune's saved state: each run lists the points that still miss rows (a point whose
seeds all have rows is left out; one with some has them reused by its trial) and starts a fresh Tuner; the state
of an earlier run is set aside (:func:`rdlr.sweep.recovery.set_aside`), never deleted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.results import config_id
from rdlr.spec.jobs import Job
from rdlr.sweep.order import grid_costs, runs_whole_grid
from rdlr.sweep.plan import SweepPlan
from rdlr.sweep.recovery import job_rows
from rdlr.sweep.trial import JOB_CONSTANTS, POINT_CONFIG, POINT_JOB


@dataclass(frozen=True)
class GridGroup:
    """Whole-grid jobs of one feature set and normalisation, run as one Tuner: ``points`` (``{POINT_JOB: job name,
    POINT_CONFIG: constants and hyperparameters}``) costliest first, ``costs`` their projected seconds."""

    features: str
    normalization: str
    jobs: tuple[Job, ...]
    points: tuple[dict[str, Any], ...]
    costs: tuple[float, ...]

    @property
    def name(self) -> str:
        """The group's Tune folder under ``<storage>/<spec_id>/tune`` (no job's name looks like it)."""
        suffix = "" if self.normalization == DEFAULT_NORMALIZATION else f"__norm-{self.normalization}"
        return f"grids__{self.features}{suffix}"

    def concurrency(self, slots: int) -> int:
        """Trials of the group at once: every slot, at most one per point."""
        return max(1, min(slots, len(self.points)))

    @property
    def cpu_s(self) -> float:
        return sum(self.costs)


def split_grid_jobs(
    jobs: Sequence[Job], plan: SweepPlan, rows: Iterable[Mapping[str, Any]]
) -> tuple[list[GridGroup], list[Job]]:
    """(one group per feature set and normalisation of the jobs that run their whole grid, the other jobs in their
    order). A group holds only the points that miss rows; a group with none is left out."""
    rows = list(rows)
    seeds = len(plan.spec.seeds)
    members: dict[tuple[str, str], list[Job]] = {}
    searched = []
    for job in jobs:
        if runs_whole_grid(job):
            members.setdefault((job.features, job.normalization), []).append(job)
        else:
            searched.append(job)
    groups = []
    for (features, normalization), grid_jobs in members.items():
        scored = [point for rank, job in enumerate(grid_jobs) for point in _points_left(job, rank, plan, rows, seeds)]
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        if scored:
            groups.append(
                GridGroup(
                    features,
                    normalization,
                    tuple(grid_jobs),
                    tuple(point for *_, point in scored),
                    tuple(cost for cost, *_ in scored),
                )
            )
    return groups, searched


def _points_left(
    job: Job, rank: int, plan: SweepPlan, rows: list[Mapping[str, Any]], seeds: int
) -> list[tuple[float, int, int, dict[str, Any]]]:
    """(projected seconds, job rank, grid index, point) of each configuration of ``job`` with seeds still to train:
    the seeds left × a model's cost, plus its stage-1 models for the first point, in grid order, of those sharing
    one (:func:`rdlr.sweep.order.grid_costs`)."""
    done = Counter(str(row["config_id"]) for row in job_rows(rows, job))
    costs = grid_costs(plan, job)
    names = sorted(job.space)
    constants = {key: getattr(job, key) for key in JOB_CONSTANTS}
    stage1_trained: set[tuple[Any, ...]] = set()
    points = []
    for index, values in enumerate(itertools.product(*(job.space[name] for name in names))):
        own, stage1_group, stage1_s = costs[values]
        hparams = dict(zip(names, values, strict=True))
        left = seeds - done[config_id(hparams)]
        if left <= 0:
            continue
        cost = left * own + (left * stage1_s if stage1_group not in stage1_trained else 0.0)
        stage1_trained.add(stage1_group)
        points.append((cost, rank, index, {POINT_JOB: job.name, POINT_CONFIG: {**constants, **hparams}}))
    return points
