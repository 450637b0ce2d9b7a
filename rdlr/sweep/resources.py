"""What one trial of a sweep asks Ray for, and how many trials and Tuners run at once.

The nodes planned for are those of :func:`rdlr.cluster.capacity.planning_nodes`: every node an autoscaler may
launch (so trials ask for the spec's resources and GPU nodes start on demand), else the nodes alive now (a fixed
cluster, where a request no node can hold is adapted instead of waiting forever).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rdlr.spec.jobs import Job
from rdlr.spec.sections import ResourcesSpec
from rdlr.sweep.files import SweepError


@dataclass(frozen=True)
class TrialResources:
    """What one trial asks Ray for, and how many such trials fit the cluster at once."""

    cpus: float
    gpus: float
    slots: int
    notes: tuple[str, ...] = ()
    custom: Mapping[str, float] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"

    def as_tune(self) -> dict[str, float]:
        return {"cpu": self.cpus, "gpu": self.gpus, **self.custom}


def plan_resources(spec: ResourcesSpec, nodes: list[Mapping[str, float]], adapt: bool = True) -> TrialResources:
    """Trial resources from the spec, adapted to the nodes' resources (``{"CPU": .., "GPU": ..}`` per node).

    A trial never asks for more than one node has (it would stay PENDING forever): no GPU where no node has one,
    at most the largest node's CPUs and GPUs. ``adapt=False`` keeps the spec's request as written. Custom
    resources (``resources.custom``) are never adapted: one that no node has is an error. ``slots`` counts the
    trials that fit at once on the nodes (at least 1).
    """
    custom = {name: float(amount) for name, amount in spec.custom.items()}
    for name, amount in custom.items():
        most = max((float(n.get(name, 0.0)) for n in nodes), default=0.0)
        if adapt and most < amount:
            raise SweepError(
                f"resources.custom.{name}: each trial asks for {amount:g}, but no node of the cluster "
                f"has more than {most:g}; trials would wait forever (start nodes with that resource, "
                "or remove it from the spec)"
            )
    cpus, gpus, notes = float(spec.cpus_per_trial), float(spec.gpus_per_trial), []
    max_cpu = max((float(n.get("CPU", 0.0)) for n in nodes), default=0.0)
    max_gpu = max((float(n.get("GPU", 0.0)) for n in nodes), default=0.0)
    if adapt:
        if max_cpu > 0 and cpus > max_cpu:
            notes.append(f"cpus_per_trial {cpus:g} > the largest node's {max_cpu:g} CPUs: using {max_cpu:g}")
            cpus = max_cpu
        if gpus > 0 and max_gpu <= 0:
            notes.append("no GPU in the cluster: trials train on CPU")
            gpus = 0.0
        elif gpus > max_gpu:
            gpus = max_gpu if max_gpu < 1 else float(math.floor(max_gpu))
            notes.append(
                f"gpus_per_trial {spec.gpus_per_trial:g} > the largest node's {max_gpu:g} GPUs: using {gpus:g}"
            )
    return TrialResources(cpus, gpus, trial_slots(nodes, cpus, gpus, custom), tuple(notes), custom)


def trial_slots(
    nodes: list[Mapping[str, float]], cpus: float, gpus: float, custom: Mapping[str, float] | None = None
) -> int:
    """Trials of ``cpus`` CPUs, ``gpus`` GPUs and ``custom`` resources that fit on the nodes at once (at least 1)."""
    wanted = {"CPU": cpus, "GPU": gpus, **dict(custom or {})}
    total = 0
    for node in nodes:
        fits = min(
            (math.floor(float(node.get(name, 0.0)) / amount + 1e-9) for name, amount in wanted.items() if amount > 0),
            default=10**6,
        )
        total += max(0, fits)
    return max(1, total)


def trials_per_job(job: Job) -> int:
    """Concurrent trials of one Tuner: two configurations (each trains every seed), so Optuna learns between
    suggestions."""
    return max(1, min(job.configs, 2))


def tuners_at_once(slots: int, concurrency: Sequence[int], fixed: int = 0) -> int:
    """How many Tuners to run together, of Tuners running up to ``concurrency`` trials each (the running ones first,
    then the waiting ones in their order): ``fixed`` when set, else enough to fill every slot plus one in reserve,
    whose first trial is waiting when a slot frees."""
    if fixed > 0:
        return max(1, min(fixed, len(concurrency)))
    busy = 0
    for count, trials in enumerate(concurrency, start=1):
        if busy >= slots:
            return count
        busy += trials
    return max(1, len(concurrency))
