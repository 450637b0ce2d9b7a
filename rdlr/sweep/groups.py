"""Whole grids run together: the jobs of a feature set and normalisation that run every configuration of their grid
share one Tuner, its trials costliest first.

A Tuner per job pays, for every job, a Tuner's start and a new trial worker (its own process, importing torch and
the features): 5 to 9 s on 2 cores, as long as a demo model's training, and the demo runs 20 one-trial jobs. A job
that runs its whole grid needs no searcher (every configuration runs whatever the results), so these jobs' trials
(one per configuration: :mod:`rdlr.sweep.trial`) go into one Tuner as a list of points, each a job's constants and
one configuration, in the order of their projected cost (:func:`rdlr.sweep.order.grid_costs`, the plan's cost
model). The group's trials reuse their workers (``reuse_actors``), and its slots start the next point as soon as
one ends, so the longest trials start first and the shortest end the sweep (the LPT rule of scheduling).

The last trials a group starts bound how unevenly its slots finish (a slot idles while the others run them). A
configuration's seeds in one trial (issue 19) made these 7 to 9 s on the small EmoDB spec, a tenth of its sweep;
so the cheapest points are split into one trial per seed, until the group ends with
:data:`TAIL_TRIALS_PER_SLOT` single-seed trials per slot. A reused worker starts a trial in about 0.1 s, so the
split costs little; searched jobs keep every seed in one trial (Optuna is told their mean).

A group is not restored from Tune's saved state: each run lists the points that still miss rows, each with the
seeds it misses (a point whose seeds all have rows is left out), and starts a fresh Tuner; the state
of an earlier run is set aside (:func:`rdlr.sweep.recovery.set_aside`), never deleted.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.results import config_id
from rdlr.spec.jobs import Job
from rdlr.sweep.order import grid_costs, runs_whole_grid
from rdlr.sweep.plan import SweepPlan
from rdlr.sweep.recovery import job_rows
from rdlr.sweep.trial import POINT_CONFIG, POINT_JOB, POINT_SEEDS, job_constants

TAIL_TRIALS_PER_SLOT = 2  # single-seed trials that end a grid group, per slot
Scored = tuple[float, int, int, dict[str, Any], tuple[int, ...]]  # (seconds, job rank, grid index, point, seeds)


@dataclass(frozen=True)
class GridGroup:
    """Whole-grid jobs of one feature set and normalisation, run as one Tuner: ``points`` (``{POINT_JOB: job name,
    POINT_CONFIG: constants and hyperparameters, POINT_SEEDS: the seeds it trains}``) costliest first, ``costs``
    their projected seconds."""

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

    @property
    def models(self) -> int:
        """Models the group's trials train: a model per seed of each point."""
        return sum(len(point[POINT_SEEDS]) for point in self.points)

    @property
    def single_seed_trials(self) -> int:
        """Trials that end the group training one seed each (:func:`_split_tail`)."""
        return sum(1 for point in self.points if len(point[POINT_SEEDS]) == 1)


def split_grid_jobs(
    jobs: Sequence[Job], plan: SweepPlan, rows: Iterable[Mapping[str, Any]], slots: int
) -> tuple[list[GridGroup], list[Job]]:
    """(one group per feature set and normalisation of the jobs that run their whole grid, the other jobs in their
    order). A group holds only the points that miss rows, its last ones split by seed for ``slots`` trial slots
    (:func:`_split_tail`); a group with none is left out."""
    rows = list(rows)
    members: dict[tuple[str, str], list[Job]] = {}
    searched = []
    for job in jobs:
        if runs_whole_grid(job):
            members.setdefault((job.features, job.normalization), []).append(job)
        else:
            searched.append(job)
    groups = []
    for (features, normalization), grid_jobs in members.items():
        scored = [point for rank, job in enumerate(grid_jobs) for point in _points_left(job, rank, plan, rows)]
        scored = _split_tail(sorted(scored, key=_costliest_first), slots)
        if scored:
            groups.append(
                GridGroup(
                    features,
                    normalization,
                    tuple(grid_jobs),
                    tuple(point for _, _, _, point, _ in scored),
                    tuple(cost for cost, *_ in scored),
                )
            )
    return groups, searched


def _costliest_first(item: Scored) -> tuple[float, int, int, tuple[int, ...]]:
    cost, rank, index, _, seeds = item
    return -cost, rank, index, seeds


def _split_tail(scored: list[Scored], slots: int) -> list[Scored]:
    """``scored`` (costliest first) with its cheapest points split into one trial per seed left, until
    :data:`TAIL_TRIALS_PER_SLOT` × ``slots`` single-seed trials end it; each costs its share of its point."""
    whole, tail = list(scored), []
    while whole and len(tail) < TAIL_TRIALS_PER_SLOT * slots:
        cost, rank, index, point, seeds = whole.pop()
        tail += [(cost / len(seeds), rank, index, {**point, POINT_SEEDS: [seed]}, (seed,)) for seed in seeds]
    return whole + sorted(tail, key=_costliest_first)


def _points_left(job: Job, rank: int, plan: SweepPlan, rows: list[Mapping[str, Any]]) -> list[Scored]:
    """(projected seconds, job rank, grid index, point, seeds left) of each configuration of ``job`` with seeds
    still to train: the seeds left × a model's cost, plus its stage-1 models for the first point, in grid order, of
    those sharing one (:func:`rdlr.sweep.order.grid_costs`)."""
    done: dict[str, set[int]] = {}
    for row in job_rows(rows, job):
        done.setdefault(str(row["config_id"]), set()).add(int(row["seed"]))
    costs = grid_costs(plan, job)
    names = sorted(job.space)
    constants = job_constants(job)
    stage1_trained: set[tuple[Any, ...]] = set()
    points = []
    for index, values in enumerate(itertools.product(*(job.space[name] for name in names))):
        own, stage1_group, stage1_s = costs[values]
        hparams = dict(zip(names, values, strict=True))
        left = tuple(seed for seed in plan.spec.seeds if seed not in done.get(config_id(hparams), set()))
        if not left:
            continue
        cost = len(left) * (own + (stage1_s if stage1_group not in stage1_trained else 0.0))
        stage1_trained.add(stage1_group)
        point = {POINT_JOB: job.name, POINT_CONFIG: {**constants, **hparams}, POINT_SEEDS: list(left)}
        points.append((cost, rank, index, point, left))
    return points
